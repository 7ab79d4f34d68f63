"""The indexes the listings page through: per-account and per-sender message lists, and
the chat order.

Orders (the fake's choice, see the ``testing`` package docstring):

* messages: newest ``timestamp`` first, ties by ``id`` ascending. Message index ``0`` is
  the newest, so the index *is* the position in the unfiltered list, and every message
  list here is an ascending run of indexes that :mod:`bisect` can search;
* chats: newest last activity (``timestamp``) first, ties by ``id``; chats with no
  message have a ``null`` timestamp and come last.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence
from typing import Final

from postpress_async.testing._dataset._columns import Columns

__all__ = ["NULL_KEY", "Indexes"]

NULL_KEY: Final = 1 << 62
"""The sort key of a chat without messages: after every real timestamp."""
_KEY_BIAS: Final = 1 << 62
"""Added to a chat's sort key in :meth:`Indexes.chat_position`, to make it non-negative."""
_CHAT_SPAN: Final = 1 << 32
"""Room for a chat index in :meth:`Indexes.chat_position`."""


class Indexes:
    """Listing indexes over a :class:`~._columns.Columns`, built once, queried per page.

    After messages are added to the columns at run time, build a new ``Indexes`` (or
    extend this one) so that listings see them.
    """

    __slots__ = (
        "_account_messages",
        "_chat_order",
        "_chat_order_keys",
        "_chat_rank",
        "_chat_ts",
        "_cols",
        "_sender_messages",
    )

    def __init__(self, cols: Columns) -> None:
        self._cols = cols
        account_messages = [array("i") for _ in cols.account_types]
        appenders = [account_messages[a].append for a in cols.account_of_chat]
        for i, c in enumerate(cols.chat_col):
            appenders[c](i)
        self._account_messages = tuple(account_messages)
        self._sender_messages: dict[int, array[int]] = {}
        self.refresh_chat_order()

    def refresh_chat_order(self) -> None:
        """Rebuild the chat order from the columns (after a message moved a chat's activity)."""
        cols = self._cols
        ts = cols.ts
        chat_ts = array("q", (ts[m] if m >= 0 else NULL_KEY for m in cols.chat_last))
        self._chat_ts = chat_ts
        order = sorted(range(len(chat_ts)), key=lambda c: (chat_ts[c] == NULL_KEY, -chat_ts[c], c))
        self._chat_order = array("i", order)
        rank = array("i", bytes(4 * len(order)))
        for r, c in enumerate(order):
            rank[c] = r
        self._chat_rank = rank
        self._chat_order_keys = array(
            "q", (NULL_KEY if chat_ts[c] == NULL_KEY else -chat_ts[c] for c in order)
        )

    def message_candidates(self, account: int | None, sender: int | None) -> Sequence[int]:
        """Ascending message indexes matching the account/sender filters (no copy)."""
        cols = self._cols
        if sender is not None:
            if account is not None and cols.account_of_sender(sender) != account:
                return range(0)
            found = self._sender_messages.get(sender)
            if found is None:
                owner = cols.account_of_sender(sender)
                col = cols.sender_col
                found = array("i", (i for i in self._account_messages[owner] if col[i] == sender))
                self._sender_messages[sender] = found
            return found
        if account is not None:
            return self._account_messages[account]
        return range(len(cols.ts))

    def message_time_window(
        self, candidates: Sequence[int], before_us: int | None, after_us: int | None
    ) -> tuple[int, int]:
        """The ``[lo, hi)`` slice of ``candidates`` strictly inside the time bounds."""
        ts = self._cols.ts
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
            hi = bisect.bisect_left(keys, NULL_KEY)
        if after_us is not None:
            hi = min(hi, bisect.bisect_left(keys, -(after_us // 1000)))
        if before_us is not None:
            ceiling = -((-before_us) // 1000)
            lo = bisect.bisect_right(keys, -ceiling)
        return lo, max(lo, hi)

    def chat_position(self, chat: int) -> int:
        """Where a chat sits in the chat order, as one number for a cursor: its sort key
        (last activity) and its index, a keyset that stays meaningful when chats move."""
        ts = self._chat_ts[chat]
        key = NULL_KEY if ts == NULL_KEY else -ts
        return (key + _KEY_BIAS) * _CHAT_SPAN + chat

    def chat_rank_after(self, position: int) -> int | None:
        """The first rank of the chat order past a :meth:`chat_position`, wherever the
        chats moved since (``None``: no chat of this order could have had it)."""
        biased, chat = divmod(position, _CHAT_SPAN)
        if chat >= len(self._chat_order):
            return None
        keys, order = self._chat_order_keys, self._chat_order
        return bisect.bisect_right(
            range(len(order)), (biased - _KEY_BIAS, chat), key=lambda r: (keys[r], order[r])
        )

    def chat_at_rank(self, rank: int) -> int:
        """The chat index at a position of the chat order."""
        return self._chat_order[rank]

    def chat_rank(self, chat: int) -> int:
        """The position of a chat in the chat order."""
        return self._chat_rank[chat]

    def arrays(self) -> list[array[int]]:
        """The arrays whose size grows with the data (for ``Dataset.nbytes``)."""
        return [
            self._chat_ts,
            self._chat_order,
            self._chat_rank,
            self._chat_order_keys,
            *self._account_messages,
            *self._sender_messages.values(),
        ]
