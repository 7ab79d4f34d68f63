"""Messages: every documented field, omitted fields, nulls and new enum values."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from postpress_async.models import (
    AttendeeType,
    Message,
    MessageType,
    QuotedMessage,
    Reaction,
    ReplyTo,
)

from ._payloads import decode_message, decode_messages, message

SENT = datetime(2026, 5, 17, 9, 42, 11, tzinfo=timezone.utc)


def test_every_documented_field() -> None:
    """The optional fields of a threaded LinkedIn message land on their attributes."""
    decoded = decode_message(
        message(
            message_id="msg_01",
            quoted={
                "message_id": "msg_00",
                "provider_id": "urn:li:msg:0",
                "sender_id": "ACoA0",
                "text": "Are you free?",
                "attachments": [],
            },
            reactions=[{"value": "👍", "sender_id": "ACoA0", "is_sender": False}],
            seen_by={"att_01": "2026-05-17T09:43:00.000Z", "att_02": False},
            event_type=3,
            is_forwarded=True,
            replies=2,
            reply_by=["att_02", "att_03"],
            parent="msg_parent",
            subject="Re: offer",
            message_type="INMAIL_REPLY",
            attendee_type="ORGANIZATION",
            attendee_distance=-1,
            sender_urn="urn:li:member:1",
            reply_to={
                "id": "msg_00",
                "provider_id": "urn:li:msg:0",
                "timestamp": "2026-05-17T09:00:00.000Z",
                "sender_attendee_id": "att_02",
                "sender_id": "ACoA0",
                "text": None,
            },
        )
    )

    assert decoded.message_id == "msg_01"
    assert decoded.quoted == QuotedMessage(
        message_id="msg_00", provider_id="urn:li:msg:0", sender_id="ACoA0", text="Are you free?"
    )
    assert decoded.reactions == [Reaction(value="👍", sender_id="ACoA0", is_sender=False)]
    assert decoded.seen_by == {
        "att_01": datetime(2026, 5, 17, 9, 43, tzinfo=timezone.utc),
        "att_02": False,
    }
    assert decoded.event_type == 3
    assert decoded.is_forwarded is True
    assert decoded.replies == 2
    assert decoded.reply_by == ["att_02", "att_03"]
    assert decoded.parent == "msg_parent"
    assert decoded.subject == "Re: offer"
    assert decoded.message_type == MessageType.INMAIL_REPLY
    assert decoded.attendee_type == AttendeeType.ORGANIZATION
    assert decoded.attendee_distance == -1
    assert decoded.sender_urn == "urn:li:member:1"
    assert decoded.reply_to == ReplyTo(
        id="msg_00",
        provider_id="urn:li:msg:0",
        timestamp=datetime(2026, 5, 17, 9, tzinfo=timezone.utc),
        sender_attendee_id="att_02",
        sender_id="ACoA0",
    )


def test_message_with_only_an_id() -> None:
    """Every field but ``id`` may be missing, ``quoted``, ``replies`` and ``reactions`` included."""
    decoded = decode_message({"id": "msg_1"})

    assert decoded == Message(id="msg_1")
    assert decoded.quoted is None
    assert decoded.replies is None
    assert decoded.reactions == []
    assert decoded.attachments == []
    assert decoded.seen_by == {}
    assert decoded.reply_by == []


@pytest.mark.parametrize(
    "field",
    [
        pytest.param("text", id="text"),
        pytest.param("behavior", id="behavior"),
        pytest.param("subject", id="subject"),
        pytest.param("timestamp", id="timestamp"),
        pytest.param("quoted", id="quoted"),
        pytest.param("reply_to", id="reply_to"),
    ],
)
def test_nullable_fields_accept_null(field: str) -> None:
    """Fields the docs call nullable decode ``null`` to ``None``."""
    decoded = decode_message(message(**{field: None}))

    assert getattr(decoded, field) is None


def test_quoted_message_without_text_or_attachments() -> None:
    """A quote may omit its text and attachments."""
    decoded = decode_message(message(quoted={"provider_id": "urn:li:msg:0", "text": None}))

    assert decoded.quoted == QuotedMessage(provider_id="urn:li:msg:0")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("message_type", "VOICE_CALL", id="message-type"),
        pytest.param("attendee_type", "BOT", id="attendee-type"),
        pytest.param("event_type", 42, id="event-type"),
        pytest.param("attendee_distance", 5, id="attendee-distance"),
        pytest.param("behavior", 9, id="behavior"),
    ],
)
def test_new_enum_values_are_kept_raw(field: str, value: Any) -> None:
    """A value added to an enum later decodes as the raw wire value."""
    assert getattr(decode_message(message(**{field: value})), field) == value


def test_undocumented_fields_are_ignored() -> None:
    """Extra fields at any level do not fail decoding and are not kept."""
    extra = message(
        unread=True,
        pinned=1,
        quoted={"provider_id": "p", "attachments": [], "sender_name": "Jordan"},
        reactions=[{"value": "🎉", "emoji_id": 7}],
    )

    decoded = decode_message(extra)

    assert decoded.quoted == QuotedMessage(provider_id="p")
    assert decoded.reactions == [Reaction(value="🎉")]
    assert not hasattr(decoded, "unread")


def test_message_page_keeps_order_and_cursor() -> None:
    """A page of messages decodes item by item, in order, with its cursor."""
    page = decode_messages(*(message(id=f"msg_{i}") for i in range(250)), cursor="next")

    assert len(page.items) == 250
    assert page.items[249].id == "msg_249"
    assert page.items[0].timestamp == SENT
    assert page.cursor == "next"
