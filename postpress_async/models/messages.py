"""Messages, and the pieces a message carries (reactions, quotes, reply targets)."""

from __future__ import annotations

import msgspec

from ._base import Model, Time
from ._page import Page
from .attachments import Attachment

__all__ = ["Message", "MessageList", "QuotedMessage", "Reaction", "ReplyTo"]


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
    timestamp: Time | None = None
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
    timestamp: Time | None = None
    text: str | None = None
    is_sender: int | None = None
    attachments: list[Attachment] = msgspec.field(default_factory=list)
    quoted: QuotedMessage | None = None
    reactions: list[Reaction] = msgspec.field(default_factory=list)
    seen: int | None = None
    #: Attendee id -> the time that attendee saw the message, or a bare flag.
    seen_by: dict[str, Time | bool] = msgspec.field(default_factory=dict)
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
