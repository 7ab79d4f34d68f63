"""Ground truth: what the listings must return, by brute force over the columns.

Independent of :mod:`._indexes` on purpose: the server pages through the indexes, the
tests compare its answers with these.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from postpress_async.testing._dataset._columns import (
    Columns,
    account_type_refusal,
    chat_unread_count,
)
from postpress_async.testing._dataset._ids import IdScheme
from postpress_async.testing._time import to_us

__all__ = [
    "AccountRow",
    "ChatRow",
    "MessageRow",
    "account_row",
    "chat_row",
    "expected_account_ids",
    "expected_chat_ids",
    "expected_message_ids",
    "message_row",
    "sender_ids",
]


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


def account_row(cols: Columns, index: int) -> AccountRow:
    """Ground-truth columns of one account."""
    return AccountRow(
        cols.account_ids[index], cols.account_types[index], cols.account_created[index]
    )


def chat_row(cols: Columns, ids: IdScheme, index: int) -> ChatRow:
    """Ground-truth columns of one chat."""
    a = cols.account_of_chat[index]
    last = cols.chat_last[index]
    return ChatRow(
        cols.chat_ids[index],
        cols.account_ids[a],
        cols.account_types[a],
        cols.chat_provider[index],
        None if last < 0 else cols.ts[last],
        chat_unread_count(ids, index),
    )


def message_row(cols: Columns, ids: IdScheme, index: int) -> MessageRow:
    """Ground-truth columns of one message."""
    c = cols.chat_col[index]
    return MessageRow(
        ids.message_id(index),
        cols.ts[index],
        cols.chat_ids[c],
        cols.account_ids[cols.account_of_chat[c]],
        cols.sender_ids[cols.sender_col[index]],
    )


def expected_account_ids(cols: Columns) -> list[str]:
    """Every account id in list order (newest ``created_at`` first)."""
    rows = [account_row(cols, i) for i in range(len(cols.account_ids))]
    rows.sort(key=lambda r: (-r.created_at_ms, r.id))
    return [r.id for r in rows]


def expected_chat_ids(
    cols: Columns,
    ids: IdScheme,
    *,
    account_id: str | Iterable[str] | None = None,
    account_type: str | None = None,
    unread: bool | None = None,
    before: str | _dt.datetime | None = None,
    after: str | _dt.datetime | None = None,
    created: Sequence[int] | None = None,
) -> list[str]:
    """Every chat id the list returns for these filters, in order.

    ``created``: each chat's creation time, which ``before``/``after`` then bound
    (``chat_time="created"``) instead of its last activity.
    """
    accounts = _id_set(account_id)
    if refusal := account_type_refusal(account_type):
        raise ValueError(f"{refusal} (else a 400), got {account_type!r}")
    if unread is not None and not isinstance(unread, bool):
        raise TypeError(f"unread must be a bool or None, got {unread!r}")
    inside = _between(before, after)
    rows = []
    for c in range(len(cols.chat_ids)):
        row = chat_row(cols, ids, c)
        if accounts is not None and row.account_id not in accounts:
            continue
        if account_type is not None and row.account_type != account_type:
            continue
        if unread is not None and (row.unread_count > 0) != unread:
            continue
        if before is not None or after is not None:
            at = row.timestamp_ms if created is None else created[c]
            if at is None or not inside(at):
                continue
        rows.append(row)
    rows.sort(key=lambda r: (r.timestamp_ms is None, -(r.timestamp_ms or 0), r.id))
    return [r.id for r in rows]


def expected_message_ids(
    cols: Columns,
    ids: IdScheme,
    *,
    account_id: str | None = None,
    sender_id: str | None = None,
    before: str | _dt.datetime | None = None,
    after: str | _dt.datetime | None = None,
) -> list[str]:
    """Every message id the list returns for these filters, in order.

    An ``account_id`` or ``sender_id`` the dataset does not hold is a ``ValueError``: the
    listing answers it with a 404, not an empty list.
    """
    if account_id is not None and account_id not in cols.account_ids:
        raise ValueError(f"no account {account_id!r} in the dataset (the listing: a 404)")
    if sender_id is not None and sender_id not in cols.sender_index:
        raise ValueError(f"no sender {sender_id!r} in the dataset (the listing: a 404)")
    inside = _between(before, after)
    rows = []
    for i in range(len(cols.ts)):
        row = message_row(cols, ids, i)
        if account_id is not None and row.account_id != account_id:
            continue
        if sender_id is not None and row.sender_id != sender_id:
            continue
        if not inside(row.timestamp_ms):
            continue
        rows.append(row)
    rows.sort(key=lambda r: (-r.timestamp_ms, r.id))
    return [r.id for r in rows]


def sender_ids(cols: Columns) -> list[str]:
    """Every sender id that appears on at least one message, in first-seen order."""
    seen = dict.fromkeys(cols.sender_col)
    return [cols.sender_ids[s] for s in seen]


def _id_set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset(part for part in value.split(",") if part)
    return frozenset(value)


def _between(
    before: str | _dt.datetime | None, after: str | _dt.datetime | None
) -> Callable[[int], bool]:
    """Whether a timestamp (ms) lies strictly between a listing's bounds (``None``: no bound)."""
    before_us = None if before is None else to_us(before)
    after_us = None if after is None else to_us(after)

    def inside(timestamp_ms: int) -> bool:
        us = timestamp_ms * 1000
        return (before_us is None or us < before_us) and (after_us is None or us > after_us)

    return inside
