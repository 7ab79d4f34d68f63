"""Messages on the wire: a page of messages rendered in one pass from the columns.

Nothing is stored per message: a message's JSON is a pure function of its index, the
:class:`~._columns.Columns` and the :class:`~._ids.IdScheme` hashes, so two datasets with
the same configuration serve the same bytes. This is the hot path of every uncached page,
so it is written for speed rather than as a dict per message:

* the two 64-bit hashes a message draws from are computed for the whole page at once
  (:func:`~._ids.mix_many`);
* what a chat's messages share (its ids, its members' ``seen_by`` keys per sender) is
  encoded once a chat, a sender's ids once a dataset (:mod:`._speakers`), and the parts
  of a timestamp and the texts (:mod:`._texts`) come from small tables;
* the common message (no attachment, quote, reaction or reply) is one ``%`` format into
  one list of pieces for the page, joined once.

The rare parts (attachments, in :mod:`._attachments`; quotes, replies, reactions) are
built as dicts and encoded with msgspec. The real API's quirks come from the one table in :mod:`._quirks`.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec

from postpress_async.testing._dataset._attachments import attachments_json
from postpress_async.testing._dataset._columns import Columns
from postpress_async.testing._dataset._ids import (
    HOSTILE_SUFFIX,
    HostilePeriod,
    IdScheme,
    Salt,
    mix_many,
)
from postpress_async.testing._dataset._quirks import QUIRKS, QuirkTable
from postpress_async.testing._dataset._speakers import (
    SEEN_HEAD,
    ChatParts,
    Speaker,
    chat_parts,
    speaker,
)
from postpress_async.testing._dataset._texts import (
    LONG_COUNT,
    SHORT_COUNT,
    SHORT_START,
    TEXT_JSON,
    pick_text,
)
from postpress_async.testing._time import format_ms

__all__ = ["MessageRenderer"]

_enc = msgspec.json.Encoder().encode

_FLAGS_JSON: Final = tuple(
    (
        f'}},"hidden":{n & 1},"deleted":{n >> 1 & 1},"edited":{n >> 2 & 1},'
        f'"is_event":{n >> 3 & 1},"delivered":{n >> 4 & 1},'
        f'"behavior":{"null" if n >> 5 == 0 else (n >> 5) - 1}'
    ).encode()
    for n in range(128)
)
"""The end of ``seen_by`` and the six flags after it, indexed by a 7-bit code."""
_NUMERIC_PROVIDER_BASE: Final = 10**17
_REACTIONS: Final = ("👍", "❤️", "😂", "😮", "🎉", "🙏🏽")
_REACTIONS_JSON: Final = tuple(_enc(value) for value in _REACTIONS)
_REPLIES: Final = tuple(b',"replies":%d' % n for n in range(12))
_HOUR_MS: Final = 3_600_000
_MINUTE_SECOND: Final = tuple(b"%02d:%02d" % divmod(n, 60) for n in range(3600))
"""``MM:SS`` of the ``n``-th second of an hour."""
_MILLIS: Final = tuple(b".%03dZ" % n for n in range(1000))
_MILLIS_TEXT: Final = tuple(b'.%03dZ","text":' % n for n in range(1000))
"""The end of a message's timestamp and the key after it."""
_MILLIS_QUOTE: Final = tuple(b'.%03dZ"' % n for n in range(1000))
"""The end of a timestamp in ``seen_by``."""


def _decimal(values: list[int]) -> list[bytes]:
    """Each value in decimal (one C-level conversion for the page)."""
    return repr(values)[1:-1].encode().split(b", ") if values else []


_FORWARDED: Final = (b',"is_forwarded":false', b',"is_forwarded":true')
_HOSTILE_SUFFIX_JSON: Final = _enc(HOSTILE_SUFFIX)[1:-1]
_RARE: Final = tuple(
    (n & 15 == 0) | (n >> 4 & 15 == 0) << 1 | (n >> 8 == 0) << 2 for n in range(4096)
)
"""Bits 27 to 38 of ``h`` to what a message has: 1 a quote, 2 a reply, 4 reactions."""


def _hex_halves(indices: Iterable[int]) -> list[bytes]:
    """``%08X`` of the high and the low 32 bits of each index (< 2**64), alternating.

    A message index's ``%016X`` is the two halves; the low one is its ``%08X``.
    """
    packed = array("Q", indices)
    if sys.byteorder == "little":
        packed.byteswap()
    return packed.tobytes().hex(" ", 4).upper().encode().split()


