"""The message renderer of version 0.1, frozen: the reference the fast one must match.

A verbatim copy of ``Renderer.message_json`` and its helpers as they were before the
page renderer (``postpress_async/testing/_dataset/_render.py``) replaced them; only the
tests import it, to check that every configuration still serves the same bytes.
"""

from __future__ import annotations

import functools
from typing import Any, Final, NamedTuple

import msgspec

from postpress_async.testing._dataset._columns import ACCOUNT_TYPES, Columns
from postpress_async.testing._dataset._ids import HostilePeriod, IdScheme, Salt, b32, mix
from postpress_async.testing._dataset._quirks import QUIRKS, QuirkTable
from postpress_async.testing._time import format_ms

__all__ = ["MessageRenderer01"]

_ATTACHMENT_TYPES: Final = ("img", "video", "audio", "file", "linkedin_post", "video_meeting")
_TEXTS: Final = (
    "Sounds good - let's chat tomorrow.",
    "On my way 🚗💨",
    "Can you send the deck before the call?",
    "👍",
    "Merci beaucoup ! À demain.",
    "Договорились, созвонимся в пятницу.",
    "明天上午十点开会，别忘了。",  # noqa: RUF001 - full-width punctuation on purpose
    "هل يمكنك إرسال العقد اليوم؟",
    'He said "ship it" and left \\o/',
    "Line one\nline two\n\ttabbed line",
    "family: 👨‍👩‍👧‍👦 flags: 🇯🇵🇧🇷 skin: 👋🏽",
    "Zalgo: Z̷̢͓a̶͎͝l̸̰̈g̴̣̉o̵͙̐",
    "Price is 12 € / $13 — ok?",
    "<script>alert('x')</script> & friends",
    "separator\u2028inside\u2029text",
    "null",
    "Reminder: invoice #4821 is due on 2026-06-01.",
    "Can we move our 1:1 to Thursday?",
    "lol 😂😂😂",
    "https://example.com/path?q=1&r=2#frag",
)
_LONG_TEXTS: Final = tuple(
    f"[long text {n}] " + " ".join(_TEXTS[(n * 7 + k) % len(_TEXTS)] for k in range(40 + 40 * n))
    for n in range(8)
)
"""Messages of roughly 1.5 to 12 KB."""
_TEXT_POOL: Final[tuple[str | None, ...]] = (None, "", *_LONG_TEXTS, *_TEXTS)
_LONG_COUNT: Final = len(_LONG_TEXTS)
_SHORT_START: Final = 2 + len(_LONG_TEXTS)
_SHORT_COUNT: Final = len(_TEXTS)
_enc = msgspec.json.Encoder().encode
_TEXT_JSON: Final = tuple(_enc(text) for text in _TEXT_POOL)
_FLAGS_JSON: Final = tuple(
    (
        f'}},"hidden":{n & 1},"deleted":{n >> 1 & 1},"edited":{n >> 2 & 1},'
        f'"is_event":{n >> 3 & 1},"delivered":{n >> 4 & 1},'
        f'"behavior":{"null" if n >> 5 == 0 else (n >> 5) - 1}'
    ).encode()
    for n in range(128)
)
"""The end of ``seen_by`` and the six flags after it, indexed by a 7-bit code."""
_MESSAGE_PROVIDER_PREFIX: Final = {
    "WHATSAPP": "3EB0",
    "LINKEDIN": "urn:li:msg:2-",
    "SLACK": "slack:msg:",
}
_KIND_LOWER: Final = {
    kind: kind.lower().encode() for kind in (*ACCOUNT_TYPES, QUIRKS.account_type.value)
}
_ORIGINAL: Final = b',"original":"{\\"provider\\":\\"%s\\",\\"id\\":\\"%s\\",\\"ts\\":%d}"'
_hour_bytes = functools.lru_cache(maxsize=65536)(
    lambda hours: format_ms(hours * 3_600_000)[:14].encode()
)
_REACTIONS = ("👍", "❤️", "😂", "😮", "🎉", "🙏🏽")
_MIMES = {
    "img": ("image/jpeg", "image/png", "image/webp"),
    "video": ("video/mp4", "video/quicktime"),
    "audio": ("audio/ogg", "audio/mpeg"),
    "file": ("application/pdf", "text/csv", "application/zip"),
    "linkedin_post": ("text/html",),
    "video_meeting": ("text/calendar",),
}
_FILE_NAMES = ("Q3 report.pdf", "données_clients.csv", "契約書 (final).pdf", "archive.tar.gz")


