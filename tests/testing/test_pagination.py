"""Walking every listing with every filter returns each match exactly once, in order."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from postpress_async.testing import CHAT_ACCOUNT_TYPES, Dataset, FakePostpress
from postpress_async.testing._time import format_ms

from ._helpers import get_json, walk


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def message_bounds(ds: Dataset) -> tuple[str, str]:
    """Two message timestamps a third and two thirds down the list, as query values."""
    newer = ds.message_timestamp_ms(ds.message_count // 3)
    older = ds.message_timestamp_ms(2 * ds.message_count // 3)
    return format_ms(newer), format_ms(older)


@pytest.mark.parametrize("limit", [1, 7, 100, 250])
async def test_accounts_walk_returns_every_account_once(
    postpress_server: FakePostpress, http: aiohttp.ClientSession, limit: int
) -> None:
    """Accounts come newest ``created_at`` first, each once."""
    items, pages = await walk(http, f"{postpress_server.url}/accounts", {"limit": str(limit)})
    expected = postpress_server.dataset.expected_account_ids()
    assert ids(items) == expected
    assert pages == -(-len(expected) // limit)
    stamps = [item["created_at"] for item in items]
    assert stamps == sorted(stamps, reverse=True)


async def test_messages_walk_unfiltered_matches_ground_truth(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """All messages, newest first (ties by id), none twice, none skipped."""
    items, pages = await walk(http, f"{postpress_server.url}/messages", {"limit": "37"})
    expected = postpress_server.dataset.expected_message_ids()
    assert ids(items) == expected
    assert len(set(expected)) == len(expected) == postpress_server.dataset.message_count
    assert pages == -(-len(expected) // 37)
    keys = [(item["timestamp"], item["id"]) for item in items]
    assert keys == sorted(keys, key=lambda k: (_neg(k[0]), k[1]))


def _neg(stamp: str) -> tuple[int, ...]:
    return tuple(-ord(ch) for ch in stamp)


def test_dataset_has_timestamp_ties(postpress_dataset: Dataset) -> None:
    """The default dataset has equal timestamps, so the id tie-break is exercised."""
    stamps = [
        postpress_dataset.message_timestamp_ms(i) for i in range(postpress_dataset.message_count)
    ]
    assert len(set(stamps)) < len(stamps)


def message_filter_cases(ds: Dataset) -> list[dict[str, str]]:
    newer, older = message_bounds(ds)
    busy_account = ds.message_row(0).account_id
    sender = ds.message_row(1).sender_id
    owner = ds.message_row(2).sender_id
    return [
        {"account_id": busy_account},
        {"sender_id": sender},
        {"sender_id": owner},
        {"before": newer},
        {"after": older},
        {"before": newer, "after": older},
        {"account_id": busy_account, "before": newer},
        {"account_id": busy_account, "sender_id": sender, "after": older},
        {"sender_id": sender, "before": newer, "after": older},
        {"before": older, "after": newer},  # an empty window
        {"before": format_ms(ds.message_timestamp_ms(5))},  # exactly a timestamp: strict
        {"after": format_ms(ds.message_timestamp_ms(5))},
        {"account_id": ds.account_id(1)},  # a MAIL account: no messages
    ]


@pytest.mark.slow
async def test_messages_walk_with_each_filter_matches_ground_truth(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """Each filter and combination returns exactly the brute-force matches, in order."""
    ds = postpress_server.dataset
    seen_nonempty = 0
    for filters in message_filter_cases(ds):
        expected = ds.expected_message_ids(**filters)
        for limit in (7, 250):
            items, _ = await walk(
                http, f"{postpress_server.url}/messages", {**filters, "limit": str(limit)}
            )
            assert ids(items) == expected, filters
            seen_nonempty += bool(expected)
            for item in items:
                if "account_id" in filters:
                    assert item["account_id"] == filters["account_id"]
                if "sender_id" in filters:
                    assert item["sender_id"] == filters["sender_id"]
    assert seen_nonempty >= 16


def chat_filter_cases(ds: Dataset) -> list[dict[str, str]]:
    stamps = sorted(t for c in range(ds.chat_count) if (t := ds.chat_timestamp_ms(c)) is not None)
    low, high = format_ms(stamps[len(stamps) // 4]), format_ms(stamps[3 * len(stamps) // 4])
    first, second = ds.chat_row(0).account_id, ds.chat_row(1).account_id
    return [
        {"account_id": first},
        {"account_id": f"{first},{second}"},
        {"account_id": f"{first},acc_unknown,"},
        {"account_type": "LINKEDIN"},
        *({"account_type": kind} for kind in sorted(CHAT_ACCOUNT_TYPES)),
        {"unread": "true"},
        {"unread": "false"},
        {"before": high},
        {"after": low},
        {"before": high, "after": low},
        {"account_type": "WHATSAPP", "unread": "false", "after": low},
        {"account_id": f"{first},{second}", "unread": "true", "before": high},
    ]


async def test_chats_walk_with_each_filter_matches_ground_truth(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """Chats: newest activity first, empty chats last, each filter exact."""
    ds = postpress_server.dataset
    all_items, _ = await walk(http, f"{postpress_server.url}/chats", {"limit": "6"})
    assert ids(all_items) == ds.expected_chat_ids()
    assert all_items[-1]["timestamp"] is None
    for filters in chat_filter_cases(ds):
        for limit in (2, 250):
            items, _ = await walk(
                http, f"{postpress_server.url}/chats", {**filters, "limit": str(limit)}
            )
            unread = None if "unread" not in filters else filters["unread"] == "true"
            expected = ds.expected_chat_ids(
                account_id=filters.get("account_id"),
                account_type=filters.get("account_type"),
                unread=unread,
                before=filters.get("before"),
                after=filters.get("after"),
            )
            assert ids(items) == expected, filters
            assert expected or filters.get("account_type") not in (None, "LINKEDIN")


async def test_changing_filters_between_pages_is_refused(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """A cursor only continues the listing it came from; ``limit`` may change."""
    url = postpress_server.url
    ds = postpress_server.dataset
    _, first = await get_json(http, f"{url}/messages", {"limit": "5"})
    cursor = first["cursor"]
    status, body = await get_json(http, f"{url}/messages", {"limit": "9", "cursor": cursor})
    assert status == 200
    assert body["items"][0]["id"] == ds.expected_message_ids()[5]
    account = ds.message_row(0).account_id
    for query in (
        {"cursor": cursor, "account_id": account},
        {"cursor": cursor, "before": "2030-01-01T00:00:00.000Z"},
    ):
        status, body = await get_json(http, f"{url}/messages", query)
        assert status == 400
        assert body["type"] == "errors/invalid_parameters"
    status, body = await get_json(http, f"{url}/chats", {"cursor": cursor})
    assert status == 400


async def test_cursor_from_another_dataset_is_refused(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """Cursors carry a fingerprint of the dataset they were issued for."""
    async with FakePostpress(dataset=Dataset(seed=99, messages=50, chats=5)) as other:
        async with aiohttp.ClientSession(headers={"X-API-KEY": other.api_key}) as session:
            _, page = await get_json(session, f"{other.url}/messages", {"limit": "2"})
    status, body = await get_json(
        http, f"{postpress_server.url}/messages", {"cursor": page["cursor"]}
    )
    assert status == 400
    assert body["type"] == "errors/invalid_parameters"


async def test_last_page_cursor_is_null_and_pages_are_never_empty(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """An exact multiple of ``limit`` still ends with a full page and ``cursor: null``."""
    count = postpress_server.dataset.message_count
    _, body = await get_json(http, f"{postpress_server.url}/messages", {"limit": "250"})
    query = {"limit": "250", "cursor": body["cursor"]}
    pages = [body]
    while pages[-1]["cursor"] is not None:
        _, body = await get_json(http, f"{postpress_server.url}/messages", query)
        pages.append(body)
        query["cursor"] = body["cursor"] or ""
    assert count % 250 == 0
    assert len(pages) == count // 250
    assert all(len(page["items"]) == 250 for page in pages)
    assert "cursor" in pages[-1]