class _Hours:
    """``YYYY-MM-DDTHH:`` of an hour since the epoch, remembered for the last few hours."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[int, bytes] = {}

    def __call__(self, hour: int) -> bytes:
        head = self._cache.get(hour)
        if head is None:
            if len(self._cache) >= 4096:
                self._cache.clear()
            head = self._cache[hour] = format_ms(hour * _HOUR_MS)[:14].encode()
        return head


def _provider_id(prefix: bytes | None, i: int, h: int) -> bytes:
    """A message's ``provider_id`` (plain ASCII, so its JSON is itself in quotes)."""
    if prefix is None:
        return b"%d" % (_NUMERIC_PROVIDER_BASE + i * 8 + (h & 7))
    return b"%s%012X%08X" % (prefix, h & 0xFFFFFFFFFFFF, i)


class MessageRenderer:
    """Renders one dataset's messages; holds only caches of pre-encoded fragments.

    The caches grow with the chats and their members, never with the messages.
    """

    __slots__ = (
        "_attendee_json",
        "_chats",
        "_cols",
        "_hours",
        "_id_head",
        "_ids",
        "_linkedin_cache",
        "_quirks",
        "_reaction_object",
        "_sender_json",
        "_senders",
        "_speakers",
    )

    def __init__(self, cols: Columns, ids: IdScheme, quirks: QuirkTable | None) -> None:
        self._cols = cols
        self._ids = ids
        self._quirks = quirks
        self._id_head = b',{"object":"Message","id":"' + ids.message_head
        self._senders = len(cols.sender_ids)
        self._chats: list[ChatParts | None] = [None] * len(cols.chat_ids)
        self._speakers: dict[int, Speaker] = {}
        self._linkedin_cache: dict[tuple[int, bool, bool], bytes] = {}
        self._hours = _Hours()
        self._sender_json = tuple(_enc(sender) for sender in cols.sender_ids)
        self._attendee_json = tuple(_enc(attendee) for attendee in cols.sender_attendee_ids)
        self._reaction_object = (
            b',"object":' + _enc(quirks.reaction_object_field.value) if quirks else b""
        )

    def message(self, index: int) -> dict[str, Any]:
        """The wire object of message ``index`` (the same in the list and on retrieve)."""
        decoded: dict[str, Any] = msgspec.json.decode(self.message_json(index))
        return decoded

    def message_json(self, index: int) -> bytes:
        """Message ``index`` encoded exactly as the server sends it."""
        return self.messages_json((index,))

    def messages_json(self, indices: Sequence[int]) -> bytes:
        """The messages at ``indices`` encoded as the server sends them, joined by commas.

        What a list page holds between ``"items":[`` and ``]``.
        """
        if not indices:
            return b""
        out: list[bytes] = []
        self._render(indices, out)
        out[0] = out[0][1:]  # every message starts with a comma
        return b"".join(out)

    def _chat(self, c: int) -> ChatParts:
        parts = self._chats[c]
        if parts is None:
            parts = self._chats[c] = chat_parts(self._cols, c)
        return parts

    def _speaker(self, c: int, s: int) -> Speaker:
        chat = self._chats[c] or self._chat(c)
        found = self._speakers[c * self._senders + s] = speaker(self._cols, chat, c, s)
        return found

    def _render(self, indices: Sequence[int], out: list[bytes]) -> None:
        """Append the pieces of each message, a comma first, to ``out``.

        The bits of ``h`` and ``h2`` each part draws from are version 0.1's; the flags
        and a few rare parts read them shifted down once (``g``, ``g2``), because
        arithmetic on small integers is cheaper than on 64-bit ones.
        """
        cols = self._cols
        ids = self._ids
        quirks = self._quirks
        hashes, hashes2 = mix_many(indices, ids.message_salt, 2)
        if isinstance(indices, range) and indices.step == 1:
            start, stop = indices.start, indices.stop
            chat_page: Iterable[int] = cols.chat_col[start:stop]
            sender_page: Iterable[int] = cols.sender_col[start:stop]
            stamps = cols.ts[start:stop].tolist()
        else:
            chat_page = [cols.chat_col[i] for i in indices]
            sender_page = [cols.sender_col[i] for i in indices]
            stamps = [cols.ts[i] for i in indices]
        older_col = cols.older
        speakers = self._speakers
        senders = self._senders
        hostile = ids.hostile
        message_head = ids.message_head
        head_json = message_head
        hours = self._hours
        text_json = TEXT_JSON
        minute_second = _MINUTE_SECOND
        millis_text = _MILLIS_TEXT
        millis_quote = _MILLIS_QUOTE
        flags_json = _FLAGS_JSON
        rare_table = _RARE
        seen_head = SEEN_HEAD
        id_head = self._id_head
        after_id = b'","provider_id":"'
        ts_key = b'\\",\\"ts\\":'
        no_reactions = b',"reactions":[]'
        plain_tail = b'}"}'
        pinned = quirks.message_pinned_field if quirks else None
        event_quirk = quirks.event_type if quirks else None
        last_hour = -1
        hour_head = b""
        id_hex = _hex_halves(indices)
        for i, c, s, ts, ts_text, h, h2, id_high, id_low in zip(
            indices,
            chat_page,
            sender_page,
            stamps,
            _decimal(stamps),
            hashes,
            hashes2,
            id_hex[0::2],
            id_hex[1::2],
            strict=True,
        ):
            try:
                speaker = speakers[c * senders + s]
            except KeyError:
                speaker = self._speaker(c, s)
            before_time, before_attachments, original, prefix, single, slots, chat, urn = speaker
            if prefix is None:
                provider_id = b"%d" % (_NUMERIC_PROVIDER_BASE + i * 8 + (h & 7))
            else:
                provider_id = b"%s%012X%s" % (prefix, h & 0xFFFFFFFFFFFF, id_low)
            pick = h & 0xFF
            if pick < 4:
                text = text_json[pick if pick < 2 else 2 + (h >> 8) % LONG_COUNT]
            else:
                text = text_json[SHORT_START + (h >> 8) % SHORT_COUNT]
            hour = ts // _HOUR_MS
            if hour != last_hour:
                last_hour = hour
                hour_head = hours(hour)
            rem = ts - hour * _HOUR_MS
            second = rem // 1000
            ms = rem - second * 1000
            if single is not None:
                shift, by_mode, stamp_head, delay = single
                mode = (h2 >> shift) & 3
                if mode:
                    seen = by_mode[mode]
                elif second + delay < 3600:
                    seen = b"".join(
                        (stamp_head, hour_head, minute_second[second + delay], millis_quote[ms])
                    )
                else:
                    seen = stamp_head + self._stamp(hour, second + delay, ms)
            else:
                seen_any = 0
                entries = []
                for shift, seen_true, seen_false, stamp_key, delay in slots:
                    mode = (h2 >> shift) & 3
                    if mode == 3:
                        entries.append(seen_false)
                    elif mode:
                        seen_any = 1
                        entries.append(seen_true)
                    else:
                        seen_any = 1
                        entries.append(stamp_key + self._stamp(hour, second + delay, ms))
                seen = seen_head[seen_any] + b",".join(entries)
            g = h >> 38
            event = (g >> 9) % 40
            flags = flags_json[
                (0 if g % 97 else 1)
                + (0 if (g >> 3) % 89 else 2)
                + (0 if (g >> 6) % 23 else 4)
                + (0 if event else 8)
                + (16 if (g >> 12) % 19 else 0)
                + (32 + 32 * ((g >> 18) % 3) if (g >> 15) % 6 else 0)
            ]
            g2 = h2 >> 40
            if not event:
                if event_quirk is not None and event_quirk.hits(i):
                    flags += b',"event_type":%d' % event_quirk.value
                else:
                    flags += b',"event_type":%d' % (g2 % 14)
            suffix = b""
            if hostile and i % HostilePeriod.MESSAGE == 1:
                suffix = _HOSTILE_SUFFIX_JSON
            head_end = after_id
            if suffix or not h2 % 9:
                dup = b""
                if not h2 % 9:
                    dup = b',"message_id":"%s%s%s%s"' % (message_head, id_high, id_low, suffix)
                head_end = b'%s"%s,"provider_id":"' % (suffix, dup)
            attachments = b"[]"
            if not (h >> 16) & 30:
                attachments = attachments_json(
                    h, head_json + id_high + id_low + suffix, quirks=bool(quirks)
                )
            middle = no_reactions
            tail = plain_tail
            rare = rare_table[(h >> 27) & 0xFFF]
            forwarded = not (h2 >> 1) % 17
            replies = not (g2 >> 4) % 5
            if rare or forwarded or replies or urn is not None or quirks:
                quoted = parent = reply_to = b""
                older = older_col[i] if rare & 3 else -1
                if older >= 0:
                    if rare & 1:
                        quoted = self._quoted(prefix, older, h2 & 1 == 1)
                    if not (g2 >> 12) % 3:
                        parent = b',"parent":"%s"' % self._id_json(older)
                    if rare & 2:
                        reply_to = self._reply_to(prefix, older)
                if quoted or forwarded or rare & 4:
                    middle = b"".join(
                        (
                            quoted,
                            _FORWARDED[(h2 >> 6) & 1] if forwarded else b"",
                            b',"reactions":',
                            self._reactions(h2, chat.members) if rare & 4 else b"[]",
                        )
                    )
                pin = b""
                if pinned is not None and pinned.hits(i):
                    pin = pinned.value
                if replies or parent or urn is not None or reply_to or pin:
                    reply_count = b""
                    if replies:
                        count = (g2 >> 8) % 12
                        reply_count = _REPLIES[count] + chat.reply_by if count else _REPLIES[0]
                    linkedin = b""
                    if urn is not None:
                        linkedin = self._linkedin_fields(i, g2 >> 14) + urn
                    tail = b"".join((b'}"', reply_count, parent, linkedin, reply_to, pin, b"}"))
            out += (
                id_head,
                id_high,
                id_low,
                head_end,
                provider_id,
                before_time,
                hour_head,
                minute_second[second],
                millis_text[ms],
                text,
                before_attachments,
                attachments,
                middle,
                seen,
                flags,
                original,
                provider_id,
                ts_key,
                ts_text,
                tail,
            )

    def _stamp(self, hour: int, second: int, ms: int) -> bytes:
        """``YYYY-MM-DDTHH:MM:SS.mmmZ"`` of ``second`` of ``hour`` (may be past its end)."""
        hour += second // 3600
        return b"%s%s%s" % (self._hours(hour), _MINUTE_SECOND[second % 3600], _MILLIS_QUOTE[ms])

    def _id_json(self, i: int) -> bytes:
        """Message ``i``'s id as JSON string content (no quotes)."""
        return _enc(self._ids.message_id(i))[1:-1]

    def _quoted(self, prefix: bytes | None, older: int, with_id: bool) -> bytes:
        oh = self._ids.h(Salt.MESSAGE, older)
        owner = self._id_json(older)
        return b"".join(
            (
                b',"quoted":{"message_id":"%s",' % owner if with_id else b',"quoted":{',
                b'"provider_id":"%s","sender_id":' % _provider_id(prefix, older, oh),
                self._sender_json[self._cols.sender_col[older]],
                b',"text":',
                pick_text(oh),
                b',"attachments":',
                b"[]"
                if (oh >> 16) & 30
                else attachments_json(oh, owner, quirks=bool(self._quirks)),
                b"}",
            )
        )

    def _reply_to(self, prefix: bytes | None, older: int) -> bytes:
        cols = self._cols
        oh = self._ids.h(Salt.MESSAGE, older)
        sender = cols.sender_col[older]
        return b"".join(
            (
                b',"reply_to":{"id":"%s","provider_id":"%s","timestamp":"%s"'
                % (self._id_json(older), _provider_id(prefix, older, oh), self._stamp_ms(older)),
                b',"sender_attendee_id":',
                self._attendee_json[sender],
                b',"sender_id":',
                self._sender_json[sender],
                b',"text":',
                pick_text(oh),
                b"}",
            )
        )

    def _stamp_ms(self, i: int) -> bytes:
        """Message ``i``'s timestamp as the API writes it (without quotes)."""
        hour, rem = divmod(self._cols.ts[i], _HOUR_MS)
        return b"%s%s%s" % (self._hours(hour), _MINUTE_SECOND[rem // 1000], _MILLIS[rem % 1000])

    def _reactions(self, h2: int, members: tuple[int, ...]) -> bytes:
        parts = []
        for k in range(1 + (h2 >> 8) % 3):
            who = members[(h2 >> (10 + 2 * k)) % len(members)]
            parts.append(
                b'{"value":%s,"sender_id":%s,"is_sender":%s%s}'
                % (
                    _REACTIONS_JSON[(h2 >> (16 + 3 * k)) % len(_REACTIONS_JSON)],
                    self._sender_json[who],
                    b"true" if who == members[0] else b"false",
                    self._reaction_object if k == 0 else b"",
                )
            )
        return b"[" + b",".join(parts) + b"]"

    def _linkedin_fields(self, i: int, bits: int) -> bytes:
        """The LinkedIn fields drawn from ``bits`` (``h2 >> 54``), before ``sender_urn``."""
        quirks = self._quirks
        key = (
            bits,
            bool(quirks and quirks.linkedin_message_type.hits(i)),
            bool(quirks and quirks.linkedin_attendee_type.hits(i)),
        )
        fragment = self._linkedin_cache.get(key)
        if fragment is None:
            fields: dict[str, Any] = {}
            if bits & 1:
                fields["subject"] = None if (bits >> 1) & 1 else "Opportunity at Acme 🚀"
            msg_types = ("MESSAGE", "INVITATION", "INMAIL", "INMAIL_DECLINE", "INMAIL_REPLY")
            msg_type = (*msg_types, "INMAIL_ACCEPT")[(bits >> 2) % 6]
            fields["message_type"] = QUIRKS.linkedin_message_type.value if key[1] else msg_type
            attendee = ("MEMBER", "ORGANIZATION", "OTHER")[(bits >> 5) % 3]
            fields["attendee_type"] = QUIRKS.linkedin_attendee_type.value if key[2] else attendee
            fields["attendee_distance"] = (1, 2, 3, 4, -1)[(bits >> 7) % 5]
            fragment = b"," + _enc(fields)[1:-1]
            self._linkedin_cache[key] = fragment
        return fragment
