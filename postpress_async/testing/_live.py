"""The live feed: messages that arrive while the fake server runs.

A real workspace never stands still: messages arrive in bursts (several in one
millisecond), and providers sync late, so a message can be listed some time after its
timestamp (older than messages already listed). :class:`LiveFeed` describes such a feed;
:class:`LiveMessages` holds what arrived and lists it, merged with the built dataset, in
the API's order (newest ``timestamp`` first, ties by ``id``) and by keyset: a cursor
names the last message returned, so messages arriving between two pages never shift a
page (under ``Dataset(cursors="offset")`` they do: the cursor counts messages). Ground truth (``Dataset.expected_message_ids``) includes every message added.

The built messages are ordered by index (index ``0`` is the newest); added messages get
the next indexes and are newer than the built ones (current timestamps), so each part
stays sorted and a page merges the two.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import heapq
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator

from postpress_async.testing._args import check_number, check_whole
from postpress_async.testing._dataset import Dataset

__all__ = ["LiveFeed", "LiveMessages"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LiveFeed:
    """New messages while the server runs: ``rate`` a second, for ``live_for`` seconds.

    * ``burst``: each arrival brings 1 to ``burst`` messages stamped in the same
      millisecond;
    * ``late_ms``, ``late_share``: that share of the messages is listed up to ``late_ms``
      milliseconds after its timestamp (uniformly), the rest at once;
    * ``live_for``: the feed stops after this many seconds (``None``: with the server);
    * ``seed``: the feed's random choices (chats, bursts, lateness) are reproducible.
    """

    rate: float = 10.0
    burst: int = 3
    late_ms: int = 0
    late_share: float = 0.25
    live_for: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        # Types first: "'>' not supported between 'str' and 'int'" names nothing.
        for name in ("rate", "late_share", *(() if self.live_for is None else ("live_for",))):
            check_number(name, getattr(self, name))
        for name in ("burst", "late_ms", "seed"):
            check_whole(name, getattr(self, name))
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"rate must be > 0 messages a second, got {self.rate!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst!r}")
        if self.late_ms < 0:
            raise ValueError(f"late_ms must be >= 0, got {self.late_ms!r}")
        if not 0 <= self.late_share <= 1:
            raise ValueError(f"late_share must be within 0..1, got {self.late_share!r}")
        if self.live_for is not None and self.live_for < 0:
            raise ValueError(f"live_for must be >= 0 seconds, got {self.live_for!r}")


class LiveMessages:
    """Messages added to a :class:`Dataset` at run time, and how listings see them."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        clock: Callable[[], float] = time.time,
        on_add: Callable[[], None] = lambda: None,
    ) -> None:
        self.dataset = dataset
        self.clock = clock
        self._on_add = on_add
        self._built = dataset.message_count
        self._keys: list[tuple[int, int]] = []  # (-timestamp, index), sorted
        self._listed_at: dict[int, int] = {}

    @property
    def count(self) -> int:
        """Messages added so far (listed or not yet)."""
        return len(self._keys)

    def now_ms(self) -> int:
        """The server's clock, in milliseconds since the epoch."""
        return int(self.clock() * 1000)

    def add(
        self,
        *,
        timestamp_ms: int | None = None,
        listed_after_ms: int = 0,
        chat: int | None = None,
        sender: int | None = None,
        listed_now: bool = False,
    ) -> int:
        """Add one message (now, unless ``timestamp_ms``); returns its index.

        It is listed ``listed_after_ms`` after its timestamp (0: at once), or, with
        ``listed_now``, now, however it is dated.
        """
        now = self.now_ms()
        at = now if timestamp_ms is None else timestamp_ms
        index = self.dataset.add_message(at, chat=chat, sender=sender)
        bisect.insort(self._keys, (-at, index))
        self._listed_at[index] = now if listed_now else at + listed_after_ms
        self._on_add()
        return index

    def listed_late(self) -> int:
        """Messages added with a listing later than their timestamp."""
        return sum(1 for (stamp, index) in self._keys if self._listed_at[index] > -stamp)

    def unlisted(self) -> int:
        """Messages added but not listed yet (listed later than their timestamp)."""
        now = self.now_ms()
        return sum(1 for when in self._listed_at.values() if when > now)

    def unlisted_indexes(self) -> list[int]:
        """The indexes of the messages added but not listed yet, by the server's clock now."""
        now = self.now_ms()
        return [index for index, when in self._listed_at.items() if when > now]

    def page(
        self,
        account: int | None,
        sender: int | None,
        before_us: int | None,
        after_us: int | None,
        last: int | None,
        limit: int,
        skip: int = 0,
    ) -> tuple[list[int], bool]:
        """One page of message indexes after ``last`` (exclusive), and whether more follow.

        ``skip``: the page starts so many messages further (an offset cursor's, with no
        ``last``), counted in the listing as it is now.
        """
        ds = self.dataset
        candidates = ds.message_candidates(account, sender)
        if isinstance(candidates, range):  # the unfiltered list: built messages only
            candidates = range(min(len(candidates), self._built))
        lo, hi = ds.message_time_window(candidates, before_us, after_us)
        after_key: tuple[int, int] | None = None
        if last is not None:
            after_key = (-ds.message_timestamp_ms(last), last)
            if last < self._built:
                lo = max(lo, bisect.bisect_right(candidates, last))
            else:
                stamp = ds.message_timestamp_ms(last)
                lo = max(lo, bisect.bisect_right(candidates, -stamp, key=_neg_ts(ds)))
        built = ((-ds.message_timestamp_ms(i), i) for i in itertools.islice(candidates, lo, hi))
        added = self._listed(account, sender, before_us, after_us, after_key)
        merged = heapq.merge(added, built)
        chosen = [index for _, index in itertools.islice(merged, skip, skip + limit + 1)]
        return chosen[:limit], len(chosen) > limit

    def _listed(
        self,
        account: int | None,
        sender: int | None,
        before_us: int | None,
        after_us: int | None,
        after_key: tuple[int, int] | None,
    ) -> Iterator[tuple[int, int]]:
        ds = self.dataset
        now = self.now_ms()
        keys = self._keys
        start = 0 if after_key is None else bisect.bisect_right(keys, after_key)
        for key in itertools.islice(keys, start, None):
            stamp, index = -key[0], key[1]
            if self._listed_at[index] > now:
                continue
            if before_us is not None and stamp * 1000 >= before_us:
                continue
            if after_us is not None and stamp * 1000 <= after_us:
                return  # keys are newest first: every later one is older still
            row = ds.message_row(index)
            if account is not None and ds.find_account(row.account_id) != account:
                continue
            if sender is not None and ds.find_sender(row.sender_id) != sender:
                continue
            yield key

    async def run(
        self, feed: LiveFeed, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> int:
        """Add messages as ``feed`` says until it ends (or the task is cancelled)."""
        rng = random.Random(f"postpress-live:{feed.seed}")
        started = self.clock()
        added = 0
        while feed.live_for is None or self.clock() - started < feed.live_for:
            size = rng.randint(1, feed.burst)
            at = self.now_ms()
            for _ in range(size):
                late = 0
                if feed.late_ms and rng.random() < feed.late_share:
                    late = rng.randint(1, feed.late_ms)
                chat = rng.randrange(self.dataset.chat_count)
                self.add(timestamp_ms=at, listed_after_ms=late, chat=chat)
                added += 1
            await sleep(rng.expovariate(feed.rate / size))
        return added


def _neg_ts(ds: Dataset) -> Callable[[int], int]:
    def key(index: int) -> int:
        return -ds.message_timestamp_ms(index)

    return key