def _text(h: int) -> int:
    """An index into the text pool: 1/256 null, 1/256 empty, 1/128 several KB long."""
    pick = h & 0xFF
    if pick < 4:
        return pick if pick < 2 else 2 + (h >> 8) % len(_LONG_TEXTS)
    return 2 + len(_LONG_TEXTS) + (h >> 8) % len(_TEXTS)


def _message_provider_id(kind: str, i: int, h: int) -> str:
    prefix = _MESSAGE_PROVIDER_PREFIX.get(kind)
    if prefix is None:
        return str(10**17 + i * 8 + h % 8)
    return f"{prefix}{h & 0xFFFFFFFFFFFF:012X}{i:08X}"


def _attachment(kind: str, h: int, owner_id: str, k: int) -> dict[str, Any]:
    body: dict[str, Any] = {"id": f"{owner_id}-att{k}", "type": kind}
    if h & 1:
        body["file_size"] = 1024 + h % 5_000_000
    body["unavailable"] = (h >> 1) % 11 == 0
    if kind == QUIRKS.attachment_type.value:
        body.update(latitude=48.8566, longitude=2.3522)
        return body
    if (h >> 2) & 3:
        mimes = _MIMES[kind]
        body["mimetype"] = mimes[(h >> 4) % len(mimes)]
        body["url"] = f"https://files.example.com/{owner_id}/{k}?sig={b32(h, 8)}"
        body["url_expires_at"] = 1_779_100_000_000 + h % 10**6
    if kind in ("img", "video"):
        body["size"] = {"width": 320 + (h >> 8) % 1600, "height": 240 + (h >> 12) % 1200}
        body["sticker" if kind == "img" else "gif"] = (h >> 16) % 5 == 0
    elif kind == "audio":
        if (h >> 8) & 1:
            body["duration"] = 1 + (h >> 9) % 600
        body["voice_note"] = (h >> 18) & 1 == 1
    elif kind == "file":
        body["file_name"] = _FILE_NAMES[(h >> 8) % len(_FILE_NAMES)]
    elif kind == "video_meeting":
        nullable = (h >> 8) % 4 == 0
        body["starts_at"] = None if nullable else 1_779_200_000 + (h >> 10) % 10**6
        body["expires_at"] = None if nullable else 1_779_203_600 + (h >> 10) % 10**6
        body["time_range"] = None if nullable else 1800 + (h >> 12) % 5400
    return body


class _ChatParts(NamedTuple):
    fragment: bytes
    kind: str
    kind_lower: bytes
    provider_prefix: bytes | None
    members: tuple[int, ...]
    owner: int
    #: ``(member, its seen_by key, the bits of h2 for it, the delay of its seen time)``.
    seen_slots: tuple[tuple[int, bytes, int, int], ...]


