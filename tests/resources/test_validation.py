"""What never reaches the wire: a hostile id stays one path segment, a bad parameter is refused
before any request, for every resource.
"""

from __future__ import annotations

import inspect
import json
from datetime import datetime, timezone

import pytest
from helpers import RecordingTransport, client_with, empty_list, fixture_bytes, path_of, query_of

from postpress_async import AsyncPostpress, InvalidParameterError
from postpress_async.transports import Request, Response

HOSTILE_IDS = [
    pytest.param("../accounts", "..%2Faccounts", id="dot-dot-slash"),
    pytest.param("a/b?c#d", "a%2Fb%3Fc%23d", id="slash-query-fragment"),
    pytest.param("urn:li:msg:2=x/y", "urn%3Ali%3Amsg%3A2%3Dx%2Fy", id="provider-id"),
    pytest.param("x?limit=1&cursor=2", "x%3Flimit%3D1%26cursor%3D2", id="smuggled-query"),
]


@pytest.mark.parametrize(("raw", "encoded"), HOSTILE_IDS)
async def test_hostile_ids_never_change_the_path_or_the_query(raw: str, encoded: str) -> None:
    transport = RecordingTransport(
        lambda r: Response(status=200, headers={}, content=fixture_bytes("message_retrieve.json"))
    )
    async with client_with(transport) as client:
        await client.messages.retrieve(raw)
        await client.chats.retrieve(raw)
    message_request, chat_request = transport.requests
    assert path_of(message_request) == f"/api/v1/messages/{encoded}"
    assert path_of(chat_request) == f"/api/v1/chats/{encoded}"
    assert query_of(message_request) == {}
    assert query_of(chat_request) == {}


BAD_CALLS = [
    pytest.param(lambda c: c.accounts.list(limit=0), "limit", id="accounts-limit-0"),
    pytest.param(lambda c: c.accounts.list(limit=251), "limit", id="accounts-limit-251"),
    pytest.param(lambda c: c.chats.list(limit=1000), "limit", id="chats-limit-1000"),
    pytest.param(lambda c: c.messages.list(limit=-5), "limit", id="messages-limit-negative"),
    pytest.param(
        lambda c: c.messages.list(after=datetime(2026, 1, 1)), "after", id="messages-naive-after"
    ),
    pytest.param(
        lambda c: c.chats.list(before=datetime(2026, 1, 1)), "before", id="chats-naive-before"
    ),
    pytest.param(lambda c: c.chats.list(before="last week"), "before", id="chats-bad-iso"),
    pytest.param(lambda c: c.chats.list(account_type="SIGNAL"), "account_type", id="bad-provider"),
    pytest.param(lambda c: c.chats.list(unread="yes"), "unread", id="unread-str"),
    pytest.param(lambda c: c.chats.list(account_id=[]), "account_id", id="no-account-ids"),
    pytest.param(lambda c: c.messages.list(sender_id=""), "sender_id", id="empty-sender"),
    pytest.param(lambda c: c.messages.list(prefetch=-1), "prefetch", id="prefetch-negative"),
    pytest.param(lambda c: c.messages.list(max_items=-1), "max_items", id="max-items-negative"),
    pytest.param(lambda c: c.messages.list(cursor=""), "cursor", id="messages-empty-cursor"),
    pytest.param(lambda c: c.chats.list(cursor=""), "cursor", id="chats-empty-cursor"),
    pytest.param(lambda c: c.accounts.list(cursor=""), "cursor", id="accounts-empty-cursor"),
    pytest.param(lambda c: c.messages.retrieve(""), "message_id", id="empty-message-id"),
    pytest.param(lambda c: c.messages.retrieve(".."), "message_id", id="dot-dot-message-id"),
    pytest.param(lambda c: c.chats.retrieve("."), "chat_id", id="dot-chat-id"),
    pytest.param(lambda c: c.chats.retrieve("c", account_id=""), "account_id", id="empty-acc"),
    pytest.param(lambda c: c.messages.rows(columns="text"), "columns", id="rows-one-str"),
    pytest.param(lambda c: c.messages.rows(columns=7), "columns", id="rows-columns-int"),
    pytest.param(lambda c: c.messages.rows(columns=["txt"]), "columns", id="rows-unknown-col"),
    pytest.param(
        lambda c: c.messages.rows(after=datetime(2026, 1, 1)), "after", id="rows-naive-after"
    ),
    pytest.param(lambda c: c.chats.rows(before="last week"), "before", id="rows-bad-iso"),
]


