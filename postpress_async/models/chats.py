"""Chats."""

from __future__ import annotations

import msgspec

from ._base import Model, Time
from ._page import Page
from .messages import Message

__all__ = ["Chat", "ChatList"]


class Chat(Model, frozen=True, kw_only=True):
    """A conversation on one connected account.

    ``type``, ``archived``, ``read_only`` and ``pinned`` keep the API's integers;
    compare them with :class:`~postpress_async.models.ChatType` and
    :class:`~postpress_async.models.ReadOnlyState`.
    """

    id: str
    object: str | None = None
    account_id: str | None = None
    #: See :class:`~postpress_async.models.Provider`.
    account_type: str | None = None
    provider_id: str | None = None
    #: The other attendee's provider id, for 1:1 chats.
    attendee_provider_id: str | None = None
    name: str | None = None
    #: See :class:`~postpress_async.models.ChatType`.
    type: int | None = None
    #: Last activity.
    timestamp: Time | None = None
    unread_count: int | None = None
    archived: int | None = None
    #: ``-1`` when muted indefinitely, the end of the mute, or ``None`` when not muted.
    muted_until: int | Time | None = None
    #: See :class:`~postpress_async.models.ReadOnlyState`.
    read_only: int | None = None
    #: See :class:`~postpress_async.models.DisabledFeature`.
    disabled_features: list[str] = msgspec.field(name="disabledFeatures", default_factory=list)
    subject: str | None = None
    organization_id: str | None = None
    mailbox_id: str | None = None
    #: See :class:`~postpress_async.models.ContentType`.
    content_type: str | None = None
    #: Provider folders (see :class:`~postpress_async.models.Folder`) and custom names.
    folder: list[str] = msgspec.field(default_factory=list)
    pinned: int | None = None
    #: Present on ``GET /chats/{chat_id}``; ``None`` for an empty chat.
    last_message: Message | None = msgspec.field(name="lastMessage", default=None)


class ChatList(Page[Chat], frozen=True, kw_only=True):
    """One page of ``GET /chats``."""
