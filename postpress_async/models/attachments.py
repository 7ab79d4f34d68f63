"""Message attachments: a tagged union on ``type``.

An attachment whose ``type`` this SDK does not know decodes to
:class:`UnknownAttachment`, which keeps the whole object in ``raw``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeAlias

import msgspec

from ._base import UNKNOWN_TAG, Model

__all__ = [
    "Attachment",
    "AttachmentSize",
    "AudioAttachment",
    "FileAttachment",
    "ImageAttachment",
    "LinkedInPostAttachment",
    "UnknownAttachment",
    "VideoAttachment",
    "VideoMeetingAttachment",
]


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


class UnknownAttachment(
    Model, frozen=True, kw_only=True, tag_field="type", tag=UNKNOWN_TAG, gc=True
):
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
"""Any attachment; switch on ``isinstance`` or on ``.type``."""
