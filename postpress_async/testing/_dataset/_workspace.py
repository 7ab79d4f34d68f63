"""The :class:`Dataset` facade: one configuration, its columns, indexes and renderer."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import msgspec

from postpress_async.testing._dataset import _truth
from postpress_async.testing._dataset._bad import KINDS as BAD_KINDS
from postpress_async.testing._dataset._bad import BadRecord, bad_indexes, spoil
from postpress_async.testing._dataset._columns import (
    CONTACTS_PER_ACCOUNT,
    DatasetConfig,
    build_columns,
    chat_created,
    chat_unread_count,
)
from postpress_async.testing._dataset._ids import IdScheme
from postpress_async.testing._dataset._indexes import Indexes
from postpress_async.testing._dataset._quirks import QUIRKS
from postpress_async.testing._dataset._render import Renderer
from postpress_async.testing._dataset._truth import AccountRow, ChatRow, MessageRow

__all__ = ["Dataset"]


class Dataset:
    """A seeded synthetic workspace: accounts, chats and messages, rendered on demand.

    ``Dataset(seed=0, accounts=14, chats=40, messages=1000)`` builds in well under a
    second; ``messages=1_000_000`` in one or two seconds and about 24 MB. Two datasets with
    the same arguments serve the same bytes.

    ``quirks=True`` adds the real API's habits an SDK must survive: an account of an
    unknown type, attachments of an unknown type, undocumented extra fields (``unread``
    on chats, ``pinned`` on messages, ``object`` on reactions), unknown enum values and,
    in the server, no ``cursor`` key at all on a last page.

    ``chat_time="created"`` makes ``GET /chats``' ``before``/``after`` filter by a
    creation time of each chat (up to a day before its oldest message; never served, as
    the real Chat shows none) instead of the last activity ``timestamp``: the other
    reading of the API docs, against which an SDK that follows chats by ``after=`` misses
    every chat whose activity moved. The default, ``"activity"``, serves the same bytes
    as before the option existed.

    ``cursors="offset"`` pages the three listings as a server that counts does: a
    cursor is ``{"skip": N}`` (base64 JSON, as the API reference's example) plus a
    fingerprint of the filters, and the next page starts N items into the listing as it
    is then. A message that arrives (or is listed late) ahead of a walk's position
    between two pages shifts the later pages by one: the item at the boundary is listed
    again. Nothing is skipped, as nothing is ever deleted. The default, ``"keyset"``,
    names the last item returned, so arrivals shift no page.

    ``bad_records=True`` (at least 40 messages) serves seven messages, at fixed places
    spread over the list, with the bytes the real API sometimes sends: lone surrogate
    escapes and a NUL in a text, a number for ``timestamp`` or ``id``, ``null`` and a
    string instead of an object. :meth:`bad_messages` lists them; the places and bytes
    are documented in ``postpress_async.testing._dataset._bad``.
    """

    __slots__ = (
        "_bad",
        "_chat_created",
        "_clean_json",
        "_clean_page_json",
        "_cols",
        "_ids",
        "_indexes",
        "_renderer",
        "_spoiled",
        "config",
        "message_json",
        "messages_json",
    )

    message_json: Callable[[int], bytes]
    """Message ``index`` encoded exactly as the server sends it: on retrieve, and the very
    slice of a list page that holds it (bad records included).

    Without bad records, the renderer's own bound method, so the server's hot path pays
    no extra call.
    """
    messages_json: Callable[[Sequence[int]], bytes]
    """The messages at these indexes encoded as the server sends them, joined by commas.

    A list page's items, rendered together (much faster than one ``message_json`` each);
    without bad records, the renderer's own bound method.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        accounts: int = 14,
        chats: int = 40,
        messages: int = 1000,
        hostile_ids: bool = False,
        quirks: bool = False,
        bad_records: bool = False,
        chat_time: Literal["activity", "created"] = "activity",
        cursors: Literal["keyset", "offset"] = "keyset",
    ) -> None:
        self.config: DatasetConfig = DatasetConfig(
            seed=seed,
            accounts=accounts,
            chats=chats,
            messages=messages,
            hostile_ids=hostile_ids,
            quirks=quirks,
            bad_records=bad_records,
            chat_time=chat_time,
            cursors=cursors,
        )
        self._ids = IdScheme(seed=seed, hostile=hostile_ids)
        self._cols = build_columns(self.config, self._ids)
        # Fixed at build time: messages added later are newer than a chat's creation.
        self._chat_created = chat_created(self._cols, self._ids) if chat_time == "created" else None
        self._indexes = Indexes(self._cols)
        self._renderer = Renderer(self._cols, self._ids, QUIRKS if quirks else None)
        self._clean_json = self._renderer.messages.message_json
        self._clean_page_json = self._renderer.messages.messages_json
        self._bad: dict[int, str] = bad_indexes(messages) if bad_records else {}
        self._spoiled: dict[int, bytes] = {}
        if self._bad:
            self.message_json = self._bad_message_json
            self.messages_json = self._bad_messages_json
        else:
            self.message_json = self._clean_json
            self.messages_json = self._clean_page_json

    # -- sizes and lookups ------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The seed everything is derived from."""
        return self.config.seed

    @property
    def account_count(self) -> int:
        """Number of accounts served (one more than configured with ``quirks``)."""
        return len(self._cols.account_ids)

    @property
    def chat_count(self) -> int:
        """Number of chats."""
        return len(self._cols.chat_ids)

    @property
    def message_count(self) -> int:
        """Number of messages."""
        return len(self._cols.ts)

    def account_id(self, index: int) -> str:
        """The id of the account at ``index`` (its position in the account list)."""
        return self._cols.account_ids[index]

    def chat_id(self, index: int) -> str:
        """The id of chat number ``index`` (creation order, not list order)."""
        return self._cols.chat_ids[index]

    def message_id(self, index: int) -> str:
        """The id of the message at ``index`` (its position in the unfiltered list)."""
        return self._ids.message_id(index)

    def find_account(self, account_id: str) -> int | None:
        """The index of an account id, or ``None``."""
        ids = self._cols.account_ids
        index = self._ids.parse_id("acc_", account_id, len(ids))
        return index if index is not None and ids[index] == account_id else None

    def find_chat(self, chat_id: str) -> int | None:
        """The index of a postpress chat id, or ``None``."""
        ids = self._cols.chat_ids
        index = self._ids.parse_id("chat_", chat_id, len(ids))
        return index if index is not None and ids[index] == chat_id else None

    def find_provider_chat(self, account_index: int, provider_id: str) -> int | None:
        """The index of the chat a provider chat id names within one account, or ``None``."""
        return self._cols.provider_chats.get((account_index, provider_id))

    def find_message(self, message_id: str) -> int | None:
        """The index of a message id, or ``None``."""
        index = self._ids.parse_id("msg_", message_id, len(self._cols.ts))
        return index if index is not None and self.message_id(index) == message_id else None

    def find_sender(self, sender_id: str) -> int | None:
        """The index of a sender id, or ``None``."""
        return self._cols.sender_index.get(sender_id)

    def account_of_sender(self, sender: int) -> int:
        """The account whose contact book a sender belongs to."""
        return sender // (CONTACTS_PER_ACCOUNT + 1)

    def account_of_chat(self, chat: int) -> int:
        """The account owning a chat."""
        return self._cols.account_of_chat[chat]

    def account_type(self, account: int) -> str:
        """The type of an account."""
        return self._cols.account_types[account]

    def chat_timestamp_ms(self, chat: int) -> int | None:
        """A chat's last activity, or ``None`` for a chat without messages."""
        last = self._cols.chat_last[chat]
        return None if last < 0 else self._cols.ts[last]

    def chat_created_ms(self, chat: int) -> int | None:
        """A chat's creation time (``chat_time="created"`` only, else ``None``): what
        ``before``/``after`` filter chats by; never served."""
        created = self._chat_created
        return None if created is None else created[chat]

    def chat_unread_count(self, chat: int) -> int:
        """A chat's number of unread messages."""
        return chat_unread_count(self._ids, chat)

    def message_timestamp_ms(self, index: int) -> int:
        """A message's timestamp in milliseconds since the epoch."""
        return self._cols.ts[index]

    def account_row(self, index: int) -> AccountRow:
        """Ground-truth columns of one account."""
        return _truth.account_row(self._cols, index)

    def chat_row(self, index: int) -> ChatRow:
        """Ground-truth columns of one chat."""
        return _truth.chat_row(self._cols, self._ids, index)

    def message_row(self, index: int) -> MessageRow:
        """Ground-truth columns of one message."""
        return _truth.message_row(self._cols, self._ids, index)

    def add_message(
        self, timestamp_ms: int, *, chat: int | None = None, sender: int | None = None
    ) -> int:
        """Append a message (a live feed's) and return its index.

        ``chat`` defaults to one picked from the index, ``sender`` to one of the chat's
        members. The chat's activity and the chat order follow at once; the message
        listings are the caller's (see ``testing._live``): the built indexes keep
        ordering the built messages only.
        """
        cols = self._cols
        if not cols.chat_ids:
            raise ValueError("a dataset without chats cannot take new messages")
        index = len(cols.ts)
        if chat is None:
            chat = self._ids.h(12, index) % len(cols.chat_ids)
        members = cols.chat_attendees[chat]
        if sender is None:
            sender = members[self._ids.h(13, index) % len(members)]
        elif sender not in members:
            raise ValueError(f"sender {sender} is not a member of chat {chat}")
        cols.add_message(timestamp_ms, chat, sender)
        self._indexes.refresh_chat_order()
        return index

    # -- indexes the server pages through -----------------------------------------------

    def message_candidates(self, account: int | None, sender: int | None) -> Sequence[int]:
        """Ascending message indexes matching the account/sender filters (no copy)."""
        return self._indexes.message_candidates(account, sender)

    def message_time_window(
        self, candidates: Sequence[int], before_us: int | None, after_us: int | None
    ) -> tuple[int, int]:
        """The ``[lo, hi)`` slice of ``candidates`` strictly inside the time bounds."""
        return self._indexes.message_time_window(candidates, before_us, after_us)

    def chat_time_window(self, before_us: int | None, after_us: int | None) -> tuple[int, int]:
        """The ``[lo, hi)`` ranks of the chat order strictly inside the time bounds."""
        return self._indexes.chat_time_window(before_us, after_us)

    def chat_at_rank(self, rank: int) -> int:
        """The chat index at a position of the chat order."""
        return self._indexes.chat_at_rank(rank)

    def chat_rank(self, chat: int) -> int:
        """The position of a chat in the chat order."""
        return self._indexes.chat_rank(chat)

    def chat_position(self, chat: int) -> int:
        """A chat's keyset position in the chat order, for a cursor (see ``chat_rank_after``)."""
        return self._indexes.chat_position(chat)

    def chat_rank_after(self, position: int) -> int | None:
        """The first rank past a :meth:`chat_position`, wherever chats moved since
        (``None``: not a position of this dataset)."""
        return self._indexes.chat_rank_after(position)

    # -- rendering ----------------------------------------------------------------------

    def account(self, index: int) -> dict[str, Any]:
        """The wire object of one account."""
        return self._renderer.account(index)

    def chat(self, index: int) -> dict[str, Any]:
        """The wire object of one chat as listed (without ``lastMessage``)."""
        return self._renderer.chat(index)

    def chat_with_last_message(self, index: int) -> dict[str, Any]:
        """The wire object of one chat as retrieved (with ``lastMessage``, maybe ``null``)."""
        return self._renderer.chat_with_last_message(index)

    def message(self, index: int) -> dict[str, Any]:
        """The wire object of message ``index`` (the same in the list and on retrieve).

        For a bad record, the object it would be without its defect (what a chat's
        ``lastMessage`` shows); the bytes served are :attr:`message_json`'s.
        """
        return self._renderer.message(index)

    def bad_messages(self) -> tuple[BadRecord, ...]:
        """The messages served with bad bytes, by index (none without ``bad_records``)."""
        kinds = {kind.name: kind for kind in BAD_KINDS}
        return tuple(
            BadRecord(
                index, self.message_id(index), name, kinds[name].readable, kinds[name].repaired
            )
            for index, name in sorted(self._bad.items())
        )

    def _bad_bytes(self, index: int) -> bytes:
        """The bytes served for bad record ``index`` (rendered once)."""
        spoiled = self._spoiled.get(index)
        if spoiled is None:
            spoiled = self._spoiled[index] = spoil(
                self._bad[index],
                self._clean_json(index),
                msgspec.json.encode(self.message_id(index)),
                self._cols.ts[index],
            )
        return spoiled

    def _bad_message_json(self, index: int) -> bytes:
        return self._bad_bytes(index) if index in self._bad else self._clean_json(index)

    def _bad_messages_json(self, indices: Sequence[int]) -> bytes:
        bad = self._bad
        hits = [k for k, index in enumerate(indices) if index in bad]
        if not hits:
            return self._clean_page_json(indices)
        parts = []
        start = 0
        for k in hits:
            if k > start:
                parts.append(self._clean_page_json(indices[start:k]))
            parts.append(self._bad_bytes(indices[k]))
            start = k + 1
        if start < len(indices):
            parts.append(self._clean_page_json(indices[start:]))
        return b",".join(parts)

    # -- ground truth: brute force, independent of the indexes above ------------------

    def expected_account_ids(self) -> list[str]:
        """Every account id in list order (newest ``created_at`` first)."""
        return _truth.expected_account_ids(self._cols)

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
        return _truth.expected_chat_ids(
            self._cols,
            self._ids,
            created=self._chat_created,
            account_id=account_id,
            account_type=account_type,
            unread=unread,
            before=before,
            after=after,
        )

    def expected_message_ids(
        self,
        *,
        account_id: str | None = None,
        sender_id: str | None = None,
        before: str | _dt.datetime | None = None,
        after: str | _dt.datetime | None = None,
    ) -> list[str]:
        """Every message id the list returns for these filters, in order, by brute force."""
        return _truth.expected_message_ids(
            self._cols,
            self._ids,
            account_id=account_id,
            sender_id=sender_id,
            before=before,
            after=after,
        )

    def sender_ids(self) -> list[str]:
        """Every sender id that appears on at least one message, in first-seen order."""
        return _truth.sender_ids(self._cols)

    def nbytes(self) -> int:
        """Approximate bytes held by the per-message and per-chat columns."""
        arrays = [*self._cols.arrays(), *self._indexes.arrays()]
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
        # Cursors carry a fingerprint of this text: a field that is off adds nothing, so
        # the cursors of the datasets that existed before it stay the same.
        extra = ", bad_records=True" if cfg.bad_records else ""
        if cfg.chat_time != "activity":
            extra += f", chat_time={cfg.chat_time!r}"
        if cfg.cursors != "keyset":
            extra += f", cursors={cfg.cursors!r}"
        return (
            f"Dataset(seed={cfg.seed}, accounts={cfg.accounts}, chats={cfg.chats}, "
            f"messages={cfg.messages}, hostile_ids={cfg.hostile_ids}, quirks={cfg.quirks}"
            f"{extra})"
        )
