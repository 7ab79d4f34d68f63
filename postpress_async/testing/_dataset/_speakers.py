"""What the messages of one chat, and of one sender in it, share: encoded once, reused.

A chat's kind, members, ``reply_by`` and the ``seen_by`` keys of its members
(:class:`ChatParts`); a sender's ids around the timestamp, ``is_sender``, the
``original`` head, the provider id's prefix and the ``seen_by`` slots of the others
(:class:`Speaker`). Chats never change, so the message renderer builds each once and
keeps it: these grow with the chats and their members, never with the messages.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import msgspec

from postpress_async.testing._dataset._columns import Columns

__all__ = ["SEEN_HEAD", "ChatParts", "Slot", "Speaker", "chat_parts", "speaker"]

_enc = msgspec.json.Encoder().encode
_MESSAGE_PROVIDER_PREFIX: Final = {
    "WHATSAPP": "3EB0",
    "LINKEDIN": "urn:li:msg:2-",
    "SLACK": "slack:msg:",
}
SEEN_HEAD: Final = (b',"seen":0,"seen_by":{', b',"seen":1,"seen_by":{')


class ChatParts(NamedTuple):
    """What every message of one chat shares, encoded once (chats never change)."""

    kind: str
    members: tuple[int, ...]
    reply_by: bytes
    """``,"reply_by":[…]``: the first two members after the owner."""
    slots: tuple[tuple[int, int, bytes, bytes, bytes, int], ...]
    """Per member: ``(member, shift, key:true, key:false, key:", delay seconds)``, where
    ``(h2 >> shift) & 3`` is its ``seen_by`` mode: 0 seen at a time, 3 not seen, else
    seen."""


Slot = tuple[int, bytes, bytes, bytes, int]
"""A ``seen_by`` slot without its member (see :attr:`ChatParts.slots`)."""


class Speaker(NamedTuple):
    """What every message of one sender in one chat shares, encoded once."""

    before_time: bytes
    """``"`` closing the provider id, the chat's and sender's ids, ``,"timestamp":"``."""
    before_attachments: bytes
    """``,"is_sender":…,"attachments":``."""
    original: bytes
    """``,"original":"{\"provider\":\"<kind>\",\"id\":\"``."""
    provider_prefix: bytes | None
    """The start of a message's ``provider_id``, or ``None`` where it is a number."""
    single: tuple[int, tuple[bytes, ...], bytes, int] | None
    """With one other member: ``(shift, seen piece by mode, seen piece head, delay)``."""
    slots: tuple[Slot, ...]
    """The ``seen_by`` slots of the other members."""
    chat: ChatParts
    linkedin_urn: bytes | None
    """``,"sender_urn":…`` on a LinkedIn chat, else ``None``."""


def chat_parts(cols: Columns, c: int) -> ChatParts:
    """What every message of chat ``c`` shares."""
    kind = cols.account_types[cols.account_of_chat[c]]
    members = cols.chat_attendees[c]
    slots = []
    for k, member in enumerate(members):
        key = _enc(cols.sender_attendee_ids[member]) + b":"
        shift = 24 + 2 * (k % 16)
        slots.append((member, shift, key + b"true", key + b"false", key + b'"', 1 + k))
    reply_by = [cols.sender_attendee_ids[m] for m in members[1:3]]
    return ChatParts(
        kind=kind,
        members=members,
        reply_by=b',"reply_by":' + _enc(reply_by),
        slots=tuple(slots),
    )


def speaker(cols: Columns, chat: ChatParts, c: int, s: int) -> Speaker:
    """What every message of sender ``s`` in chat ``c`` (whose parts are ``chat``) shares."""
    a = cols.account_of_chat[c]
    before_time = b"".join(
        (
            b'","account_id":',
            _enc(cols.account_ids[a]),
            b',"chat_id":',
            _enc(cols.chat_ids[c]),
            b',"chat_provider_id":',
            _enc(cols.chat_provider[c]),
            b',"sender_id":',
            _enc(cols.sender_ids[s]),
            b',"sender_attendee_id":',
            _enc(cols.sender_attendee_ids[s]),
            b',"timestamp":"',
        )
    )
    is_sender = b"1" if s == chat.members[0] else b"0"
    original = b',"original":"{\\"provider\\":\\"%s\\",\\"id\\":\\"' % chat.kind.lower().encode()
    slots = tuple(slot[1:] for slot in chat.slots if slot[0] != s)
    single = None
    if len(slots) == 1:
        shift, seen_true, seen_false, stamp_key, delay = slots[0]
        seen, unseen = SEEN_HEAD[1], SEEN_HEAD[0]
        by_mode = (b"", seen + seen_true, seen + seen_true, unseen + seen_false)
        single = (shift, by_mode, seen + stamp_key, delay)
    urn = None
    if chat.kind == "LINKEDIN":
        urn = b',"sender_urn":' + _enc(f"urn:li:fsd_profile:{cols.sender_ids[s]}")
    prefix = _MESSAGE_PROVIDER_PREFIX.get(chat.kind)
    return Speaker(
        before_time=before_time,
        before_attachments=b',"is_sender":' + is_sender + b',"attachments":',
        original=original,
        provider_prefix=None if prefix is None else prefix.encode(),
        single=single,
        slots=slots,
        chat=chat,
        linkedin_urn=urn,
    )
