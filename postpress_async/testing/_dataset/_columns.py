"""The column builder: the few facts stored per account, chat and message.

Only compact columns are stored per message (a timestamp, a chat index and a sender
index, plus the link to the previous message of the same chat); everything else is
derived from ``(seed, index)`` by :mod:`._ids` hashes when rendered.

Message index ``0`` is the newest message: the builder walks back in time from a fixed
anchor, so the index *is* the position in the unfiltered list.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import sys
from array import array
from typing import Final, Literal

from postpress_async.testing._args import check_flag, check_whole
from postpress_async.testing._dataset._bad import MIN_MESSAGES as BAD_RECORDS_MIN_MESSAGES
from postpress_async.testing._dataset._ids import (
    HOSTILE_SUFFIX,
    HostilePeriod,
    IdScheme,
    Salt,
    b32,
)
from postpress_async.testing._dataset._quirks import QUIRKS

__all__ = [
    "ACCOUNT_TYPES",
    "CHAT_ACCOUNT_TYPES",
    "CONTACTS_PER_ACCOUNT",
    "NEWEST_MS",
    "Columns",
    "DatasetConfig",
    "account_type_refusal",
    "build_columns",
    "chat_created",
    "chat_type",
    "chat_unread_count",
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


def account_type_refusal(account_type: str | None) -> str | None:
    """Why the chats listing refuses ``account_type`` (``None``: it takes it)."""
    if account_type is None or account_type in CHAT_ACCOUNT_TYPES:
        return None
    return f"account_type must be one of {', '.join(sorted(CHAT_ACCOUNT_TYPES))}"


NEWEST_MS: Final = 1_779_011_999_000  # 2026-05-17T09:59:59Z, a fixed anchor: no wall clock.
CONTACTS_PER_ACCOUNT: Final = 40
"""Each account's contact book: sender ``a * 41`` is account ``a``'s owner, then 40 contacts."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DatasetConfig:
    """The parameters a :class:`Dataset` is built from; equal configs give equal bytes."""

    seed: int = 0
    accounts: int = 14
    chats: int = 40
    messages: int = 1000
    hostile_ids: bool = False
    quirks: bool = False
    bad_records: bool = False
    """Serve a few messages with the real API's bad bytes (see ``_dataset._bad``)."""
    chat_time: Literal["activity", "created"] = "activity"
    """What ``GET /chats``' ``before``/``after`` filter: ``"activity"`` (``timestamp``) or
    ``"created"`` (a creation time the chats do not show, see :func:`chat_created`)."""
    cursors: Literal["keyset", "offset"] = "keyset"
    """How the listings' cursors say where the next page starts: after the last item
    returned (``"keyset"``) or after so many items of the listing (``"offset"``)."""

    def __post_init__(self) -> None:
        for name in ("seed", "accounts", "chats", "messages"):
            check_whole(name, getattr(self, name))
        for name in ("hostile_ids", "quirks", "bad_records"):
            check_flag(name, getattr(self, name))
        if self.chat_time not in ("activity", "created"):
            raise ValueError(f"chat_time must be 'activity' or 'created', got {self.chat_time!r}")
        if self.cursors not in ("keyset", "offset"):
            raise ValueError(f"cursors must be 'keyset' or 'offset', got {self.cursors!r}")
        if self.accounts < 1:
            raise ValueError("a dataset needs at least one account")
        if self.chats < 0 or self.messages < 0:
            raise ValueError("chats and messages must be >= 0")
        if self.messages and not self.chats:
            raise ValueError("messages need at least one chat")
        if self.bad_records and self.messages < BAD_RECORDS_MIN_MESSAGES:
            raise ValueError(
                f"bad_records needs at least {BAD_RECORDS_MIN_MESSAGES} messages, "
                f"got {self.messages}"
            )


