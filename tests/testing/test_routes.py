"""Every endpoint, under both prefixes: shapes, auth, ids (parameter errors: the table in
``test_reference_refusals``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from postpress_async.testing import CHAT_ACCOUNT_TYPES, Dataset, FakePostpress

from ._helpers import get_json

ENVELOPE_KEYS = {"title", "detail", "instance", "type", "status"}


def path_url(server: FakePostpress, prefix: str, *segments: str) -> URL:
    """A URL whose path segments are percent-encoded exactly once."""
    path = prefix + "".join("/" + quote(segment, safe="") for segment in segments)
    return URL(server.root_url + path, encoded=True)


def assert_error(status: int, body: Any, expected_status: int, expected_type: str) -> None:
    assert status == expected_status
    assert set(body) == ENVELOPE_KEYS
    assert body["type"] == expected_type
    assert body["status"] == expected_status


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
async def test_list_routes_return_documented_list_objects(
    postpress_server: FakePostpress, http: aiohttp.ClientSession, prefix: str
) -> None:
    """Each list route answers its ``...List`` object with ``object`` on every item."""
    for path, list_object, item_object in [
        ("accounts", "AccountList", "Account"),
        ("chats", "ChatList", "Chat"),
        ("messages", "MessageList", "Message"),
    ]:
        status, body = await get_json(http, str(path_url(postpress_server, prefix, path)))
        assert status == 200
        assert set(body) == {"object", "items", "cursor"}
        assert body["object"] == list_object
        assert body["items"]
        assert {item["object"] for item in body["items"]} == {item_object}


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
async def test_retrieve_routes_return_the_listed_objects(
    postpress_server: FakePostpress, http: aiohttp.ClientSession, prefix: str
) -> None:
    """A message retrieved equals the listed one; a chat adds only ``lastMessage``."""
    _, messages = await get_json(http, f"{postpress_server.url}/messages", {"limit": "3"})
    for listed in messages["items"]:
        status, got = await get_json(
            http, str(path_url(postpress_server, prefix, "messages", listed["id"]))
        )
        assert status == 200
        assert got == listed
    _, chats = await get_json(http, f"{postpress_server.url}/chats", {"limit": "250"})
    for listed in chats["items"]:
        assert "lastMessage" not in listed
        status, got = await get_json(
            http, str(path_url(postpress_server, prefix, "chats", listed["id"]))
        )
        assert status == 200
        last = got.pop("lastMessage")
        assert got == listed
        if listed["timestamp"] is None:
            assert last is None
        else:
            assert last["object"] == "Message"
            assert last["chat_id"] == listed["id"]
            assert last["timestamp"] == listed["timestamp"]


async def test_default_page_size_is_100(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """Without ``limit`` a page holds 100 items."""
    _, body = await get_json(http, f"{postpress_server.url}/messages")
    assert len(body["items"]) == 100
    assert isinstance(body["cursor"], str)


@pytest.mark.parametrize(
    ("headers", "error_type"),
    [
        pytest.param({}, "errors/missing_credentials", id="missing"),
        pytest.param({"X-API-KEY": ""}, "errors/missing_credentials", id="empty"),
        pytest.param({"X-API-KEY": "pp_wrong"}, "errors/invalid_credentials", id="wrong"),
    ],
)
async def test_bad_credentials_are_401(
    postpress_server: FakePostpress, headers: dict[str, str], error_type: str
) -> None:
    """Every route checks ``X-API-KEY``."""
    async with aiohttp.ClientSession(headers=headers) as session:
        for path in ("accounts", "chats", "messages", "messages/x", "chats/x"):
            status, body = await get_json(session, f"{postpress_server.url}/{path}")
            assert_error(status, body, 401, error_type)


async def test_header_name_is_case_insensitive(postpress_server: FakePostpress) -> None:
    """HTTP header names are case-insensitive, so ``x-api-key`` works too."""
    async with aiohttp.ClientSession(headers={"x-api-key": postpress_server.api_key}) as session:
        status, _ = await get_json(session, f"{postpress_server.url}/accounts")
    assert status == 200


async def test_valid_parameter_spellings_are_accepted(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """Bounds, a ``+00:00`` offset and unknown parameters are all fine."""
    url = postpress_server.url
    for path, params in [
        ("messages", {"limit": "250"}),
        ("messages", {"limit": "1"}),
        ("messages", {"before": "2026-05-17T09:00:00+00:00", "after": "2020-01-01T00:00:00Z"}),
        ("chats", {"unread": "true", "account_type": "LINKEDIN"}),
        ("accounts", {"whatever": "1"}),
    ]:
        status, body = await get_json(http, f"{url}/{path}", params)
        assert status == 200, body


async def test_unknown_ids_are_404(
    postpress_server: FakePostpress, http: aiohttp.ClientSession, postpress_dataset: Dataset
) -> None:
    """Unknown message, chat, account and sender ids are ``errors/resource_not_found``."""
    url = postpress_server.url
    unknown_message = postpress_dataset.message_id(0)[:-1] + "Z"
    for target, params in [
        (f"{url}/messages/{unknown_message}", None),
        (f"{url}/messages/msg_nope", None),
        (f"{url}/chats/chat_nope", None),
        (f"{url}/messages", {"account_id": "acc_nope"}),
        (f"{url}/messages", {"sender_id": "nobody"}),
        (f"{url}/nothing/here", None),
    ]:
        status, body = await get_json(http, target, params)
        assert_error(status, body, 404, "errors/resource_not_found")


async def test_unknown_account_ids_in_chat_filter_match_nothing(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """``/chats?account_id=`` with unknown ids is an empty list, not an error."""
    status, body = await get_json(
        http, f"{postpress_server.url}/chats", {"account_id": "acc_x,acc_y"}
    )
    assert status == 200
    assert body == {"object": "ChatList", "items": [], "cursor": None}


async def test_provider_chat_id_resolves_only_with_account_id(
    postpress_server: FakePostpress, http: aiohttp.ClientSession, postpress_dataset: Dataset
) -> None:
    """A provider chat id needs its ``account_id``; a postpress id with another account is 404."""
    url = postpress_server.url
    row = postpress_dataset.chat_row(3)
    target = str(path_url(postpress_server, "/api/v1", "chats", row.provider_id))
    status, body = await get_json(http, target)
    assert_error(status, body, 404, "errors/resource_not_found")
    status, body = await get_json(http, target, {"account_id": row.account_id})
    assert status == 200
    assert body["id"] == row.id
    assert body["provider_id"] == row.provider_id
    status, body = await get_json(http, f"{url}/chats/{row.id}", {"account_id": row.account_id})
    assert status == 200
    other = next(
        postpress_dataset.account_id(a)
        for a in range(postpress_dataset.account_count)
        if postpress_dataset.account_id(a) != row.account_id
    )
    status, body = await get_json(http, f"{url}/chats/{row.id}", {"account_id": other})
    assert_error(status, body, 404, "errors/resource_not_found")
    status, body = await get_json(http, target, {"account_id": other})
    assert_error(status, body, 404, "errors/resource_not_found")


async def test_hostile_ids_round_trip(hostile_dataset: Dataset) -> None:
    """Ids with ``/ ? # = : % & +``, spaces and non-ASCII resolve when percent-encoded."""
    ds = hostile_dataset
    hostile_messages = [m for m in map(ds.message_id, range(ds.message_count)) if "/" in m]
    hostile_chats = [ds.chat_row(c) for c in range(ds.chat_count) if "?" in ds.chat_id(c)]
    hostile_providers = [
        ds.chat_row(c) for c in range(ds.chat_count) if "#" in ds.chat_row(c).provider_id
    ]
    assert hostile_messages
    assert hostile_chats
    assert hostile_providers
    async with (
        FakePostpress(dataset=ds) as server,
        aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http,
    ):
        for prefix in ("/api/v1", "/v1"):
            for message_id in hostile_messages[:5]:
                target = path_url(server, prefix, "messages", message_id)
                status, body = await get_json(http, str(target))
                assert status == 200
                assert body["id"] == message_id
            for row in hostile_chats[:3]:
                status, body = await get_json(http, str(path_url(server, prefix, "chats", row.id)))
                assert status == 200
                assert body["id"] == row.id
            for row in hostile_providers[:3]:
                target = path_url(server, prefix, "chats", row.provider_id)
                status, body = await get_json(http, str(target), {"account_id": row.account_id})
                assert status == 200
                assert body["id"] == row.id
        hostile_account = next(
            ds.account_id(a)
            for a in range(ds.account_count)
            if "&" in ds.account_id(a) and ds.account_type(a) in CHAT_ACCOUNT_TYPES
        )
        params = {"account_id": hostile_account}
        status, body = await get_json(http, f"{server.url}/messages", params)
        assert status == 200
        assert body["items"]
        assert all(item["account_id"] == hostile_account for item in body["items"])


@pytest.mark.parametrize(
    ("host", "root"),
    [
        pytest.param("127.0.0.1", "http://127.0.0.1:8080", id="ipv4"),
        pytest.param("::1", "http://[::1]:8080", id="ipv6"),
        pytest.param("localhost", "http://localhost:8080", id="name"),
    ],
)
def test_the_urls_are_valid_for_any_host(host: str, root: str) -> None:
    """An IPv6 host is bracketed in the URLs (``http://::1:8080`` is no URL an SDK takes)."""
    server = FakePostpress(host=host, port=8080)
    assert server.root_url == root
    assert server.url == root + "/api/v1"
    assert server.truth_url == root + "/_fake/truth"