class MessageRenderer01:
    """Version 0.1's ``message_json``, kept byte for byte."""

    def __init__(self, cols: Columns, ids: IdScheme, quirks: QuirkTable | None) -> None:
        self._cols = cols
        self._ids = ids
        self._quirks = quirks
        self._sender_fragments = tuple(
            b',"sender_id":' + _enc(sid) + b',"sender_attendee_id":' + _enc(att)
            for sid, att in zip(cols.sender_ids, cols.sender_attendee_ids, strict=True)
        )
        self._attendee_keys = tuple(_enc(att) + b":" for att in cols.sender_attendee_ids)
        self._chat_parts_cache: list[_ChatParts | None] = [None] * len(cols.chat_ids)
        self._linkedin_cache: dict[tuple[int, bool, bool], bytes] = {}

    def _chat_parts(self, c: int) -> _ChatParts:
        """What every message of chat ``c`` shares, encoded once (chats never change)."""
        parts = self._chat_parts_cache[c]
        if parts is None:
            cols = self._cols
            kind = cols.account_types[cols.account_of_chat[c]]
            members = cols.chat_attendees[c]
            prefix = _MESSAGE_PROVIDER_PREFIX.get(kind)
            parts = self._chat_parts_cache[c] = _ChatParts(
                fragment=b"".join(
                    (
                        b',"account_id":',
                        _enc(cols.account_ids[cols.account_of_chat[c]]),
                        b',"chat_id":',
                        _enc(cols.chat_ids[c]),
                        b',"chat_provider_id":',
                        _enc(cols.chat_provider[c]),
                    )
                ),
                kind=kind,
                kind_lower=_KIND_LOWER[kind],
                provider_prefix=None if prefix is None else prefix.encode(),
                members=members,
                owner=members[0],
                seen_slots=tuple(
                    (member, self._attendee_keys[member], 24 + 2 * (k % 16), 1000 * (1 + k))
                    for k, member in enumerate(members)
                ),
            )
        return parts

    def message_json(self, i: int) -> bytes:
        """Message ``i`` encoded exactly as the server sends it.

        Built from pre-encoded fragments with bytes formatting rather than from a dict,
        because this is the hot path of every uncached page: what a chat's messages
        share is encoded once a chat (:meth:`_chat_parts`), and the common case of a
        message (no attachment, quote, reaction or reply) is a few formatting steps.
        """
        cols = self._cols
        ids = self._ids
        quirks = self._quirks
        h = mix(ids.message_salt ^ i)
        h2 = mix(h)
        c = cols.chat_col[i]
        chat = self._chat_parts_cache[c] or self._chat_parts(c)
        kind = chat.kind
        s = cols.sender_col[i]
        ts = cols.ts[i]
        if ids.hostile and i % HostilePeriod.MESSAGE == 1:
            mid = _enc(ids.message_id(i))
        else:
            mid = b'"%s%016X"' % (ids.message_head, i)
        prefix = chat.provider_prefix
        if prefix is None:
            provider_id = b"%d" % (10**17 + i * 8 + h % 8)
        else:
            provider_id = b"%s%012X%08X" % (prefix, h & 0xFFFFFFFFFFFF, i)
        pick = h & 0xFF
        if pick < 4:
            text = pick if pick < 2 else 2 + (h >> 8) % _LONG_COUNT
        else:
            text = _SHORT_START + (h >> 8) % _SHORT_COUNT
        rem = ts % 3_600_000
        out = [
            b'{"object":"Message","id":%s%s,"provider_id":"%s"%s%s,"timestamp":"%s%02d:%02d.%03dZ"'
            b',"text":%s,"is_sender":%d,"attachments":%s'
            % (
                mid,
                b',"message_id":' + mid if h2 % 9 == 0 else b"",
                provider_id,
                chat.fragment,
                self._sender_fragments[s],
                _hour_bytes(ts // 3_600_000),
                rem // 60_000,
                rem // 1000 % 60,
                rem % 1000,
                _TEXT_JSON[text],
                s == chat.owner,
                _enc(self._attachments(h, i)) if (h >> 16) & 30 == 0 else b"[]",
            )
        ]
        older = None
        if (h >> 27) & 15 == 0 or (h >> 31) & 15 == 0:
            link = cols.older[i]
            older = link if link >= 0 else None
        if older is not None and (h >> 27) & 15 == 0:
            out += (b',"quoted":', _enc(self._quoted(kind, older, h2 & 1 == 1)))
        if (h2 >> 1) % 17 == 0:
            out.append(b',"is_forwarded":true' if (h2 >> 6) & 1 else b',"is_forwarded":false')
        if (h >> 35) & 15 == 0:
            out += (b',"reactions":', _enc(self._reactions(h2, chat.members)))
        else:
            out.append(b',"reactions":[]')
        seen = False
        entries = []
        for member, key, shift, delay in chat.seen_slots:
            if member == s:
                continue
            mode = (h2 >> shift) & 3
            if mode == 0:
                seen = True
                at = ts + delay
                rem = at % 3_600_000
                entries.append(
                    b'%s"%s%02d:%02d.%03dZ"'
                    % (
                        key,
                        _hour_bytes(at // 3_600_000),
                        rem // 60_000,
                        rem // 1000 % 60,
                        rem % 1000,
                    )
                )
            elif mode == 3:
                entries.append(key + b"false")
            else:
                seen = True
                entries.append(key + b"true")
        is_event = (h >> 47) % 40 == 0
        flags = (
            ((h >> 38) % 97 == 0)
            | ((h >> 41) % 89 == 0) << 1
            | ((h >> 44) % 23 == 0) << 2
            | is_event << 3
            | ((h >> 50) % 19 != 0) << 4
            | (0 if (h >> 53) % 6 == 0 else 1 + (h >> 56) % 3) << 5
        )
        out += (
            b',"seen":1,"seen_by":{' if seen else b',"seen":0,"seen_by":{',
            b",".join(entries),
            _FLAGS_JSON[flags],
        )
        if is_event:
            if quirks and quirks.event_type.hits(i):
                event_type = quirks.event_type.value
            else:
                event_type = (h2 >> 40) % 14
            out.append(b',"event_type":%d' % event_type)
        out.append(_ORIGINAL % (chat.kind_lower, provider_id, ts))
        if (h2 >> 44) % 5 == 0:
            replies = (h2 >> 48) % 12
            out.append(b',"replies":%d' % replies)
            if replies:
                members = chat.members
                out += (b',"reply_by":', _enc([cols.sender_attendee_ids[m] for m in members[1:3]]))
        if older is not None and (h2 >> 52) % 3 == 0:
            out += (b',"parent":', _enc(ids.message_id(older)))
        if kind == "LINKEDIN":
            out.append(self._linkedin_fields(i, h2, s))
        if older is not None and (h >> 31) & 15 == 0:
            out += (b',"reply_to":', _enc(self._reply_to(kind, older)))
        if quirks and quirks.message_pinned_field.hits(i):
            out.append(quirks.message_pinned_field.value)
        out.append(b"}")
        return b"".join(out)

    def _attachments(self, h: int, i: int) -> list[dict[str, Any]]:
        """One or two attachments (callers check ``(h >> 16) & 30 == 0`` first)."""
        owner_id = self._ids.message_id(i)
        kinds = len(_ATTACHMENT_TYPES) + (1 if self._quirks else 0)
        out = []
        for k in range(1 + ((h >> 16) & 1)):
            pick = (h >> (20 + 3 * k)) % kinds
            kind = (
                _ATTACHMENT_TYPES[pick]
                if pick < len(_ATTACHMENT_TYPES)
                else QUIRKS.attachment_type.value
            )
            out.append(_attachment(kind, mix(h + k), owner_id, k))
        return out

    def _quoted(self, kind: str, older: int, with_id: bool) -> dict[str, Any]:
        oh = self._ids.h(Salt.MESSAGE, older)
        quoted: dict[str, Any] = {}
        if with_id:
            quoted["message_id"] = self._ids.message_id(older)
        quoted["provider_id"] = _message_provider_id(kind, older, oh)
        quoted["sender_id"] = self._cols.sender_ids[self._cols.sender_col[older]]
        quoted["text"] = _TEXT_POOL[_text(oh)]
        quoted["attachments"] = self._attachments(oh, older) if (oh >> 16) & 30 == 0 else []
        return quoted

    def _reply_to(self, kind: str, older: int) -> dict[str, Any]:
        cols = self._cols
        oh = self._ids.h(Salt.MESSAGE, older)
        sender = cols.sender_col[older]
        return {
            "id": self._ids.message_id(older),
            "provider_id": _message_provider_id(kind, older, oh),
            "timestamp": format_ms(cols.ts[older]),
            "sender_attendee_id": cols.sender_attendee_ids[sender],
            "sender_id": cols.sender_ids[sender],
            "text": _TEXT_POOL[_text(oh)],
        }

    def _reactions(self, h2: int, members: tuple[int, ...]) -> list[dict[str, Any]]:
        quirks = self._quirks
        reactions = []
        for k in range(1 + (h2 >> 8) % 3):
            who = members[(h2 >> (10 + 2 * k)) % len(members)]
            reaction: dict[str, Any] = {
                "value": _REACTIONS[(h2 >> (16 + 3 * k)) % len(_REACTIONS)],
                "sender_id": self._cols.sender_ids[who],
                "is_sender": who == members[0],
            }
            if quirks and k == 0:
                reaction["object"] = quirks.reaction_object_field.value
            reactions.append(reaction)
        return reactions

    def _linkedin_fields(self, i: int, h2: int, sender: int) -> bytes:
        quirks = self._quirks
        key = (
            h2 >> 54,
            bool(quirks and quirks.linkedin_message_type.hits(i)),
            bool(quirks and quirks.linkedin_attendee_type.hits(i)),
        )
        fragment = self._linkedin_cache.get(key)
        if fragment is None:
            fields: dict[str, Any] = {}
            if (h2 >> 54) & 1:
                fields["subject"] = None if (h2 >> 55) & 1 else "Opportunity at Acme 🚀"
            msg_types = ("MESSAGE", "INVITATION", "INMAIL", "INMAIL_DECLINE", "INMAIL_REPLY")
            msg_type = (*msg_types, "INMAIL_ACCEPT")[(h2 >> 56) % 6]
            fields["message_type"] = QUIRKS.linkedin_message_type.value if key[1] else msg_type
            attendee = ("MEMBER", "ORGANIZATION", "OTHER")[(h2 >> 59) % 3]
            fields["attendee_type"] = QUIRKS.linkedin_attendee_type.value if key[2] else attendee
            fields["attendee_distance"] = (1, 2, 3, 4, -1)[(h2 >> 61) % 5]
            fragment = b"," + _enc(fields)[1:-1]
            self._linkedin_cache[key] = fragment
        urn = _enc(f"urn:li:fsd_profile:{self._cols.sender_ids[sender]}")
        return fragment + b',"sender_urn":' + urn
