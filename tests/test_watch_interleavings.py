"""Exactly once under interleavings: a seeded random world a watch follows, many cases.

A scripted server (no HTTP, no event-loop waits) lists ``(timestamp_ms, id)`` rows newest
first by keyset pages, each page read when it is asked for (so a message that arrives
mid-listing, stamped older than the page boundary, lands in a later page), and dates
each response by one of two clocks (a load balancer whose two machines disagree, the
``Date`` rounded to its second as the header is). Messages arrive between polls and
during requests: several in one millisecond, some stamped late (a provider syncing
late, within the overlap), some dated in the future (2099); in some worlds every stamp
lags the server's clock by more than the overlap. The consumer saves the
state after each item or each batch, and now and then stops (``break``) and resumes
from the saved state in a new watch, as a bot restarting. Every message must be handed
out exactly once.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from datetime import datetime

import msgspec
import pytest

from postpress_async import ListStream, PollPolicy, WatchState, WatchStream
from postpress_async._follow import FollowTracker, fresh
from postpress_async._page_body import ServerClock
from postpress_async._time import to_ms
from postpress_async.models import Page

Row = tuple[int, str]

T0 = 1_779_000_000_000
FUTURE_MS = 4_070_908_800_000  # 2099-01-01


def stamp(row: Row) -> Row:
    return row


class Done(Exception):
    """The world has run its course."""


def date_ms(true_ms: int) -> int:
    """What a ``Date`` header for ``true_ms`` reads as: the end of its second."""
    return true_ms // 1000 * 1000 + 999


class World:
    """A server whose clock moves with each request, and messages that arrive at random."""

    def __init__(self, rng: random.Random, *, overlap_ms: int, timed: bool = True) -> None:
        self.rng = rng
        # Every provider's stamps lag the server's clock alike, often by far more than the
        # overlap: harmless while nothing is future-dated, since each is still newer than
        # the last; a future-dated item must not lift the position to the server's clock.
        self.lag = rng.choice((0, 0, 0, 30_000, 120_000))
        self.now = T0 + self.lag
        self.overlap_ms = overlap_ms
        self.timed = timed
        self.rows: list[Row] = []
        self._sorted: list[Row] = []
        self._order: list[tuple[int, str]] = []
        self.skews = (0, -rng.randrange(0, 400))  # two clocks, the second behind
        self.serial = 0
        self.steps = rng.randrange(20, 60)  # polls (sleeps) before the world ends
        self.future = rng.random() < 0.7
        # In some worlds future-dated items pile up past what a poll holds (8 pages of 3),
        # so a poll's first listing shows nothing correctly dated.
        self.future_share = 0.4 if rng.random() < 0.3 else 0.08
        self.quiet = 0  # once the steps are done: polls with no arrivals, to drain

    def arrive(self, chance: float = 0.5) -> None:
        """Maybe (``chance``) some messages arrive now."""
        rng = self.rng
        if self.steps <= 0 or rng.random() >= chance:
            return
        count = rng.choice((1, 1, 2, 3, 7))
        kind = rng.random()
        if kind < self.future_share and self.future:
            at = FUTURE_MS + rng.randrange(0, 3)
        elif kind < 0.4:  # listed late: stamped up to half the overlap before the rest
            at = max(T0, self.now - self.lag - rng.randrange(0, self.overlap_ms // 2))
        else:
            at = self.now - self.lag
        for _ in range(count):
            self.serial += 1
            self.rows.append((at, f"m{self.serial:05d}"))

    def newest_first(self) -> tuple[list[Row], list[tuple[int, str]]]:
        """The rows newest first, and their sort keys (to find a page by bisection)."""
        if len(self._sorted) != len(self.rows):  # rows are only ever added
            self._sorted = sorted(self.rows, key=lambda r: (-r[0], r[1]))
            self._order = [(-at, key) for at, key in self._sorted]
        return self._sorted, self._order

    def tick(self) -> None:
        self.now += self.rng.choice((0, 1, 3, 50, 400, 1500))

    async def sleep(self, delay: float) -> None:
        if self.steps <= 0:
            self.quiet += 1
            if self.quiet > 8:
                raise Done
        self.steps -= 1
        self.now += int(delay * 1000)
        self.arrive()
        if self.rng.random() < 0.1:  # a burst: a backlog for the next poll
            for _ in range(40):
                self.tick()
                self.arrive()

    def list_after(
        self, *, after: datetime | None, before: datetime | None = None, limit: int | None = None
    ) -> ListStream[Row]:
        low = -(2**62) if after is None or not self.timed else to_ms(after)
        high = 2**62 if before is None or not self.timed else to_ms(before)
        size = limit or 3
        clock = ServerClock()

        async def fetch(cursor: str | None) -> Page[Row]:
            self.tick()
            # Mid-listing, rarer: a catch-up (or an untimed listing of everything) must end.
            self.arrive(0.1 if self.timed else 0.005)
            clock.saw(date_ms(self.now + self.rng.choice(self.skews)))
            rows, order = self.newest_first()
            start = bisect.bisect_left(order, (1 - high, ""))  # stamped before high
            end = bisect.bisect_left(order, (-low, ""))  # stamped after low
            if cursor is not None:  # after the cursor's row, in this order
                at, key = msgspec.json.decode(cursor)
                start = max(start, bisect.bisect_right(order, (-at, key)))
            page = rows[start : min(end, start + size)]
            more = end - start > size
            return Page(items=page, cursor=msgspec.json.encode(page[-1]).decode() if more else None)

        return ListStream(fetch, prefetch=0, clock=clock)

    def watch(self, state: WatchState, policy: PollPolicy) -> WatchStream[Row]:
        return WatchStream(
            self.list_after,
            stamp,
            state,
            policy=policy,
            sleep=self.sleep,
            limit=3,
            random=lambda: 0.5,
            timed=self.timed,
        )


async def follow(world: World, *, by_batch: bool) -> list[str]:
    """Follow the world to its end, restarting now and then from the state last saved."""
    rng = world.rng
    policy = PollPolicy(interval=0.5, jitter=0.0, max_interval=2.0, overlap=world.overlap_ms / 1000)
    saved = msgspec.json.encode(
        WatchState(kind="messages", fingerprint="f", watermark_ms=T0 - 1, floor_ms=T0 - 1)
    )
    got: list[str] = []
    stream: WatchStream[Row] | None = None
    while True:
        if stream is not None and stream.polls <= 1 and world.steps > 0:
            # Stopped within its first poll (which does not wait): the restart takes the
            # world's time instead, or a world whose polls are all long catch-ups never ends.
            await world.sleep(policy.interval)
        stream = world.watch(msgspec.json.decode(saved, type=WatchState), policy)
        stop_after = rng.randrange(1, 60)
        try:
            if by_batch:
                async for batch in stream.batches():
                    got += [key for _, key in batch]
                    saved = msgspec.json.encode(stream.state)
                    stop_after -= len(batch)
                    if stop_after <= 0:
                        break
            else:
                async for row in stream:
                    got.append(row[1])
                    saved = msgspec.json.encode(stream.state)
                    stop_after -= 1
                    if stop_after <= 0:
                        break
        except Done:
            return got


async def drained(world: World, *, by_batch: bool) -> tuple[list[str], list[str]]:
    got = await follow(world, by_batch=by_batch)
    return got, [key for _, key in world.rows]


async def check_seeds(seeds: range, *, timed: bool, by_batch: bool) -> None:
    for seed in seeds:
        rng = random.Random(seed * 7 + timed * 3 + by_batch)
        world = World(rng, overlap_ms=rng.choice((2_000, 5_000)), timed=timed)
        got, sent = await drained(world, by_batch=by_batch)
        extra = Counter(got) - Counter(sent)
        missing = Counter(sent) - Counter(got)
        repeated = [key for key, n in Counter(got).items() if n > 1]
        assert (repeated, dict(missing), dict(extra)) == ([], {}, {}), f"seed {seed}"


@pytest.mark.parametrize("by_batch", [False, True], ids=["each-item", "each-batch"])
async def test_every_message_is_handed_out_once_whatever_the_interleaving(by_batch: bool) -> None:
    await check_seeds(range(3), timed=True, by_batch=by_batch)


async def test_every_chat_is_handed_out_once_when_time_cannot_bound_the_listing() -> None:
    await check_seeds(range(2), timed=False, by_batch=False)


@pytest.mark.slow
@pytest.mark.parametrize("timed", [True, False], ids=["timed", "untimed"])
@pytest.mark.parametrize("by_batch", [False, True], ids=["each-item", "each-batch"])
async def test_many_more_interleavings(timed: bool, by_batch: bool) -> None:
    await check_seeds(range(3 if timed else 2, 80 if timed else 20), timed=timed, by_batch=by_batch)


def test_the_world_covers_what_it_claims() -> None:
    # The property above is only as strong as the world is varied: check it makes
    # future-dated items (more than a poll holds, in some), late ones, bursts in one
    # millisecond and backlogs.
    seen: dict[str, int] = Counter()
    for seed in range(60):
        world = World(random.Random(seed), overlap_ms=2_000)
        while world.steps > 0:
            world.now += 500
            world.steps -= 1
            world.arrive()
        stamps = Counter(at for at, _ in world.rows)
        seen["future"] += any(at >= FUTURE_MS for at in stamps)
        seen["same-ms"] += any(n > 1 for n in stamps.values())
        seen["many"] += len(world.rows) > 24
        seen["lagging"] += world.lag > world.overlap_ms and any(at >= FUTURE_MS for at in stamps)
        seen["many-future"] += sum(n for at, n in stamps.items() if at >= FUTURE_MS) > 24
    assert seen["future"] > 10 and seen["same-ms"] > 30 and seen["many"] > 10, seen
    assert seen["lagging"] > 5 and seen["many-future"] > 5, seen


@pytest.mark.parametrize("overlap_ms", [0, 500, 800])
def test_a_future_item_does_not_lift_the_floor_past_the_rest_of_the_dates_second(
    overlap_ms: int,
) -> None:
    # A poll's listing began at T0 + 100 on the server's clock; its Date says T0 (the
    # header has whole seconds), read as T0 + 999. A future-dated item moved the
    # watermark to the end of that second, so with an overlap under a second a message
    # that arrived at T0 + 150, on time and correctly dated, fell at or below the floor.
    tracker = FollowTracker(WatchState(kind="messages", fingerprint="f", floor_ms=T0 - 10_000))
    tracker.saw(date_ms(T0 + 100))
    tracker.mark(T0 + 50, "before")
    tracker.mark(FUTURE_MS, "z")
    tracker.settle(overlap_ms)
    arrived = [(T0 + 150, "on-time", None)]
    assert fresh(tracker.floor_ms, tracker.seen, arrived) == arrived


class Scripted:
    """Rows listed newest first, read live at each request; request ``k`` (from 1) is
    dated ``dates[k - 1]`` (the last one after) and adds ``arrivals[k]`` after it answered."""

    def __init__(self, rows: list[Row], dates: list[int], arrivals: dict[int, list[Row]]) -> None:
        self.rows, self.dates, self.arrivals = rows, dates, arrivals
        self.requests = 0
        self.polls = 0

    async def sleep(self, delay: float) -> None:
        self.polls += 1
        if self.polls > 3:
            raise Done

    def list_after(
        self, *, after: datetime | None, before: datetime | None = None, limit: int | None = None
    ) -> ListStream[Row]:
        low = -(2**62) if after is None else to_ms(after)
        clock = ServerClock()

        async def fetch(cursor: str | None) -> Page[Row]:
            self.requests += 1
            clock.saw(self.dates[min(self.requests, len(self.dates)) - 1])
            rows = sorted((r for r in self.rows if low < r[0]), key=lambda r: (-r[0], r[1]))
            self.rows += self.arrivals.pop(self.requests, [])
            start = int(cursor or 0)
            end = start + (limit or 3)
            return Page(items=rows[start:end], cursor=str(end) if end < len(rows) else None)

        return ListStream(fetch, prefetch=0, clock=clock)


async def test_since_now_hands_out_what_arrives_between_its_two_requests() -> None:
    # "now" is read by two requests: the newest item (limit=1), then the ids near it. The
    # newest is dated 2099, so "now" is the server's time; a message that arrives, dated
    # correctly, after the first request and before the second was marked seen with the
    # ids "before now" (it is older than 2099) and never handed out.
    old = [(T0 - 3_000, "old"), (T0 + 999, "this-second"), (FUTURE_MS - 9, "z"), (FUTURE_MS, "zz")]
    feed = Scripted(old, [date_ms(T0), date_ms(T0 + 3_000)], {1: [(T0 + 2_500, "between")]})
    policy = PollPolicy(interval=1.0, jitter=0.0, overlap=10.0)
    state = WatchState(kind="messages", fingerprint="f", now=True)
    stream = WatchStream(feed.list_after, stamp, state, policy=policy, sleep=feed.sleep)
    got: list[str] = []
    with pytest.raises(Done):
        async for row in stream:
            got.append(row[1])
    assert got == ["between"]