class Columns:
    """The stored facts, as flat tuples and arrays indexed by account, chat or message.

    Message columns are ``array`` s, so a message can be appended at run time
    (:meth:`add_message`); everything the listings need beyond them lives in
    :class:`~._indexes.Indexes`.
    """

    __slots__ = (
        "account_created",
        "account_ids",
        "account_of_chat",
        "account_types",
        "chat_attendees",
        "chat_col",
        "chat_ids",
        "chat_last",
        "chat_provider",
        "older",
        "provider_chats",
        "sender_attendee_ids",
        "sender_col",
        "sender_ids",
        "sender_index",
        "ts",
    )

    # accounts
    account_types: tuple[str, ...]
    account_ids: tuple[str, ...]
    account_created: array[int]
    # senders: the contact books of all accounts, one after the other
    sender_ids: tuple[str, ...]
    sender_index: dict[str, int]
    sender_attendee_ids: tuple[str, ...]
    # chats
    account_of_chat: array[int]
    chat_attendees: tuple[tuple[int, ...], ...]
    """Sender indexes of a chat's members, the account's owner first."""
    chat_ids: tuple[str, ...]
    chat_provider: tuple[str, ...]
    provider_chats: dict[tuple[int, str], int]
    chat_last: array[int]
    """The newest message of each chat, or -1."""
    # messages
    ts: array[int]
    chat_col: array[int]
    sender_col: array[int]
    older: array[int]
    """The previous message of the same chat, or -1."""

    def add_message(self, timestamp_ms: int, chat: int, sender: int) -> int:
        """Append a message to ``chat``; returns its index.

        It becomes the chat's last message unless the chat has a newer one (a message
        stamped in the past, as a provider's lag does, leaves the chat's activity where
        it is), and its previous message is the chat's newest one not newer than it.
        The caller keeps the listing order: a message appended here sits at the end of
        the arrays, not at the head of the newest-first list.
        """
        ts = self.ts
        newest = self.chat_last[chat]
        previous = newest
        while previous >= 0 and ts[previous] > timestamp_ms:
            previous = self.older[previous]
        index = len(ts)
        ts.append(timestamp_ms)
        self.chat_col.append(chat)
        self.sender_col.append(sender)
        self.older.append(previous)
        if newest < 0 or timestamp_ms >= ts[newest]:
            self.chat_last[chat] = index
        return index

    def account_of_sender(self, sender: int) -> int:
        """The account whose contact book a sender belongs to."""
        return sender // (CONTACTS_PER_ACCOUNT + 1)

    def arrays(self) -> list[array[int]]:
        """The arrays whose size grows with the data (for ``Dataset.nbytes``)."""
        return [self.ts, self.chat_col, self.sender_col, self.chat_last, self.older]


def chat_type(ids: IdScheme, chat: int) -> int:
    """A chat's ``type``: 0 one-to-one (70 %), 1 group (20 %), 2 broadcast (10 %)."""
    roll = ids.h(Salt.CHAT_TYPE, chat) % 10
    return 0 if roll < 7 else 1 if roll < 9 else 2


def chat_unread_count(ids: IdScheme, chat: int) -> int:
    """A chat's number of unread messages (zero for two chats in three)."""
    h = ids.h(Salt.CHAT_UNREAD, chat)
    return 0 if h % 3 else 1 + (h >> 8) % 40


def chat_created(cols: Columns, ids: IdScheme) -> array[int]:
    """Each chat's creation time in ms: up to a day before its oldest message (for a chat
    without messages, within a day after its account's creation). Never served: it is
    what ``chat_time="created"`` filters by, fixed from the messages there are now."""
    day = 86_400_000
    oldest = array("q", [NEWEST_MS * 2]) * len(cols.chat_ids)
    ts = cols.ts
    for i, c in enumerate(cols.chat_col):
        if ts[i] < oldest[c]:
            oldest[c] = ts[i]
    created = array("q", bytes(8 * len(cols.chat_ids)))
    for c, first in enumerate(oldest):
        offset = ids.h(Salt.CHAT_CREATED, c) % day
        if first == NEWEST_MS * 2:
            created[c] = cols.account_created[cols.account_of_chat[c]] + offset
        else:
            created[c] = first - offset
    return created


def build_columns(config: DatasetConfig, ids: IdScheme) -> Columns:
    """Build every column of a dataset from its configuration."""
    cols = Columns()
    _build_accounts(cols, config, ids)
    _build_chats(cols, config, ids)
    _build_messages(cols, config, ids)
    return cols


def _u32(rng: random.Random, count: int) -> array[int]:
    values = array("I", rng.randbytes(4 * count))
    if sys.byteorder == "big":  # pragma: no cover - keeps datasets identical on any CPU
        values.byteswap()
    return values