async def invoke(call: object, client: AsyncPostpress) -> None:
    result = call(client)  # type: ignore[operator]  # list(...) raises right here
    if inspect.isawaitable(result):  # retrieve(...) raises when awaited
        await result


@pytest.mark.parametrize(("call", "param"), BAD_CALLS)
async def test_bad_parameters_are_refused_before_any_request(call: object, param: str) -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        with pytest.raises(InvalidParameterError) as info:
            await invoke(call, client)
    assert info.value.param == param
    assert transport.requests == []


async def test_rows_take_a_list_of_columns_and_iso_strings_as_list_does() -> None:
    page = {**json.loads(fixture_bytes("message_list.json")), "cursor": None}

    def listing(request: Request) -> Response:
        return Response(status=200, headers={}, content=json.dumps(page).encode())

    transport = RecordingTransport(listing)
    async with client_with(transport) as client:
        as_list = [row async for row in client.messages.rows(columns=["text", "timestamp"])]
        as_tuple = [row async for row in client.messages.rows(columns=("timestamp", "text"))]
        async for _ in client.messages.rows(after="2026-05-01T00:00:00+02:00", max_items=1):
            break
    assert as_list and as_list == as_tuple
    assert all(len(row) == 4 for row in as_list)  # id, timestamp, text, data
    assert query_of(transport.requests[-1])["after"] == "2026-04-30T22:00:00.000Z"


async def test_before_between_milliseconds_keeps_the_millisecond_before_it() -> None:
    """A bound between two milliseconds: ``before`` asks the next one, ``after`` the one
    below, so every item strictly inside the asked range is listed, none dropped."""
    transport = RecordingTransport(empty_list)
    moment = datetime(2026, 5, 1, 10, 0, 11, 123456, tzinfo=timezone.utc)
    async with client_with(transport) as client:
        await client.messages.list(after=moment, before=moment)
        await client.chats.list(before=moment)
        async for _ in client.messages.rows(before=moment):
            pass
    sent = [query_of(request) for request in transport.requests]
    assert sent[0]["after"] == "2026-05-01T10:00:11.123Z"
    assert [query["before"] for query in sent] == ["2026-05-01T10:00:11.124Z"] * 3


BOUNDS = [
    pytest.param(
        datetime(2026, 5, 17, 9, 42, 11, 123456, tzinfo=timezone.utc),
        "2026-01-01T00:00:00.0009Z",
        id="between-milliseconds",
    ),
    pytest.param("2026-05-17T11:42:11+02:00", "2026-01-01T01:00:00+01:00", id="offsets"),
    pytest.param("2026-05-17T09:42:11.5", None, id="no-zone-no-after"),
]


@pytest.mark.parametrize("resource", ["messages", "chats"])
@pytest.mark.parametrize(("before", "after"), BOUNDS)
async def test_a_typed_listing_and_its_rows_send_the_same_time_bounds(
    resource: str, before: object, after: object
) -> None:
    # One reading of before/after for both paths: a strict before rounded up, after down.
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        lister = getattr(client, resource)
        await lister.list(before=before, after=after)
        async for _ in lister.rows(before=before, after=after):
            pass
    typed, rows = (query_of(request) for request in transport.requests)
    assert typed == rows
    assert typed["before"].endswith("Z")
    assert ("after" in typed) == (after is not None)
