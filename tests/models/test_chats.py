"""Chats: raw enum values, nullable fields and the mute state."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from postpress_async._decoding import decode
from postpress_async.models import (
    AccountList,
    Chat,
    ChatList,
    ChatType,
    ContentType,
    DisabledFeature,
    Folder,
    MessageList,
    Page,
    Provider,
    ReadOnlyState,
)

from ._payloads import CHAT_ID, chat, decode_chat


def test_every_documented_field() -> None:
    """Every documented field, including the camelCase ones, lands on its attribute."""
    decoded = decode_chat(
        chat(
            attendee_provider_id="ACoAACr",
            type=1,
            archived=1,
            muted_until=-1,
            read_only=2,
            disabledFeatures=["reactions", "reply"],
            subject="Q3 offer",
            organization_id="org_1",
            mailbox_id="mbx_1",
            content_type="inmail",
            folder=["INBOX_LINKEDIN_ORGANIZATION"],
            pinned=1,
            unread_count=5,
        )
    )

    assert decoded.id == CHAT_ID
    assert decoded.object == "Chat"
    assert decoded.account_type == Provider.LINKEDIN
    assert decoded.provider_id == "2-NTRkZDA4M2Qt"
    assert decoded.attendee_provider_id == "ACoAACr"
    assert decoded.name == "Jordan Walke"
    assert decoded.type == ChatType.GROUP
    assert decoded.timestamp == datetime(2026, 5, 17, 9, 42, 11, tzinfo=timezone.utc)
    assert decoded.unread_count == 5
    assert decoded.archived == 1
    assert decoded.muted_until == -1
    assert decoded.read_only == ReadOnlyState.LOCKED
    assert decoded.disabled_features == [DisabledFeature.REACTIONS, DisabledFeature.REPLY]
    assert decoded.subject == "Q3 offer"
    assert decoded.organization_id == "org_1"
    assert decoded.mailbox_id == "mbx_1"
    assert decoded.content_type == ContentType.INMAIL
    assert decoded.folder == [Folder.INBOX_LINKEDIN_ORGANIZATION]
    assert decoded.pinned == 1


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        pytest.param(None, None, id="not-muted"),
        pytest.param(-1, -1, id="muted-indefinitely"),
        pytest.param(
            "2026-06-01T08:00:00.000Z",
            datetime(2026, 6, 1, 8, tzinfo=timezone.utc),
            id="muted-until-datetime",
        ),
    ],
)
def test_muted_until(wire: Any, expected: object) -> None:
    """``muted_until`` is ``None``, ``-1`` or an aware datetime."""
    assert decode_chat(chat(muted_until=wire)).muted_until == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("type", 7, id="chat-type"),
        pytest.param("account_type", "DISCORD", id="account-type"),
        pytest.param("read_only", 3, id="read-only"),
        pytest.param("content_type", "job_offer", id="content-type"),
        pytest.param("folder", ["INBOX", "Clients/VIP", "INBOX_LINKEDIN_JOBS"], id="folder"),
        pytest.param("disabledFeatures", ["voice"], id="disabled-features"),
    ],
)
def test_new_enum_values_are_kept_raw(field: str, value: Any) -> None:
    """A value added to an enum later decodes as the raw wire value."""
    decoded = decode_chat(chat(**{field: value}))

    attribute = "disabled_features" if field == "disabledFeatures" else field
    assert getattr(decoded, attribute) == value


def test_documented_nulls() -> None:
    """``name``, ``timestamp``, ``muted_until`` and ``lastMessage`` may be null."""
    decoded = decode_chat(chat(name=None, timestamp=None, muted_until=None, lastMessage=None))

    assert decoded.name is None
    assert decoded.timestamp is None
    assert decoded.muted_until is None
    assert decoded.last_message is None


def test_chat_with_only_an_id() -> None:
    """Every field but ``id`` may be missing."""
    decoded = decode_chat({"id": "chat_1"})

    assert decoded == Chat(id="chat_1")
    assert decoded.folder == []
    assert decoded.disabled_features == []
    assert decoded.type is None


def test_undocumented_fields_are_ignored() -> None:
    """Extra fields such as ``unread`` or ``attendees`` do not fail decoding."""
    decoded = decode_chat(chat(unread=True, attendees=[{"id": "att_1"}], pinned=0))

    assert decoded == decode_chat(chat(pinned=0))


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(AccountList, id="accounts"),
        pytest.param(ChatList, id="chats"),
        pytest.param(MessageList, id="messages"),
    ],
)
def test_list_without_cursor_is_the_last_page(model: type[Page[Any]]) -> None:
    """A list response that omits ``cursor`` (and ``object``) has no next page."""
    page = decode(b'{"items": []}', model, endpoint="GET /list")

    assert page.cursor is None
    assert page.has_more is False
    assert page.object is None
    assert page.items == []


def test_list_without_items_is_empty() -> None:
    """Even ``items`` may be missing."""
    page = decode(b'{"cursor": "abc"}', ChatList, endpoint="GET /chats")

    assert page.items == []
    assert page.has_more is True
