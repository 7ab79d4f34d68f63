"""A server time sent without a zone is UTC, an aware datetime, wherever a model has one.

The API's times are UTC (``...Z``). One sent without ``Z`` or an offset is read as UTC,
as the rows of the ingest path read it, never as a naive datetime: a naive one cannot be
compared with an aware one (``TypeError``) and ``datetime.timestamp()`` takes it as the
machine's local time.
"""

from __future__ import annotations

from datetime import datetime, timezone

from postpress_async._decoding import decode, decode_page
from postpress_async.models import (
    Account,
    AccountList,
    ChatList,
    MessageList,
    MobileAccount,
    UnknownAccount,
)

from ._payloads import account, chat, decode_chat, decode_message, dumps, message

ZONE_LESS = "2026-05-17T09:42:11.123"
UTC = datetime(2026, 5, 17, 9, 42, 11, 123000, tzinfo=timezone.utc)


def test_message_times_without_zone_are_utc() -> None:
    decoded = decode_message(
        message(
            timestamp=ZONE_LESS,
            seen_by={"att_1": ZONE_LESS, "att_2": True},
            reply_to={"id": "m0", "timestamp": "2026-05-17T09:42:11"},
        )
    )

    assert decoded.timestamp == UTC and decoded.timestamp.tzinfo is not None
    assert decoded.seen_by == {"att_1": UTC, "att_2": True}
    assert decoded.reply_to is not None and decoded.reply_to.timestamp is not None
    assert decoded.reply_to.timestamp.tzinfo is not None


def test_chat_and_its_last_message_times_without_zone_are_utc() -> None:
    decoded = decode_chat(
        chat(timestamp=ZONE_LESS, muted_until=ZONE_LESS, lastMessage=message(timestamp=ZONE_LESS))
    )

    assert (decoded.timestamp, decoded.muted_until) == (UTC, UTC)
    assert decoded.last_message is not None and decoded.last_message.timestamp == UTC


def test_account_times_without_zone_are_utc() -> None:
    wire = account("MOBILE", {"im": {}, "last_fetched_at": ZONE_LESS}, created_at=ZONE_LESS)
    decoded = decode(dumps({**wire, "last_fetched_at": ZONE_LESS}), Account, endpoint="t")

    assert isinstance(decoded, MobileAccount)
    assert decoded.created_at == UTC and decoded.last_fetched_at == UTC
    assert decoded.connection_params is not None
    assert decoded.connection_params.last_fetched_at == UTC


def test_a_page_of_zone_less_times_is_read_whole() -> None:
    """Every item is read, with aware times; a bad time still makes its item unreadable."""
    body = dumps({"items": [message(id="a", timestamp=ZONE_LESS), message(id="b", timestamp="x")]})

    page, unreadable = decode_page(body, MessageList, endpoint="GET /messages")

    assert [(m.id, m.timestamp) for m in page.items] == [("a", UTC)]
    assert [u.error.path for u in unreadable] == ["$.items[1].timestamp"]
    chats, _ = decode_page(dumps({"items": [chat(timestamp=ZONE_LESS)]}), ChatList, endpoint="t")
    assert chats.items[0].timestamp == UTC


def test_times_with_a_zone_keep_it() -> None:
    """An offset is kept as sent (the same instant), never rewritten."""
    decoded = decode_message(message(timestamp="2026-05-17T11:42:11.123+02:00"))

    assert decoded.timestamp == UTC
    assert decoded.timestamp is not None and decoded.timestamp.utcoffset() is not None
    assert decoded.timestamp.utcoffset().total_seconds() == 7200  # type: ignore[union-attr]


def test_an_account_of_a_new_type_reads_its_zone_less_time_too() -> None:
    wire = account("BLUESKY", {"im": {}}, id="acc_new", created_at=ZONE_LESS)

    page, unreadable = decode_page(dumps({"items": [wire]}), AccountList, endpoint="t")

    assert unreadable == []
    (decoded,) = page.items
    assert isinstance(decoded, UnknownAccount)
    assert decoded.created_at == UTC
    assert decoded.raw == wire  # as sent
