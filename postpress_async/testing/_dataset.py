"""A deterministic, memory-lean synthetic postpress workspace.

Only compact columns are stored per message (a timestamp, a chat index and a sender
index, 16 bytes in all); every object's JSON is rendered on demand from ``(seed, index)``
with a cheap integer hash, so a 1,000,000-message dataset costs about 20 MB.

Identifiers are ULID-shaped (``msg_01HX`` + a 6-character seed tag + a 16-character
index, Crockford base32), so they sort in index order and are parsed back to an index
without a lookup table. With ``hostile_ids=True`` some ids also carry a suffix made of
characters that must be percent-encoded in a URL path (``/ ? # = : % & +``, a space,
non-ASCII).

Orders (the fake's choice, see the ``testing`` package docstring):

* messages: newest ``timestamp`` first, ties by ``id`` ascending. Message index ``0`` is
  the newest, so the index *is* the position in the unfiltered list;
* chats: newest last activity (``timestamp``) first, ties by ``id``; chats with no
  message have a ``null`` timestamp and come last;
* accounts: newest ``created_at`` first (the index again).
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import datetime as _dt
import functools
import random
import re
import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import Any, Final, NamedTuple

import msgspec

from postpress_async.testing._time import format_ms, to_us

__all__ = [
    "ACCOUNT_TYPES",
    "CHAT_ACCOUNT_TYPES",
    "AccountRow",
    "ChatRow",
    "Dataset",
    "DatasetConfig",
    "MessageRow",
]

ACCOUNT_TYPES: Final = (
    "WHATSAPP",
    "MAIL",
    "LINKEDIN",
    "GOOGLE_OAUTH",
    "SLACK",
    "ICLOUD",
    "TWITTER",
    "OUTLOOK",
    "MESSENGER",
    "GOOGLE_CALENDAR",
    "INSTAGRAM",
    "EXCHANGE",
    "TELEGRAM",
    "MOBILE",
)
"""The 14 documented account types, interleaved so the first account is a messaging one."""

CHAT_ACCOUNT_TYPES: Final = frozenset(
    {"WHATSAPP", "LINKEDIN", "SLACK", "TWITTER", "MESSENGER", "INSTAGRAM", "TELEGRAM"}
)
"""Account types that own chats (the documented values of ``account_type``)."""

_QUIRK_ACCOUNT_TYPE: Final = "BLUESKY"
_SOURCE_STATUSES: Final = ("OK", "STOPPED", "ERROR", "CREDENTIALS", "PERMISSIONS", "CONNECTING")
_ATTACHMENT_TYPES: Final = ("img", "video", "audio", "file", "linkedin_post", "video_meeting")
_MASK: Final = (1 << 64) - 1
_B32: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_HEX16: Final = re.compile(r"[0-9A-F]{16}\Z")
_ID_WIDTH: Final = 16
_HOSTILE_SUFFIX: Final = "/a?b#c=d:e%2F+ &é"
_NEWEST_MS: Final = 1_779_011_999_000  # 2026-05-17T09:59:59Z, a fixed anchor: no wall clock.
_CONTACTS_PER_ACCOUNT: Final = 40
_NULL_KEY: Final = 1 << 62

_FIRST = ("Anna", "Jordan", "José", "Zoë", "Ольга", "李雷", "محمد", "Søren", "Amélie", "Kwame")
_LAST = ("Doe", "Walke", "García", "Müller", "Иванова", "王", "Haddad", "Ødegård", "N'Diaye")
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
_KIND_LOWER: Final = {kind: kind.lower().encode() for kind in (*ACCOUNT_TYPES, "BLUESKY")}
_ORIGINAL: Final = b',"original":"{\\"provider\\":\\"%s\\",\\"id\\":\\"%s\\",\\"ts\\":%d}"'
_hour_bytes = functools.lru_cache(maxsize=65536)(
    lambda hours: format_ms(hours * 3_600_000)[:14].encode()
)
_FOLDERS = ("INBOX", "INBOX_LINKEDIN_CLASSIC", "INBOX_LINKEDIN_RECRUITER")
_LI_FOLDERS = (
    "INBOX_LINKEDIN_CLASSIC",
    "INBOX_LINKEDIN_RECRUITER",
    "INBOX_LINKEDIN_SALES_NAVIGATOR",
    "INBOX_LINKEDIN_ORGANIZATION",
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


def _mix(x: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _b32(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 32)
        out.append(_B32[r])
    return "".join(reversed(out))


def _u32(rng: random.Random, count: int) -> array[int]:
    values = array("I", rng.randbytes(4 * count))
    if sys.byteorder == "big":  # pragma: no cover - keeps datasets identical on any CPU
        values.byteswap()
    return values


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DatasetConfig:
    """The parameters a :class:`Dataset` is built from; equal configs give equal bytes."""

    seed: int = 0
    accounts: int = 14
    chats: int = 40
    messages: int = 1000
    hostile_ids: bool = False
    quirks: bool = False

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ValueError("a dataset needs at least one account")
        if self.chats < 0 or self.messages < 0:
            raise ValueError("chats and messages must be >= 0")
        if self.messages and not self.chats:
            raise ValueError("messages need at least one chat")


class AccountRow(NamedTuple):
    """Ground-truth columns of one account."""

    id: str
    type: str
    created_at_ms: int


class ChatRow(NamedTuple):
    """Ground-truth columns of one chat."""

    id: str
    account_id: str
    account_type: str
    provider_id: str
    timestamp_ms: int | None
    unread_count: int


class MessageRow(NamedTuple):
    """Ground-truth columns of one message."""

    id: str
    timestamp_ms: int
    chat_id: str
    account_id: str
    sender_id: str


class Dataset:
    """A seeded synthetic workspace: accounts, chats and messages, rendered on demand.

    ``Dataset(seed=0, accounts=14, chats=40, messages=1000)`` builds in well under a
    second; ``messages=1_000_000`` in a few seconds and about 20 MB. Two datasets with
    the same arguments serve the same bytes.

    ``quirks=True`` adds the real API's habits an SDK must survive: an account of an
    unknown type, attachments of an unknown type, undocumented extra fields (``unread``
    on chats, ``pinned`` on messages, ``object`` on reactions), unknown enum values and,
    in the server, no ``cursor`` key at all on a last page.
    """

    __slots__ = (
        "_account_created",
        "_account_ids",
        "_account_messages",
        "_account_of_chat",
        "_account_types",
        "_attendee_keys",
        "_chat_attendees",
        "_chat_col",
        "_chat_fragments",
        "_chat_ids",
        "_chat_last",
        "_chat_order",
        "_chat_order_keys",
        "_chat_provider",
        "_chat_rank",
        "_chat_ts",
        "_linkedin_cache",
        "_message_head",
        "_message_salt",
        "_older",
        "_provider_chats",
        "_salt",
        "_sender_attendee_ids",
        "_sender_col",
        "_sender_fragments",
        "_sender_ids",
        "_sender_index",
        "_sender_messages",
        "_tag",
        "_ts",
        "config",
    )

    def __init__(
        self,
        *,
        seed: int = 0,
        accounts: int = 14,
        chats: int = 40,
        messages: int = 1000,
        hostile_ids: bool = False,
        quirks: bool = False,
    ) -> None:
        self.config = DatasetConfig(
            seed=seed,
            accounts=accounts,
            chats=chats,
            messages=messages,
            hostile_ids=hostile_ids,
            quirks=quirks,
        )
        self._salt = _mix(seed & _MASK)
        self._message_salt = self._salt ^ (10 << 56)
        self._tag = _b32(self._salt, 6)
        self._message_head = f"msg_01HX{self._tag}".encode()
        self._build_accounts()
        self._build_chats()
        self._build_messages()
        self._build_chat_order()

    # -- building ---------------------------------------------------------------------

    def _build_accounts(self) -> None:
        cfg = self.config
        count = cfg.accounts + (1 if cfg.quirks else 0)
        types = [ACCOUNT_TYPES[i % len(ACCOUNT_TYPES)] for i in range(cfg.accounts)]
        if cfg.quirks:
            types.append(_QUIRK_ACCOUNT_TYPE)
        self._account_types = tuple(types)
        self._account_ids = tuple(self._make_id("acc_", i, 7) for i in range(count))
        created = []
        moment = _NEWEST_MS - 86_400_000 * 400
        for i in range(count):
            created.append(moment)
            moment -= 3_600_000 + self._h(1, i) % (86_400_000 * 20)
        self._account_created = array("q", created)
        sender_ids = [
            self._person_id(kind, a, k)
            for a, kind in enumerate(self._account_types)
            for k in range(_CONTACTS_PER_ACCOUNT + 1)
        ]
        self._sender_ids = tuple(sender_ids)
        self._sender_index = {sid: n for n, sid in enumerate(sender_ids)}
        self._sender_attendee_ids = tuple(
            f"att_01HX{self._tag}{n:016X}" for n in range(len(sender_ids))
        )
        self._sender_fragments = tuple(
            b',"sender_id":' + _enc(sid) + b',"sender_attendee_id":' + _enc(att)
            for sid, att in zip(sender_ids, self._sender_attendee_ids, strict=True)
        )
        self._attendee_keys = tuple(_enc(att) + b":" for att in self._sender_attendee_ids)

    def _build_chats(self) -> None:
        cfg = self.config
        messaging = [a for a, t in enumerate(self._account_types) if t in CHAT_ACCOUNT_TYPES]
        account_of_chat = array("i")
        attendees: list[tuple[int, ...]] = []
        for c in range(cfg.chats):
            h = self._h(2, c)
            a = (
                messaging[c % len(messaging)]
                if c < len(messaging)
                else messaging[h % len(messaging)]
            )
            account_of_chat.append(a)
            owner = a * (_CONTACTS_PER_ACCOUNT + 1)
            chat_type = self._chat_type(c)
            others = (
                1 if chat_type == 0 else 2 + (h >> 8) % 6 if chat_type == 1 else 1 + (h >> 8) % 3
            )
            first = (h >> 16) % _CONTACTS_PER_ACCOUNT
            picked = tuple(
                owner + 1 + (first + k * 7) % _CONTACTS_PER_ACCOUNT for k in range(others)
            )
            attendees.append((owner, *picked))
        self._account_of_chat = account_of_chat
        self._chat_attendees = tuple(attendees)
        self._chat_ids = tuple(self._make_id("chat_", c, 5) for c in range(cfg.chats))
        self._chat_provider = tuple(self._chat_provider_id(c) for c in range(cfg.chats))
        self._chat_fragments: list[bytes | None] = [None] * cfg.chats
        self._linkedin_cache: dict[tuple[int, bool, bool], bytes] = {}
        self._provider_chats = {
            (account_of_chat[c], pid): c for c, pid in enumerate(self._chat_provider)
        }

    def _build_messages(self) -> None:
        cfg = self.config
        n = cfg.messages
        rng = random.Random(f"postpress-fake:{cfg.seed}")
        active = cfg.chats - 1 if cfg.chats >= 4 else cfg.chats
        hot = max(1, active // 8)
        r1 = _u32(rng, n)
        r2 = _u32(rng, n)
        ts = array("q", bytes(8 * n))
        chat_col = array("i", bytes(4 * n))
        sender_col = array("i", bytes(4 * n))
        last = array("i", [-1]) * cfg.chats
        seen = array("i", [-1]) * cfg.chats
        older = array("i", [-1]) * n
        account_messages = [array("i") for _ in self._account_types]
        account_of_chat = self._account_of_chat
        attendees = self._chat_attendees
        moment = _NEWEST_MS - self._salt % 86_400_000
        for i in range(n):
            x = r1[i]
            y = r2[i]
            c = x % hot if x & 0xC0000000 == 0 else (x >> 2) % active
            ts[i] = moment
            gap = y >> 16
            if gap % 61:
                moment -= gap * 2
            chat_col[i] = c
            members = attendees[c]
            sender_col[i] = members[0] if y & 3 == 0 else members[(y >> 2) % len(members)]
            account_messages[account_of_chat[c]].append(i)
            newer = seen[c]
            if newer < 0:
                last[c] = i
            else:
                older[newer] = i
            seen[c] = i
        self._ts = ts
        self._chat_col = chat_col
        self._sender_col = sender_col
        self._chat_last = last
        self._older = older
        self._account_messages = tuple(account_messages)
        self._sender_messages: dict[int, array[int]] = {}
        self._chat_ts = array("q", (ts[m] if m >= 0 else _NULL_KEY for m in last))

    def _build_chat_order(self) -> None:
        chat_ts = self._chat_ts
        order = sorted(range(len(chat_ts)), key=lambda c: (chat_ts[c] == _NULL_KEY, -chat_ts[c], c))
        self._chat_order = array("i", order)
        rank = array("i", bytes(4 * len(order)))
        for r, c in enumerate(order):
            rank[c] = r
        self._chat_rank = rank
        self._chat_order_keys = array(
            "q", (_NULL_KEY if chat_ts[c] == _NULL_KEY else -chat_ts[c] for c in order)
        )

    # -- hashing and ids --------------------------------------------------------------

    def _h(self, kind: int, i: int) -> int:
        return _mix(self._salt ^ (kind << 56) ^ i)

    def _is_hostile(self, i: int, period: int) -> bool:
        return self.config.hostile_ids and i % period == 1

    def _make_id(self, prefix: str, i: int, period: int) -> str:
        # Upper-case hex digits are Crockford base32 digits too, and far cheaper to format.
        base = f"{prefix}01HX{self._tag}{i:016X}"
        if self.config.hostile_ids and i % period == 1:
            return base + _HOSTILE_SUFFIX
        return base

    def _parse_id(self, prefix: str, text: str, count: int) -> int | None:
        head = f"{prefix}01HX{self._tag}"
        digits = text[len(head) : len(head) + _ID_WIDTH]
        if not text.startswith(head) or not _HEX16.match(digits):
            return None
        index = int(digits, 16)
        return index if index < count else None

    def _person_id(self, kind: str, account: int, k: int) -> str:
        h = self._h(3, account * 1000 + k)
        serial = account * 1000 + k
        if kind == "WHATSAPP":
            return f"{33_600_000_000 + serial * 7919 % 99_999_999}@s.whatsapp.net"
        if kind == "LINKEDIN":
            return "ACoAA" + _b32(h, 12) + _b32(serial, 4)
        if kind == "SLACK":
            return "U0" + _b32(h, 6) + _b32(serial, 4)
        if kind == "TELEGRAM":
            return str(1_000_000_000 + serial * 104_729 + h % 97)
        return str(10**15 + serial * 1_000_003 + h % 997)

    def _chat_type(self, c: int) -> int:
        roll = self._h(4, c) % 10
        return 0 if roll < 7 else 1 if roll < 9 else 2

    def _chat_provider_id(self, c: int) -> str:
        kind = self._account_types[self._account_of_chat[c]]
        chat_type = self._chat_type(c)
        h = self._h(5, c)
        if kind == "WHATSAPP":
            if chat_type == 0:
                pid = self._sender_ids[self._chat_attendees[c][1]]
            else:
                suffix = "@g.us" if chat_type == 1 else "@broadcast"
                pid = f"120363{10**11 + c * 7919 + h % 7919}{suffix}"
        elif kind == "LINKEDIN":
            raw = f"thread:{c}:{h:x}".encode()
            pid = "2-" + base64.urlsafe_b64encode(raw).decode()
        elif kind == "SLACK":
            pid = ("D0" if chat_type == 0 else "C0") + _b32(h, 5) + _b32(c, 4)
        elif kind == "TELEGRAM":
            pid = str(-1_001_000_000_000 - c) if chat_type else str(5_000_000_000 + c)
        else:
            pid = f"t_{10**14 + c * 104_729 + h % 104_729}"
        return pid + _HOSTILE_SUFFIX if self._is_hostile(c, 7) else pid

    # -- sizes and lookups ------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The seed everything is derived from."""
        return self.config.seed

    @property
    def account_count(self) -> int:
        """Number of accounts served (one more than configured with ``quirks``)."""
        return len(self._account_ids)

    @property
    def chat_count(self) -> int:
        """Number of chats."""
        return len(self._chat_ids)

    @property
    def message_count(self) -> int:
        """Number of messages."""
        return len(self._ts)

    def account_id(self, index: int) -> str:
        """The id of the account at ``index`` (its position in the account list)."""
        return self._account_ids[index]

    def chat_id(self, index: int) -> str:
        """The id of chat number ``index`` (creation order, not list order)."""
        return self._chat_ids[index]

    def message_id(self, index: int) -> str:
        """The id of the message at ``index`` (its position in the unfiltered list)."""
        return self._make_id("msg_", index, 13)

    def find_account(self, account_id: str) -> int | None:
        """The index of an account id, or ``None``."""
        index = self._parse_id("acc_", account_id, len(self._account_ids))
        return index if index is not None and self._account_ids[index] == account_id else None

    def find_chat(self, chat_id: str) -> int | None:
        """The index of a postpress chat id, or ``None``."""
        index = self._parse_id("chat_", chat_id, len(self._chat_ids))
        return index if index is not None and self._chat_ids[index] == chat_id else None

    def find_provider_chat(self, account_index: int, provider_id: str) -> int | None:
        """The index of the chat a provider chat id names within one account, or ``None``."""
        return self._provider_chats.get((account_index, provider_id))

    def find_message(self, message_id: str) -> int | None:
        """The index of a message id, or ``None``."""
        index = self._parse_id("msg_", message_id, len(self._ts))
        return index if index is not None and self.message_id(index) == message_id else None

    def find_sender(self, sender_id: str) -> int | None:
        """The index of a sender id, or ``None``."""
        return self._sender_index.get(sender_id)

    def account_of_sender(self, sender: int) -> int:
        """The account whose contact book a sender belongs to."""
        return sender // (_CONTACTS_PER_ACCOUNT + 1)

    def account_of_chat(self, chat: int) -> int:
        """The account owning a chat."""
        return self._account_of_chat[chat]

    def account_type(self, account: int) -> str:
        """The type of an account."""
        return self._account_types[account]

    def chat_timestamp_ms(self, chat: int) -> int | None:
        """A chat's last activity, or ``None`` for a chat without messages."""
        ts = self._chat_ts[chat]
        return None if ts == _NULL_KEY else ts

    def chat_unread_count(self, chat: int) -> int:
        """A chat's number of unread messages."""
        h = self._h(6, chat)
        return 0 if h % 3 else 1 + (h >> 8) % 40

    def message_timestamp_ms(self, index: int) -> int:
        """A message's timestamp in milliseconds since the epoch."""
        return self._ts[index]

    def account_row(self, index: int) -> AccountRow:
        """Ground-truth columns of one account."""
        return AccountRow(
            self._account_ids[index], self._account_types[index], self._account_created[index]
        )

    def chat_row(self, index: int) -> ChatRow:
        """Ground-truth columns of one chat."""
        a = self._account_of_chat[index]
        return ChatRow(
            self._chat_ids[index],
            self._account_ids[a],
            self._account_types[a],
            self._chat_provider[index],
            self.chat_timestamp_ms(index),
            self.chat_unread_count(index),
        )

    def message_row(self, index: int) -> MessageRow:
        """Ground-truth columns of one message."""
        c = self._chat_col[index]
        return MessageRow(
            self.message_id(index),
            self._ts[index],
            self._chat_ids[c],
            self._account_ids[self._account_of_chat[c]],
            self._sender_ids[self._sender_col[index]],
        )

    # -- indexes the server pages through -----------------------------------------------

    def message_candidates(self, account: int | None, sender: int | None) -> Sequence[int]:
        """Ascending message indexes matching the account/sender filters (no copy)."""
        if sender is not None:
            if account is not None and self.account_of_sender(sender) != account:
                return range(0)
            found = self._sender_messages.get(sender)
            if found is None:
                owner = self.account_of_sender(sender)
                col = self._sender_col
                found = array("i", (i for i in self._account_messages[owner] if col[i] == sender))
                self._sender_messages[sender] = found
            return found
        if account is not None:
            return self._account_messages[account]
        return range(len(self._ts))

    def message_time_window(
        self, candidates: Sequence[int], before_us: int | None, after_us: int | None
    ) -> tuple[int, int]:
        """The ``[lo, hi)`` slice of ``candidates`` strictly inside the time bounds."""
        ts = self._ts
        lo, hi = 0, len(candidates)
        if after_us is not None:
            bound = after_us // 1000  # ts > after  <=>  ts_ms > floor(after_us / 1000)
            hi = bisect.bisect_left(candidates, -bound, key=lambda i: -ts[i])
        if before_us is not None:
            bound = -((-before_us) // 1000)  # ts < before  <=>  ts_ms < ceil(before_us / 1000)
            lo = bisect.bisect_right(candidates, -bound, key=lambda i: -ts[i])
        return lo, max(lo, hi)

    def chat_time_window(self, before_us: int | None, after_us: int | None) -> tuple[int, int]:
        """The ``[lo, hi)`` ranks of the chat order strictly inside the time bounds."""
        keys = self._chat_order_keys
        lo, hi = 0, len(keys)
        if before_us is not None or after_us is not None:
            hi = bisect.bisect_left(keys, _NULL_KEY)
        if after_us is not None:
            hi = min(hi, bisect.bisect_left(keys, -(after_us // 1000)))
        if before_us is not None:
            ceiling = -((-before_us) // 1000)
            lo = bisect.bisect_right(keys, -ceiling)
        return lo, max(lo, hi)

    def chat_at_rank(self, rank: int) -> int:
        """The chat index at a position of the chat order."""
        return self._chat_order[rank]

    def chat_rank(self, chat: int) -> int:
        """The position of a chat in the chat order."""
        return self._chat_rank[chat]

    # -- rendering ----------------------------------------------------------------------

    def account(self, index: int) -> dict[str, Any]:
        """The wire object of one account."""
        kind = self._account_types[index]
        h = self._h(7, index)
        account_id = self._account_ids[index]
        owner = self._sender_ids[index * (_CONTACTS_PER_ACCOUNT + 1)]
        person = f"{_FIRST[h % len(_FIRST)]} {_LAST[(h >> 8) % len(_LAST)]}"
        handle = f"user{index}"
        email = f"{handle}@example.com"
        params: dict[str, Any]
        name = email
        sources: list[str]
        if kind == "MOBILE":
            phone = f"+1555{index:07d}"
            sim = f"8901260{h % 10**12:012d}"
            params = {
                "im": {"phone_number": phone, "sim_serial_number": sim},
                "call": {"phone_number": phone, "sim_serial_number": sim},
                "last_fetched_at": format_ms(self._account_created[index] + 3_600_000),
            }
            name, sources = phone, ["im", "call"]
        elif kind in ("MAIL", "ICLOUD", "EXCHANGE"):
            host = {"MAIL": "mail.example.com", "ICLOUD": "imap.mail.me.com"}.get(
                kind, "outlook.office365.com"
            )
            mail: dict[str, Any] = {"imap_host": host, "imap_port": 993, "imap_user": email}
            encryption = ("tls", "ssl", "starttls", "default", None)[(h >> 16) % 5]
            if self.config.quirks and index % 5 == 1:
                encryption = "none"
            if encryption is not None:
                mail["imap_encryption"] = encryption
            mail.update(smtp_host=host.replace("imap", "smtp"), smtp_port=587, smtp_user=email)
            params, sources = {"mail": mail}, ["mail"]
        elif kind in ("GOOGLE_OAUTH", "OUTLOOK"):
            params = {
                "mail": {"id": email, "username": email},
                "calendar": {"id": email, "username": email},
            }
            sources = ["mail", "calendar"]
        elif kind == "GOOGLE_CALENDAR":
            params = {"calendar": email}
            if h & 1:
                params["sync_token"] = f"CPDAlvWDx{_b32(h, 10)}="
            sources = ["calendar"]
        elif kind == "WHATSAPP":
            params = {"im": {"phone_number": "+" + owner.split("@")[0]}}
            name, sources = person, ["messaging"]
        elif kind == "LINKEDIN":
            im: dict[str, Any] = {"id": owner}
            if h & 1:
                im["publicIdentifier"] = f"{handle}-{h % 1000}"
            im["username"] = handle
            premium = (h >> 4) & 1 == 1
            im["premiumId"] = f"prem_{h % 10**6}" if premium else None
            im["premiumContractId"] = f"contract_{h % 10**5}" if premium else None
            if premium:
                im["premiumFeatures"] = ["recruiter", "sales_navigator", "premium"][: 1 + h % 3]
            im["organizations"] = [
                {
                    "name": "Acme Inc.",
                    "messaging_enabled": True,
                    "organization_urn": f"urn:li:organization:{12345 + index}",
                    "mailbox_urn": f"urn:li:fsd_messagingThread:{_b32(h, 8)}",
                }
            ][: (h >> 5) & 1]
            if (h >> 6) & 1:
                proxy: dict[str, Any] = {
                    "source": "USER",
                    "host": "proxy.example.net",
                    "port": 8080,
                }
                if (h >> 7) & 1:
                    proxy.update(protocol="socks5", username="proxyuser", password="s3cret")
                im["proxy"] = proxy
            params, name, sources = {"im": im}, person, ["messaging"]
        elif kind == "SLACK":
            params = {
                "im": {
                    "url": f"https://acme-{index}.slack.com/",
                    "user": handle,
                    "user_id": owner,
                    "team": f"Acme {index}",
                    "team_id": "T0" + _b32(h, 8),
                }
            }
            name, sources = f"{person} (Acme {index})", ["messaging"]
        elif kind == "TELEGRAM":
            params = {"im": {"user_id": owner, "username": handle}}
            name, sources = person, ["messaging"]
        elif kind in ("TWITTER", "INSTAGRAM", "MESSENGER"):
            params = {"im": {"id": owner, "username": handle}}
            name, sources = f"@{handle}", ["messaging"]
        else:
            params = {"im": {"did": f"did:plc:{_b32(h, 12).lower()}", "handle": f"{handle}.bsky"}}
            name, sources = f"{handle}.bsky.social", ["messaging"]
        body: dict[str, Any] = {
            "object": "Account",
            "type": kind,
            "id": account_id,
            "name": name,
            "created_at": format_ms(self._account_created[index]),
            "connection_params": params,
        }
        style = index % 3
        if style == 2:
            body["current_signature"] = f"sig_{_b32(h, 8)}"
        if style:
            body["signatures"] = [
                {"title": "Default", "content": f"Sent from postpress — {person}"},
                {"title": "Formal ✍️", "content": f"Best regards,\n{person}"},
            ][: style - 1 + (h >> 20) % 2]
        body["groups"] = [f"grp_{_b32(h >> 24, 8)}"] if index % 4 == 3 else []
        statuses = []
        for k, source in enumerate(sources):
            status = _SOURCE_STATUSES[(index + k) % len(_SOURCE_STATUSES)]
            if self.config.quirks and index % 6 == 5 and k == 0:
                status = "SUSPENDED"
            statuses.append({"id": source, "status": status})
        body["sources"] = statuses
        return body

    def chat(self, index: int) -> dict[str, Any]:
        """The wire object of one chat as listed (without ``lastMessage``)."""
        a = self._account_of_chat[index]
        kind = self._account_types[a]
        chat_type = self._chat_type(index)
        h = self._h(8, index)
        members = self._chat_attendees[index]
        body: dict[str, Any] = {
            "object": "Chat",
            "id": self._chat_ids[index],
            "account_id": self._account_ids[a],
            "account_type": kind,
            "provider_id": self._chat_provider[index],
        }
        if chat_type == 0:
            body["attendee_provider_id"] = self._sender_ids[members[1]]
            contact = self._sender_name(members[1])
            body["name"] = None if h % 8 == 0 else contact
        elif chat_type == 1:
            body["name"] = ("Team offsite 🏕️", "Famille 👨‍👩‍👧", "项目组", "Book club")[h % 4]
        else:
            body["name"] = f"Broadcast #{index}"
        ts = self.chat_timestamp_ms(index)
        body["type"] = chat_type
        body["timestamp"] = None if ts is None else format_ms(ts)
        body["unread_count"] = self.chat_unread_count(index)
        body["archived"] = 1 if (h >> 4) % 6 == 0 else 0
        mute = (h >> 8) % 8
        body["muted_until"] = (
            -1
            if mute == 0
            else format_ms(_NEWEST_MS + (h % 90) * 86_400_000)
            if mute == 1
            else None
        )
        body["read_only"] = (0, 0, 0, 0, 1, 2)[(h >> 12) % 6]
        if (h >> 16) % 5 == 0:
            body["disabledFeatures"] = ["reactions", "reply"][: 1 + (h >> 20) % 2]
            if self.config.quirks and index % 3 == 0:
                body["disabledFeatures"].append("typing")
        if chat_type == 1 and (h >> 22) & 1:
            body["subject"] = "Q3 planning — agenda"
        if kind == "LINKEDIN":
            if (h >> 23) % 3 == 0:
                body["organization_id"] = f"urn:li:organization:{12345 + a}"
                body["mailbox_id"] = f"urn:li:fsd_profile:{_b32(h, 10)}"
            content = ("inmail", "sponsored", "linkedin_offer", None, None)[(h >> 25) % 5]
            if self.config.quirks and index % 4 == 2:
                content = "job_offer"
            if content is not None:
                body["content_type"] = content
            body["folder"] = ["INBOX", _LI_FOLDERS[(h >> 28) % len(_LI_FOLDERS)]]
        elif (h >> 28) % 3 == 0:
            body["folder"] = [_FOLDERS[0], "Clients 💼"] if (h >> 30) & 1 else [_FOLDERS[0]]
        body["pinned"] = 1 if (h >> 32) % 7 == 0 else 0
        if self.config.quirks and index % 3 == 1:
            body["unread"] = body["unread_count"] > 0
        return body

    def chat_with_last_message(self, index: int) -> dict[str, Any]:
        """The wire object of one chat as retrieved (with ``lastMessage``, maybe ``null``)."""
        body = self.chat(index)
        last = self._chat_last[index]
        body["lastMessage"] = self.message(last) if last >= 0 else None
        return body

    def _sender_name(self, sender: int) -> str:
        h = self._h(9, sender)
        return f"{_FIRST[h % len(_FIRST)]} {_LAST[(h >> 8) % len(_LAST)]}"

    @staticmethod
    def _text(h: int) -> int:
        """An index into the text pool: 1/256 null, 1/256 empty, 1/128 several KB long."""
        pick = h & 0xFF
        if pick < 4:
            return pick if pick < 2 else 2 + (h >> 8) % len(_LONG_TEXTS)
        return 2 + len(_LONG_TEXTS) + (h >> 8) % len(_TEXTS)

    def _older_in_chat(self, i: int) -> int | None:
        older = self._older[i]
        return older if older >= 0 else None

    def _attachment(self, kind: str, h: int, owner_id: str, k: int) -> dict[str, Any]:
        body: dict[str, Any] = {"id": f"{owner_id}-att{k}", "type": kind}
        if h & 1:
            body["file_size"] = 1024 + h % 5_000_000
        body["unavailable"] = (h >> 1) % 11 == 0
        if kind == "location":
            body.update(latitude=48.8566, longitude=2.3522)
            return body
        if (h >> 2) & 3:
            mimes = _MIMES[kind]
            body["mimetype"] = mimes[(h >> 4) % len(mimes)]
            body["url"] = f"https://files.example.com/{owner_id}/{k}?sig={_b32(h, 8)}"
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

    def _attachments(self, h: int, i: int) -> list[dict[str, Any]]:
        """One or two attachments (callers check ``(h >> 16) & 30 == 0`` first)."""
        owner_id = self.message_id(i)
        kinds = len(_ATTACHMENT_TYPES) + (1 if self.config.quirks else 0)
        out = []
        for k in range(1 + ((h >> 16) & 1)):
            pick = (h >> (20 + 3 * k)) % kinds
            kind = _ATTACHMENT_TYPES[pick] if pick < len(_ATTACHMENT_TYPES) else "location"
            out.append(self._attachment(kind, _mix(h + k), owner_id, k))
        return out

    @staticmethod
    def _message_provider_id(kind: str, i: int, h: int) -> str:
        prefix = _MESSAGE_PROVIDER_PREFIX.get(kind)
        if prefix is None:
            return str(10**17 + i * 8 + h % 8)
        return f"{prefix}{h & 0xFFFFFFFFFFFF:012X}{i:08X}"

    def message(self, index: int) -> dict[str, Any]:
        """The wire object of message ``index`` (the same in the list and on retrieve)."""
        decoded: dict[str, Any] = msgspec.json.decode(self.message_json(index))
        return decoded

    def _chat_fragment(self, c: int) -> bytes:
        fragment = self._chat_fragments[c]
        if fragment is None:
            a = self._account_of_chat[c]
            fragment = b"".join(
                (
                    b',"account_id":',
                    _enc(self._account_ids[a]),
                    b',"chat_id":',
                    _enc(self._chat_ids[c]),
                    b',"chat_provider_id":',
                    _enc(self._chat_provider[c]),
                )
            )
            self._chat_fragments[c] = fragment
        return fragment

    def message_json(self, i: int) -> bytes:
        """Message ``i`` encoded exactly as the server sends it.

        Built from pre-encoded fragments with bytes formatting rather than from a dict,
        because this is the hot path of every benchmark: a 250-message page must render
        in a couple of milliseconds.
        """
        cfg = self.config
        h = _mix(self._message_salt ^ i)
        h2 = _mix(h)
        c = self._chat_col[i]
        kind = self._account_types[self._account_of_chat[c]]
        s = self._sender_col[i]
        members = self._chat_attendees[c]
        ts = self._ts[i]
        if cfg.hostile_ids and i % 13 == 1:
            mid = _enc(self.message_id(i))
        else:
            mid = b'"%s%016X"' % (self._message_head, i)
        provider_id = self._message_provider_id(kind, i, h).encode()
        rem = ts % 3_600_000
        out = [
            b'{"object":"Message","id":%s%s,"provider_id":"%s"%s%s,"timestamp":"%s%02d:%02d.%03dZ"'
            b',"text":%s,"is_sender":%d,"attachments":%s'
            % (
                mid,
                b',"message_id":' + mid if h2 % 9 == 0 else b"",
                provider_id,
                self._chat_fragments[c] or self._chat_fragment(c),
                self._sender_fragments[s],
                _hour_bytes(ts // 3_600_000),
                rem // 60_000,
                rem // 1000 % 60,
                rem % 1000,
                _TEXT_JSON[self._text(h)],
                s == members[0],
                _enc(self._attachments(h, i)) if (h >> 16) & 30 == 0 else b"[]",
            )
        ]
        older = None
        if (h >> 27) & 15 == 0 or (h >> 31) & 15 == 0:
            older = self._older_in_chat(i)
        if older is not None and (h >> 27) & 15 == 0:
            out += (b',"quoted":', _enc(self._quoted(kind, older, h2 & 1 == 1)))
        if (h2 >> 1) % 17 == 0:
            out.append(b',"is_forwarded":true' if (h2 >> 6) & 1 else b',"is_forwarded":false')
        out.append(b',"reactions":')
        out.append(_enc(self._reactions(h2, members)) if (h >> 35) & 15 == 0 else b"[]")
        seen = 0
        entries = []
        for k, member in enumerate(members):
            if member == s:
                continue
            mode = (h2 >> (24 + 2 * (k % 16))) & 3
            if mode == 0:
                value = b'"%sZ"' % format_ms(ts + 1000 * (1 + k))[:-1].encode()
            else:
                value = b"true" if mode != 3 else b"false"
            seen |= mode != 3
            entries.append(self._attendee_keys[member] + value)
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
            event_type = 99 if cfg.quirks and i % 2 else (h2 >> 40) % 14
            out.append(b',"event_type":%d' % event_type)
        out.append(_ORIGINAL % (_KIND_LOWER[kind], provider_id, ts))
        if (h2 >> 44) % 5 == 0:
            replies = (h2 >> 48) % 12
            out.append(b',"replies":%d' % replies)
            if replies:
                out += (b',"reply_by":', _enc([self._sender_attendee_ids[m] for m in members[1:3]]))
        if older is not None and (h2 >> 52) % 3 == 0:
            out += (b',"parent":', _enc(self.message_id(older)))
        if kind == "LINKEDIN":
            out.append(self._linkedin_fields(i, h2, s))
        if older is not None and (h >> 31) & 15 == 0:
            out += (b',"reply_to":', _enc(self._reply_to(kind, older)))
        if cfg.quirks and i % 4 == 1:
            out.append(b',"pinned":0')
        out.append(b"}")
        return b"".join(out)

    def _quoted(self, kind: str, older: int, with_id: bool) -> dict[str, Any]:
        oh = self._h(10, older)
        quoted: dict[str, Any] = {}
        if with_id:
            quoted["message_id"] = self.message_id(older)
        quoted["provider_id"] = self._message_provider_id(kind, older, oh)
        quoted["sender_id"] = self._sender_ids[self._sender_col[older]]
        quoted["text"] = _TEXT_POOL[self._text(oh)]
        quoted["attachments"] = self._attachments(oh, older) if (oh >> 16) & 30 == 0 else []
        return quoted

    def _reply_to(self, kind: str, older: int) -> dict[str, Any]:
        oh = self._h(10, older)
        sender = self._sender_col[older]
        return {
            "id": self.message_id(older),
            "provider_id": self._message_provider_id(kind, older, oh),
            "timestamp": format_ms(self._ts[older]),
            "sender_attendee_id": self._sender_attendee_ids[sender],
            "sender_id": self._sender_ids[sender],
            "text": _TEXT_POOL[self._text(oh)],
        }

    def _reactions(self, h2: int, members: tuple[int, ...]) -> list[dict[str, Any]]:
        reactions = []
        for k in range(1 + (h2 >> 8) % 3):
            who = members[(h2 >> (10 + 2 * k)) % len(members)]
            reaction: dict[str, Any] = {
                "value": _REACTIONS[(h2 >> (16 + 3 * k)) % len(_REACTIONS)],
                "sender_id": self._sender_ids[who],
                "is_sender": who == members[0],
            }
            if self.config.quirks and k == 0:
                reaction["object"] = "MessageReaction"
            reactions.append(reaction)
        return reactions

    def _linkedin_fields(self, i: int, h2: int, sender: int) -> bytes:
        quirks = self.config.quirks
        key = (h2 >> 54, quirks and i % 5 == 3, quirks and i % 7 == 4)
        fragment = self._linkedin_cache.get(key)
        if fragment is None:
            fields: dict[str, Any] = {}
            if (h2 >> 54) & 1:
                fields["subject"] = None if (h2 >> 55) & 1 else "Opportunity at Acme 🚀"
            msg_types = ("MESSAGE", "INVITATION", "INMAIL", "INMAIL_DECLINE", "INMAIL_REPLY")
            msg_type = (*msg_types, "INMAIL_ACCEPT")[(h2 >> 56) % 6]
            fields["message_type"] = "SPONSORED_MESSAGE" if key[1] else msg_type
            attendee = ("MEMBER", "ORGANIZATION", "OTHER")[(h2 >> 59) % 3]
            fields["attendee_type"] = "BOT" if key[2] else attendee
            fields["attendee_distance"] = (1, 2, 3, 4, -1)[(h2 >> 61) % 5]
            fragment = b"," + _enc(fields)[1:-1]
            self._linkedin_cache[key] = fragment
        urn = _enc(f"urn:li:fsd_profile:{self._sender_ids[sender]}")
        return fragment + b',"sender_urn":' + urn

    # -- ground truth: brute force, independent of the indexes above ------------------

    def expected_account_ids(self) -> list[str]:
        """Every account id in list order (newest ``created_at`` first)."""
        rows = [self.account_row(i) for i in range(self.account_count)]
        rows.sort(key=lambda r: (-r.created_at_ms, r.id))
        return [r.id for r in rows]

    def expected_chat_ids(
        self,
        *,
        account_id: str | Iterable[str] | None = None,
        account_type: str | None = None,
        unread: bool | None = None,
        before: str | _dt.datetime | None = None,
        after: str | _dt.datetime | None = None,
    ) -> list[str]:
        """Every chat id the list returns for these filters, in order, by brute force."""
        accounts = _id_set(account_id)
        before_us = None if before is None else to_us(before)
        after_us = None if after is None else to_us(after)
        rows = []
        for c in range(self.chat_count):
            row = self.chat_row(c)
            if accounts is not None and row.account_id not in accounts:
                continue
            if account_type is not None and row.account_type != account_type:
                continue
            if unread is not None and (row.unread_count > 0) != unread:
                continue
            if (before_us is not None or after_us is not None) and (
                row.timestamp_ms is None or not _inside(row.timestamp_ms, before_us, after_us)
            ):
                continue
            rows.append(row)
        rows.sort(key=lambda r: (r.timestamp_ms is None, -(r.timestamp_ms or 0), r.id))
        return [r.id for r in rows]

    def expected_message_ids(
        self,
        *,
        account_id: str | None = None,
        sender_id: str | None = None,
        before: str | _dt.datetime | None = None,
        after: str | _dt.datetime | None = None,
    ) -> list[str]:
        """Every message id the list returns for these filters, in order, by brute force."""
        before_us = None if before is None else to_us(before)
        after_us = None if after is None else to_us(after)
        rows = []
        for i in range(self.message_count):
            row = self.message_row(i)
            if account_id is not None and row.account_id != account_id:
                continue
            if sender_id is not None and row.sender_id != sender_id:
                continue
            if not _inside(row.timestamp_ms, before_us, after_us):
                continue
            rows.append(row)
        rows.sort(key=lambda r: (-r.timestamp_ms, r.id))
        return [r.id for r in rows]

    def sender_ids(self) -> list[str]:
        """Every sender id that appears on at least one message, in first-seen order."""
        seen = dict.fromkeys(self._sender_col)
        return [self._sender_ids[s] for s in seen]

    def nbytes(self) -> int:
        """Approximate bytes held by the per-message and per-chat columns."""
        arrays = [
            self._ts,
            self._chat_col,
            self._sender_col,
            self._chat_ts,
            self._chat_last,
            self._older,
            self._chat_order,
            self._chat_rank,
            self._chat_order_keys,
            *self._account_messages,
            *self._sender_messages.values(),
        ]
        return sum(arr.buffer_info()[1] * arr.itemsize for arr in arrays)

    # -- value semantics -----------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        return self.config == other.config

    def __hash__(self) -> int:
        return hash(self.config)

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"Dataset(seed={cfg.seed}, accounts={cfg.accounts}, chats={cfg.chats}, "
            f"messages={cfg.messages}, hostile_ids={cfg.hostile_ids}, quirks={cfg.quirks})"
        )


def _id_set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset(part for part in value.split(",") if part)
    return frozenset(value)


def _inside(timestamp_ms: int, before_us: int | None, after_us: int | None) -> bool:
    """Whether a timestamp lies strictly between the bounds (``None``: no bound)."""
    us = timestamp_ms * 1000
    return (before_us is None or us < before_us) and (after_us is None or us > after_us)
