"""Ground truth over HTTP (``/_fake/truth/...``) and in process (``FakePostpress.truth``)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from postpress_async.testing import Dataset, FakePostpress, FaultKind, Faults
from postpress_async.testing.__main__ import build_parser

from ._helpers import get_json, walk
from .test_pagination import chat_filter_cases, message_filter_cases


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def truth_of(
    http: aiohttp.ClientSession, server: FakePostpress, resource: str, **params: str
) -> dict[str, Any]:
    status, body = await get_json(http, f"{server.truth_url}/{resource}", params)
    assert status == 200, body
    assert body["object"] == "Truth"
    assert body["resource"] == resource
    assert body["count"] == len(body["ids"])
    return body  # type: ignore[no-any-return]


def chat_kwargs(params: dict[str, str]) -> dict[str, Any]:
    """A chat filter's query values as Python values for ``FakePostpress.truth``."""
    kwargs: dict[str, Any] = dict(params)
    if "unread" in kwargs:
        kwargs["unread"] = kwargs["unread"] == "true"
    return kwargs


async def test_the_truth_is_what_a_walk_returns_for_every_filter(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    server = postpress_server
    url = server.url
    cases = [("messages", f) for f in message_filter_cases(server.dataset)]
    cases += [("chats", f) for f in chat_filter_cases(server.dataset)]
    cases += [("accounts", {})]
    nonempty = 0
    for resource, params in cases:
        items, _ = await walk(http, f"{url}/{resource}", {**params, "limit": "250"})
        body = await truth_of(http, server, resource, **params)
        kwargs = chat_kwargs(params) if resource == "chats" else params
        assert body["ids"] == ids(items) == server.truth(resource, **kwargs), (resource, params)
        assert body["repaired"] == body["nul"] == body["unreadable"] == []
        nonempty += bool(items)
    assert nonempty > 20


async def test_the_truth_takes_datetimes_and_id_lists_in_process(
    postpress_server: FakePostpress,
) -> None:
    ds = postpress_server.dataset
    after = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(
        milliseconds=ds.message_timestamp_ms(300)
    )
    assert postpress_server.truth("messages", after=after) == ds.expected_message_ids(after=after)
    assert 0 < len(postpress_server.truth("messages", after=after)) <= 300
    accounts = [ds.chat_row(0).account_id, ds.chat_row(1).account_id]
    by_list = postpress_server.truth("chats", account_id=accounts)
    assert by_list == postpress_server.truth("chats", account_id=",".join(accounts))
    assert by_list
    with pytest.raises(ValueError, match="take no filter unread"):
        postpress_server.truth("messages", unread=True)
    with pytest.raises(ValueError, match="take no filter"):
        postpress_server.truth("accounts", after=after)
    with pytest.raises(ValueError, match="unknown resource"):
        postpress_server.truth("attendees")


async def test_live_messages_count_once_listed_and_late_ones_not_yet() -> None:
    async with FakePostpress(dataset=Dataset(seed=1, messages=40)) as server:
        on_time = server.add_messages(3)
        late = server.add_messages(2, listed_after=3600.0)
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
            body = await truth_of(http, server, "messages")
            items, _ = await walk(http, f"{server.url}/messages", {"limit": "9"})
    assert body["ids"] == ids(items) == server.truth("messages")
    assert body["ids"][:3] == sorted(on_time)
    assert not set(late) & set(body["ids"])
    assert body["count"] == 43
    assert set(late) <= set(server.dataset.expected_message_ids())  # the dataset has them


@pytest.mark.parametrize(
    ("headers", "error_type"),
    [
        pytest.param({}, "errors/missing_credentials", id="missing"),
        pytest.param({"X-API-KEY": "pp_wrong"}, "errors/invalid_credentials", id="wrong"),
    ],
)
async def test_the_truth_needs_the_api_key(
    postpress_server: FakePostpress, headers: dict[str, str], error_type: str
) -> None:
    async with aiohttp.ClientSession(headers=headers) as session:
        status, body = await get_json(session, f"{postpress_server.truth_url}/messages")
    assert status == 401
    assert body["type"] == error_type


@pytest.mark.parametrize(
    ("path", "params", "status", "error_type"),
    [
        ("messages", {"after": "yesterday"}, 400, "errors/invalid_parameters"),
        ("messages", {"account_id": ""}, 400, "errors/invalid_parameters"),
        ("messages", {"account_id": "acc_nope"}, 404, "errors/resource_not_found"),
        ("messages", {"sender_id": "nobody"}, 404, "errors/resource_not_found"),
        ("chats", {"unread": "yes"}, 400, "errors/invalid_parameters"),
        ("chats", {"account_type": "MAIL"}, 400, "errors/invalid_parameters"),
        ("chats", {"account_id": ","}, 400, "errors/invalid_parameters"),
        ("chats", {"before": "2026-02-30T00:00:00Z"}, 400, "errors/invalid_parameters"),
        ("attendees", {}, 404, "errors/resource_not_found"),
    ],
)
async def test_the_truth_validates_filters_as_the_listing_does(
    postpress_server: FakePostpress,
    http: aiohttp.ClientSession,
    path: str,
    params: dict[str, str],
    status: int,
    error_type: str,
) -> None:
    got, body = await get_json(http, f"{postpress_server.truth_url}/{path}", params)
    assert (got, body["type"]) == (status, error_type)


@pytest.mark.parametrize(
    ("resource", "filters", "error", "message"),
    [
        ("messages", {"account_id": "acc_nope"}, ValueError, "no account 'acc_nope'.*404"),
        ("messages", {"sender_id": "nobody"}, ValueError, "no sender 'nobody'.*404"),
        ("messages", {"before": 1_700_000_000}, TypeError, "ISO string or an aware datetime"),
        ("chats", {"unread": "true"}, TypeError, "unread must be a bool"),
        ("chats", {"account_type": "whatsapp"}, ValueError, "account_type must be one of"),
    ],
)
def test_the_truth_in_process_refuses_what_the_listing_refuses(
    resource: str, filters: dict[str, Any], error: type[Exception], message: str
) -> None:
    """In process, these were an empty truth (an unknown account or sender, which the
    listing answers with a 404; ``unread="true"``; a lower-case type, a 400) or an
    AttributeError (an int for a time): a test compared its walk with nothing."""
    server = FakePostpress(dataset=Dataset(messages=50))
    with pytest.raises(error, match=message):
        server.truth(resource, **filters)
    with pytest.raises(error, match=message):
        getattr(server.dataset, f"expected_{resource[:-1]}_ids")(**filters)


async def test_limit_cursor_and_unknown_parameters_are_ignored(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    body = await truth_of(
        http, postpress_server, "messages", limit="3", cursor="junk", whatever="1"
    )
    assert body["count"] == postpress_server.dataset.message_count


async def test_the_truth_is_never_delayed_faulted_or_counted() -> None:
    faults = Faults(rates={FaultKind.SERVICE_UNAVAILABLE: 1.0}, latency=30.0)
    async with FakePostpress(dataset=Dataset(seed=2, messages=50), faults=faults) as server:
        server.inject("messages.list", [FaultKind.PROVIDER_ERROR])
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
            for resource in ("messages", "chats", "accounts"):
                # a 30 s latency would outlast the test's deadline: the truth has none
                body = await asyncio.wait_for(truth_of(http, server, resource), timeout=20)
                assert body["count"] > 0
        assert server.pending_faults("messages.list") == 1
        assert server.stats.requests == 0
        assert not server.stats.faults


async def test_the_truth_is_not_served_under_the_api_prefixes(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    for prefix in ("/api/v1", "/v1"):
        status, _ = await get_json(http, f"{postpress_server.root_url}{prefix}/_fake/truth/chats")
        assert status == 404


async def test_bad_records_are_sorted_out_and_match_the_served_items() -> None:
    dataset = Dataset(seed=5, chats=30, messages=1000, bad_records=True)
    records = {record.index: record for record in dataset.bad_messages()}
    async with FakePostpress(dataset=dataset) as server:
        account = dataset.message_row(500).account_id
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
            for params in ({}, {"account_id": account}):
                body = await truth_of(http, server, "messages", **params)
                assert body == server.truth_report("messages", **params)
                items: list[Any] = []
                query = {**params, "limit": "100"}
                while True:  # the stdlib's json: pages hold lone surrogates
                    async with http.get(f"{server.url}/messages", params=query) as response:
                        page = json.loads(await response.read())
                    items += page["items"]
                    if page["cursor"] is None:
                        break
                    query = {**params, "limit": "100", "cursor": page["cursor"]}
                unreadable = {entry["position"]: entry for entry in body["unreadable"]}
                readable = [item for n, item in enumerate(items) if n not in unreadable]
                assert body["ids"] == [item["id"] for item in readable]
                for position, entry in unreadable.items():
                    record = records[entry["index"]]
                    assert entry["id"] == record.id
                    assert entry["kind"] == record.kind
                    assert not record.readable
                    assert entry["raw"].encode() == dataset.message_json(record.index)
                    assert json.loads(entry["raw"]) == items[position]
                listed = {dataset.message_id(i) for i in records} & set(
                    dataset.expected_message_ids(**params)
                )
                assert {e["id"] for e in body["unreadable"]} | set(body["ids"]) >= listed
                if not params:
                    assert [e["kind"] for e in body["unreadable"]] == [
                        "null_item",
                        "string_item",
                        "timestamp_number",
                        "id_number",
                    ]
                    assert [e["position"] for e in body["unreadable"]] == [499, 500, 875, 877]
                    assert body["count"] == 996
                    assert body["repaired"] == [dataset.message_id(125), dataset.message_id(879)]
                    assert body["nul"] == [dataset.message_id(127)]
                    texts = {item["id"]: item["text"] for item in readable}
                    assert texts[dataset.message_id(125)] == "Party time \ud83d"
                    assert texts[dataset.message_id(127)] == "before\x00after"


def test_the_command_line_help_documents_the_truth() -> None:
    text = build_parser().format_help()
    assert "/_fake/truth/{messages|chats|accounts}" in text
    assert '"unreadable"' in text


@pytest.fixture
def standalone_bad() -> Iterator[str]:
    """The standalone server with bad records and a skewed clock; yields its root URL."""
    # Port 0: the server picks a free one and names it. A port probed free here could be
    # taken by another process before the server (a second later) binds it.
    command = [sys.executable, "-m", "postpress_async.testing", "--port", "0"]
    command += ["--messages", "300", "--chats", "12", "--seed", "4", "--api-key", "pp_cli"]
    command += ["--bad-records", "--clock-skew", "-120"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            yield line.split(" on ")[1].split(" ")[0].removesuffix("/api/v1")
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.slow
async def test_the_truth_of_a_server_in_another_process(standalone_bad: str) -> None:
    expected = Dataset(seed=4, chats=12, messages=300, bad_records=True)
    async with aiohttp.ClientSession(headers={"X-API-KEY": "pp_cli"}) as http:
        status, body = await get_json(http, f"{standalone_bad}/_fake/truth/messages")
    assert status == 200
    unreadable = {r.id for r in expected.bad_messages() if not r.readable}
    assert body["ids"] == [i for i in expected.expected_message_ids() if i not in unreadable]
    assert [e["id"] for e in body["unreadable"]] == [
        r.id for r in expected.bad_messages() if not r.readable
    ]