def _build_accounts(cols: Columns, cfg: DatasetConfig, ids: IdScheme) -> None:
    types = [ACCOUNT_TYPES[i % len(ACCOUNT_TYPES)] for i in range(cfg.accounts)]
    if cfg.quirks:
        types.append(QUIRKS.account_type.value)
    cols.account_types = tuple(types)
    cols.account_ids = tuple(ids.account_id(i) for i in range(len(types)))
    created = []
    moment = NEWEST_MS - 86_400_000 * 400
    for i in range(len(types)):
        created.append(moment)
        moment -= 3_600_000 + ids.h(Salt.ACCOUNT_CREATED, i) % (86_400_000 * 20)
    cols.account_created = array("q", created)
    sender_ids = [
        ids.person_id(kind, a, k)
        for a, kind in enumerate(cols.account_types)
        for k in range(CONTACTS_PER_ACCOUNT + 1)
    ]
    cols.sender_ids = tuple(sender_ids)
    cols.sender_index = {sid: n for n, sid in enumerate(sender_ids)}
    cols.sender_attendee_ids = tuple(ids.attendee_id(n) for n in range(len(sender_ids)))


def _build_chats(cols: Columns, cfg: DatasetConfig, ids: IdScheme) -> None:
    messaging = [a for a, t in enumerate(cols.account_types) if t in CHAT_ACCOUNT_TYPES]
    account_of_chat = array("i")
    attendees: list[tuple[int, ...]] = []
    for c in range(cfg.chats):
        h = ids.h(Salt.CHAT_ACCOUNT, c)
        a = messaging[c % len(messaging)] if c < len(messaging) else messaging[h % len(messaging)]
        account_of_chat.append(a)
        owner = a * (CONTACTS_PER_ACCOUNT + 1)
        kind = chat_type(ids, c)
        others = 1 if kind == 0 else 2 + (h >> 8) % 6 if kind == 1 else 1 + (h >> 8) % 3
        first = (h >> 16) % CONTACTS_PER_ACCOUNT
        picked = tuple(owner + 1 + (first + k * 7) % CONTACTS_PER_ACCOUNT for k in range(others))
        attendees.append((owner, *picked))
    cols.account_of_chat = account_of_chat
    cols.chat_attendees = tuple(attendees)
    cols.chat_ids = tuple(ids.chat_id(c) for c in range(cfg.chats))
    cols.chat_provider = tuple(_chat_provider_id(cols, ids, c) for c in range(cfg.chats))
    cols.provider_chats = {(account_of_chat[c], pid): c for c, pid in enumerate(cols.chat_provider)}


def _chat_provider_id(cols: Columns, ids: IdScheme, c: int) -> str:
    kind = cols.account_types[cols.account_of_chat[c]]
    kind_of_chat = chat_type(ids, c)
    h = ids.h(Salt.CHAT_PROVIDER, c)
    if kind == "WHATSAPP":
        if kind_of_chat == 0:
            pid = cols.sender_ids[cols.chat_attendees[c][1]]
        else:
            suffix = "@g.us" if kind_of_chat == 1 else "@broadcast"
            pid = f"120363{10**11 + c * 7919 + h % 7919}{suffix}"
    elif kind == "LINKEDIN":
        raw = f"thread:{c}:{h:x}".encode()
        pid = "2-" + base64.urlsafe_b64encode(raw).decode()
    elif kind == "SLACK":
        pid = ("D0" if kind_of_chat == 0 else "C0") + b32(h, 5) + b32(c, 4)
    elif kind == "TELEGRAM":
        pid = str(-1_001_000_000_000 - c) if kind_of_chat else str(5_000_000_000 + c)
    else:
        pid = f"t_{10**14 + c * 104_729 + h % 104_729}"
    if ids.is_hostile(c, HostilePeriod.CHAT_PROVIDER):
        return pid + HOSTILE_SUFFIX
    return pid


def _build_messages(cols: Columns, cfg: DatasetConfig, ids: IdScheme) -> None:
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
    attendees = cols.chat_attendees
    moment = NEWEST_MS - ids.salt % 86_400_000
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
        newer = seen[c]
        if newer < 0:
            last[c] = i
        else:
            older[newer] = i
        seen[c] = i
    cols.ts = ts
    cols.chat_col = chat_col
    cols.sender_col = sender_col
    cols.chat_last = last
    cols.older = older
