"""Attachments: one class per ``type``, and ``UnknownAttachment`` for new types."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from postpress_async.models import (
    AttachmentSize,
    AttachmentType,
    AudioAttachment,
    FileAttachment,
    ImageAttachment,
    LinkedInPostAttachment,
    Message,
    QuotedMessage,
    UnknownAttachment,
    VideoAttachment,
    VideoMeetingAttachment,
)

from ._payloads import chat, decode_chat, decode_chats, decode_message, decode_messages, message

COMMON: dict[str, Any] = {
    "id": "att_1",
    "file_size": 52431,
    "unavailable": False,
    "mimetype": "application/octet-stream",
    "url": "https://files.example.com/att_1",
    "url_expires_at": 1779000000,
}
HOLOGRAM: dict[str, Any] = {
    "type": "hologram",
    "id": "att_h",
    "url": "https://files.example.com/h",
    "depth": 3,
}


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        pytest.param(
            {"type": "img", "size": {"width": 640, "height": 480}, "sticker": True},
            ImageAttachment(size=AttachmentSize(width=640, height=480), sticker=True, **COMMON),
            id="img",
        ),
        pytest.param(
            {"type": "video", "size": {"width": 1920, "height": 1080}, "gif": False},
            VideoAttachment(size=AttachmentSize(width=1920, height=1080), gif=False, **COMMON),
            id="video",
        ),
        pytest.param(
            {"type": "audio", "duration": 12.5, "voice_note": True},
            AudioAttachment(duration=12.5, voice_note=True, **COMMON),
            id="audio",
        ),
        pytest.param(
            {"type": "file", "file_name": "deck.pdf"},
            FileAttachment(file_name="deck.pdf", **COMMON),
            id="file",
        ),
        pytest.param(
            {"type": "linkedin_post"},
            LinkedInPostAttachment(**COMMON),
            id="linkedin_post",
        ),
        pytest.param(
            {
                "type": "video_meeting",
                "starts_at": 1779000000,
                "expires_at": None,
                "time_range": 1800,
            },
            VideoMeetingAttachment(starts_at=1779000000, time_range=1800, **COMMON),
            id="video_meeting",
        ),
    ],
)
def test_each_attachment_type_decodes_to_its_class(wire: dict[str, Any], expected: object) -> None:
    """Every documented type picks its class and keeps the shared and own fields."""
    decoded = decode_message(message(attachments=[{**COMMON, **wire}]))

    (attachment,) = decoded.attachments
    assert attachment == expected
    assert attachment.type == wire["type"]
    assert attachment.type == AttachmentType(wire["type"])


def test_attachment_with_only_type_and_id() -> None:
    """Shared fields such as ``unavailable`` may be missing."""
    decoded = decode_message(message(attachments=[{"type": "file", "id": "att_2"}]))

    assert decoded.attachments == [FileAttachment(id="att_2")]


def test_unknown_attachment_type_keeps_raw_data_and_its_neighbours() -> None:
    """A new type becomes ``UnknownAttachment``; the other attachments decode normally."""
    image = {"type": "img", "id": "att_i", "unavailable": False}

    decoded = decode_message(message(attachments=[HOLOGRAM, image]))

    unknown, known = decoded.attachments
    assert isinstance(unknown, UnknownAttachment)
    assert unknown.type == "hologram"
    assert unknown.id == "att_h"
    assert unknown.url == "https://files.example.com/h"
    assert unknown.raw == HOLOGRAM
    assert known == ImageAttachment(id="att_i", unavailable=False)


def test_unknown_attachment_without_id() -> None:
    """An unknown attachment need not carry an id."""
    decoded = decode_message(message(attachments=[{"type": "location", "lat": 48.85}]))

    (attachment,) = decoded.attachments
    assert attachment == UnknownAttachment(type="location", raw={"type": "location", "lat": 48.85})
    assert attachment.id is None


def test_unknown_attachment_inside_quoted_message() -> None:
    """The quoted message's attachments are tolerant too."""
    quoted = {"provider_id": "p", "sender_id": "s", "text": None, "attachments": [HOLOGRAM]}

    decoded = decode_message(message(quoted=quoted))

    assert decoded.quoted == QuotedMessage(
        provider_id="p",
        sender_id="s",
        attachments=[
            UnknownAttachment(type="hologram", id="att_h", url=HOLOGRAM["url"], raw=HOLOGRAM)
        ],
    )


def test_unknown_attachment_in_one_message_of_a_page() -> None:
    """Only the message with the new type is affected; the page keeps every message."""
    page = decode_messages(
        message(id="msg_1"),
        message(id="msg_2", attachments=[HOLOGRAM]),
        message(id="msg_3", attachments=[{"type": "audio", "id": "att_a", "voice_note": True}]),
    )

    assert [item.id for item in page.items] == ["msg_1", "msg_2", "msg_3"]
    assert isinstance(page.items[1].attachments[0], UnknownAttachment)
    assert page.items[2].attachments == [AudioAttachment(id="att_a", voice_note=True)]


def test_unknown_attachment_in_a_chats_last_message() -> None:
    """``lastMessage`` of a retrieved chat tolerates new attachment types."""
    quoted = {"attachments": [{"type": "poll", "id": "att_p"}]}

    decoded = decode_chat(chat(lastMessage=message(attachments=[HOLOGRAM], quoted=quoted)))

    assert decoded.last_message is not None
    (attachment,) = decoded.last_message.attachments
    assert isinstance(attachment, UnknownAttachment)
    assert attachment.type == "hologram"
    assert decoded.last_message.quoted is not None
    assert decoded.last_message.quoted.attachments == [
        UnknownAttachment(type="poll", id="att_p", raw={"type": "poll", "id": "att_p"})
    ]


def test_unknown_attachment_in_a_chat_list() -> None:
    """The same holds for chats listed with their last message."""
    page = decode_chats(chat(id="c1"), chat(id="c2", lastMessage=message(attachments=[HOLOGRAM])))

    assert page.items[0].last_message is None
    assert page.items[1].last_message is not None
    assert isinstance(page.items[1].last_message.attachments[0], UnknownAttachment)


def test_unknown_attachment_reencodes_under_a_private_tag() -> None:
    """The raw type survives an encode/decode round trip through the models."""
    original = decode_message(message(attachments=[HOLOGRAM]))
    again = msgspec.json.decode(msgspec.json.encode(original), type=Message)

    assert again == original
