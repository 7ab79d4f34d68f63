"""The real API's habits an SDK must survive, gathered in one table.

A dataset built with ``quirks=True`` serves every variation below; without it, none.
Each :class:`Quirk` says what it changes and on which objects: those whose index
``% every == at`` (``every=1``: all of them). The fake server adds one more, outside the
dataset: no ``cursor`` key at all on a last page (see ``_replies.list_page``).
"""

from __future__ import annotations

import dataclasses
from typing import Final, Generic, TypeVar

__all__ = ["QUIRKS", "Quirk", "QuirkTable"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Quirk(Generic[T]):
    """One variation: objects whose index ``% every == at`` are served ``value``."""

    what: str
    value: T
    every: int = 1
    at: int = 0

    def hits(self, index: int) -> bool:
        """Whether the object at ``index`` shows this quirk."""
        return index % self.every == self.at


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class QuirkTable:
    """Every quirk by name; a renderer holds this table or ``None``."""

    account_type: Quirk[str]
    attachment_type: Quirk[str]
    imap_encryption: Quirk[str]
    source_status: Quirk[str]
    disabled_feature: Quirk[str]
    chat_content_type: Quirk[str]
    chat_unread_field: Quirk[bool]
    event_type: Quirk[int]
    message_pinned_field: Quirk[bytes]
    linkedin_message_type: Quirk[str]
    linkedin_attendee_type: Quirk[str]
    reaction_object_field: Quirk[str]


QUIRKS: Final = QuirkTable(
    account_type=Quirk("one more account, of an unknown type", "BLUESKY"),
    attachment_type=Quirk("attachments of an unknown type", "location"),
    imap_encryption=Quirk("an unknown IMAP encryption", "none", every=5, at=1),
    source_status=Quirk(
        "an unknown status of an account's first source", "SUSPENDED", every=6, at=5
    ),
    disabled_feature=Quirk(
        "an unknown entry of a chat's disabledFeatures", "typing", every=3, at=0
    ),
    chat_content_type=Quirk("an unknown LinkedIn chat content_type", "job_offer", every=4, at=2),
    chat_unread_field=Quirk("an undocumented `unread` field on chats", True, every=3, at=1),
    event_type=Quirk("an unknown event_type on event messages", 99, every=2, at=1),
    message_pinned_field=Quirk(
        "an undocumented `pinned` field on messages", b',"pinned":0', every=4, at=1
    ),
    linkedin_message_type=Quirk(
        "an unknown LinkedIn message_type", "SPONSORED_MESSAGE", every=5, at=3
    ),
    linkedin_attendee_type=Quirk("an unknown LinkedIn attendee_type", "BOT", every=7, at=4),
    reaction_object_field=Quirk(
        "an undocumented `object` field on a message's first reaction", "MessageReaction"
    ),
)
"""The quirks a ``quirks=True`` dataset serves."""
