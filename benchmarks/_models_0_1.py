"""A frozen copy of the message models as postpress-async 0.1 shipped them.

The baseline of ``bench_floor.py``'s decode check: the same fields and types as
:mod:`postpress_async.models.messages`, with 0.1's struct options. Do not update it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeAlias, TypeVar

import msgspec

T = TypeVar("T")
UNKNOWN_TAG = "__unknown__"


class Model(msgspec.Struct, kw_only=True, frozen=True, repr_omit_defaults=True):
    pass


class Page(Model, Generic[T], frozen=True, kw_only=True):
    items: list[T] = msgspec.field(default_factory=list)
    cursor: str | None = None
    object: str | None = None


class AttachmentSize(Model, frozen=True, kw_only=True):
    """Pixel dimensions of an image or a video."""

    width: int | None = None
    height: int | None = None


class _AttachmentBase(Model, frozen=True, kw_only=True, tag_field="type"):
    """Fields every known attachment type carries."""

    id: str
    file_size: int | None = None
    unavailable: bool | None = None
    mimetype: str | None = None
    url: str | None = None
    #: Unix epoch after which ``url`` stops working.
    url_expires_at: int | float | None = None


class ImageAttachment(_AttachmentBase, frozen=True, kw_only=True, tag="img"):
    """An image (``type == "img"``)."""

    type: ClassVar[Literal["img"]] = "img"

    size: AttachmentSize | None = None
    sticker: bool | None = None


class VideoAttachment(_AttachmentBase, frozen=True, kw_only=True, tag="video"):
    """A video (``type == "video"``)."""

    type: ClassVar[Literal["video"]] = "video"

    size: AttachmentSize | None = None
    gif: bool | None = None


class AudioAttachment(_AttachmentBase, frozen=True, kw_only=True, tag="audio"):
    """An audio clip or voice note (``type == "audio"``)."""

    type: ClassVar[Literal["audio"]] = "audio"

    #: Length in seconds.
    duration: int | float | None = None
    voice_note: bool | None = None


class FileAttachment(_AttachmentBase, frozen=True, kw_only=True, tag="file"):
    """A generic file (``type == "file"``)."""

    type: ClassVar[Literal["file"]] = "file"

    file_name: str | None = None


class LinkedInPostAttachment(_AttachmentBase, frozen=True, kw_only=True, tag="linkedin_post"):
    """A shared LinkedIn post (``type == "linkedin_post"``)."""

    type: ClassVar[Literal["linkedin_post"]] = "linkedin_post"


class VideoMeetingAttachment(_AttachmentBase, frozen=True, kw_only=True, tag="video_meeting"):
    """A video meeting invitation (``type == "video_meeting"``)."""

    type: ClassVar[Literal["video_meeting"]] = "video_meeting"

    #: Unix epoch.
    starts_at: int | float | None = None
    #: Unix epoch.
    expires_at: int | float | None = None
    #: Duration in seconds.
    time_range: int | float | None = None


class UnknownAttachment(Model, frozen=True, kw_only=True, tag_field="type", tag=UNKNOWN_TAG):
    """An attachment of a type this SDK does not know; ``raw`` holds the whole object."""

    #: The attachment's ``type`` as the API sent it.
    type: str = msgspec.field(name="__raw_type__")
    raw: dict[str, Any] = msgspec.field(default_factory=dict)
    id: str | None = None
    file_size: int | None = None
    unavailable: bool | None = None
    mimetype: str | None = None
    url: str | None = None
    url_expires_at: int | float | None = None


Attachment: TypeAlias = (
    ImageAttachment
    | VideoAttachment
    | AudioAttachment
    | FileAttachment
    | LinkedInPostAttachment
    | VideoMeetingAttachment
    | UnknownAttachment
)


class Reaction(Model, frozen=True, kw_only=True):
    """An emoji reaction left on a message."""

    #: The Unicode emoji.
    value: str | None = None
    sender_id: str | None = None
    is_sender: bool | None = None


class QuotedMessage(Model, frozen=True, kw_only=True):
    """The message a message quotes."""

    message_id: str | None = None
    provider_id: str | None = None
    sender_id: str | None = None
    text: str | None = None
    attachments: list[Attachment] = msgspec.field(default_factory=list)


class ReplyTo(Model, frozen=True, kw_only=True):
    """The message a message replies to."""

    id: str | None = None
    provider_id: str | None = None
    timestamp: datetime | None = None
    sender_attendee_id: str | None = None
    sender_id: str | None = None
    text: str | None = None


class Message(Model, frozen=True, kw_only=True):
    """A message in a chat.

    The 0/1 flags (``is_sender``, ``seen``, ``hidden``, ...) keep the API's integers.
    """

    id: str
    object: str | None = None
    #: Alias of ``id`` returned by some providers.
    message_id: str | None = None
    provider_id: str | None = None
    account_id: str | None = None
    chat_id: str | None = None
    chat_provider_id: str | None = None
    sender_id: str | None = None
    sender_attendee_id: str | None = None
    timestamp: datetime | None = None
    text: str | None = None
    is_sender: int | None = None
    attachments: list[Attachment] = msgspec.field(default_factory=list)
    quoted: QuotedMessage | None = None
    reactions: list[Reaction] = msgspec.field(default_factory=list)
    seen: int | None = None
    #: Attendee id -> the time that attendee saw the message, or a bare flag.
    seen_by: dict[str, datetime | bool] = msgspec.field(default_factory=dict)
    hidden: int | None = None
    deleted: int | None = None
    edited: int | None = None
    is_event: int | None = None
    delivered: int | None = None
    #: Provider-specific behaviour code.
    behavior: int | None = None
    #: Provider event code (0-13 documented) when ``is_event`` is 1.
    event_type: int | None = None
    #: The raw payload as the provider returned it.
    original: str | None = None
    is_forwarded: bool | None = None
    #: Number of replies in the thread.
    replies: int | None = None
    #: Attendee ids that have replied.
    reply_by: list[str] = msgspec.field(default_factory=list)
    #: Parent message id, for threaded replies.
    parent: str | None = None
    subject: str | None = None
    #: See :class:`~postpress_async.models.MessageType`.
    message_type: str | None = None
    #: See :class:`~postpress_async.models.AttendeeType`.
    attendee_type: str | None = None
    #: LinkedIn-style connection distance (1, 2, 3, 4 or -1).
    attendee_distance: int | None = None
    sender_urn: str | None = None
    reply_to: ReplyTo | None = None


class MessageList(Page[Message], frozen=True, kw_only=True):
    """One page of ``GET /messages``."""
