"""A message a provider dated in the future (a wrong clock: 2099) is handed out once, and
what is correctly dated after it is still found: a follow's position never passes the
server's own clock (the ``Date`` of the responses that listed it).

The pure bound first (no event loop), then watches over the embedded fake server, whose
``Date`` is its own clock (the one it stamps new messages with).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import anyio
import pytest

from postpress_async import (
    AsyncPostpress,
    ListStream,
    PollPolicy,
    RetryPolicy,
    Timeout,
    WatchStream,
)
from postpress_async._follow import LAG_ALLOWANCE_MS, FollowTracker, ListFollower, bounded, fresh
from postpress_async._page_body import ServerClock, server_time_ms
from postpress_async._positions import WatchState
from postpress_async._time import format_datetime, from_ms, to_ms
from postpress_async._transport import AiohttpTransport, Request, Response
from postpress_async.models import Page
from postpress_async.testing import Dataset, FakePostpress

Row = tuple[int, str]

T0 = 1_779_000_000_000
FUTURE = datetime(2099, 1, 1, tzinfo=timezone.utc)
FUTURE_MS = to_ms(FUTURE)
FAST = PollPolicy(interval=0.001, jitter=0.0, max_interval=0.002, overlap=1.0)
DATASET = Dataset(seed=5, accounts=4, chats=6, messages=40)


def stamp(row: Row) -> Row:
    return row


# -- the bound, pure ------------------------------------------------------------------------


def test_the_watermark_stops_behind_the_servers_time_and_the_future_item_stays_seen() -> None:
    server = T0 + 5_000 + LAG_ALLOWANCE_MS + 400  # the server's time, within its second
    tracker = FollowTracker(WatchState(kind="messages", fingerprint="f", floor_ms=T0))
    tracker.saw(None)  # a listing whose responses did not say
    tracker.saw(server)  # the listing handed out next began then
    tracker.mark(T0 + 1_000, "a")
    tracker.mark(FUTURE_MS, "z")
    # The start of the server's second, less what providers' stamps may lag it.
    assert tracker.watermark_ms == T0 + 5_000
    tracker.settle(1_000)
    assert tracker.floor_ms == T0 + 3_999  # trails the server's clock, not 2099
    assert tracker.seen == {"z": FUTURE_MS}  # above the floor: remembered, not handed again
    # The invariant: what is listed after the floor and not seen is new; z is not.
    listed = [(FUTURE_MS, "z", None), (T0 + 4_500, "b", None), (T0 + 3_999, "old", None)]
    assert [key for _, key, _ in fresh(tracker.floor_ms, tracker.seen, listed)] == ["b"]
    tracker.mark(T0 + 4_500, "b")
    tracker.saw(server + 4_000)
    tracker.settle(1_000)
    assert (tracker.watermark_ms, tracker.floor_ms) == (T0 + 5_000, T0 + 3_999)
    assert set(tracker.seen) == {"b", "z"}  # grows by the future-dated items only
    tracker.mark(T0 + 7_000, "c")  # a correctly dated item past the bound moves it as usual
    tracker.settle(1_000)
    assert (tracker.watermark_ms, tracker.floor_ms) == (T0 + 7_000, T0 + 5_999)
    assert set(tracker.seen) == {"c", "z"}


def test_without_a_server_time_nothing_is_bounded() -> None:
    assert bounded(FUTURE_MS, None) == FUTURE_MS
    assert bounded(FUTURE_MS, T0 + 999) == T0 - LAG_ALLOWANCE_MS
    assert bounded(T0 - 1, T0) == T0 - 1
    tracker = FollowTracker(WatchState(kind="messages", fingerprint="f"))
    tracker.saw(None)
    tracker.mark(FUTURE_MS, "z")
    assert tracker.watermark_ms == FUTURE_MS  # as before: no Date, no bound


def test_a_finished_listing_ends_at_the_servers_time_not_a_future_item() -> None:
    follower = ListFollower(WatchState(kind="messages", fingerprint="f"), stamp, overlap=1.0)
    follower.note([(FUTURE_MS, "z"), (T0 + 800, "b"), (T0 + 500, "a")], T0 + 999)
    follower.note([(T0 - 5_000, "old")], T0 + 1_999)
    state = follower.state()
    # The future item stops at the start of the Date's second, below b's correct stamp.
    assert state.watermark_ms == T0 + 800
    assert state.floor_ms == T0 - 201
    assert state.seen == ((T0 + 500, "a"), (T0 + 800, "b"), (FUTURE_MS, "z"))


@pytest.mark.parametrize(
    ("date", "ms"),
    [
        ("Sun, 17 May 2026 06:40:00 GMT", T0 + 999),  # the end of its second
        ("Sunday, 17-May-26 06:40:00 GMT", T0 + 999),  # RFC 850, obsolete but read
        ("Sun May 17 06:40:00 2026", T0 + 999),  # asctime
        ("Sun, 17 May 2026 08:40:00 +0200", T0 + 999),
        (None, None),
        ("", None),
        ("yesterday", None),
        ("Sun, 32 May 2026 06:40:00 GMT", None),
    ],
)
def test_a_date_header_reads_as_the_end_of_its_second_or_as_no_bound(
    date: str | None, ms: int | None
) -> None:
    assert server_time_ms(date) == ms


class Exhausted(Exception):
    """The scripted feed has nothing more to list."""


class DatedFeed:
    """``(timestamp_ms, id)`` rows listed newest first, ``page`` a page, strict bounds, each
    response dated ``server_ms`` (which moves ``step_ms`` a request); ``script[n]`` arrives
    before poll ``n + 1``, ``arrivals[k]`` once request ``k`` (from 1) is made."""

    def __init__(
        self, rows: list[Row], script: list[list[Row]], *, server_ms: int, step_ms: int = 0
    ) -> None:
        self.rows = rows
        self.script = script
        self.server_ms = server_ms
        self.step_ms = step_ms
        self.arrivals: dict[int, list[Row]] = {}
        self.requests = 0

    async def sleep(self, delay: float) -> None:
        if not self.script:
            raise Exhausted
        self.rows += self.script.pop(0)

    def list_after(
        self, *, after: datetime | None, before: datetime | None = None, limit: int | None = None
    ) -> ListStream[Row]:
        low = -(2**62) if after is None else to_ms(after)
        high = 2**62 if before is None else to_ms(before)
        rows = sorted((r for r in self.rows if low < r[0] < high), key=lambda r: (-r[0], r[1]))
        size = limit or 3
        clock = ServerClock()  # what a PageBody's Date tells a listing of the SDK's own

        async def fetch(cursor: str | None) -> Page[Row]:
            self.requests += 1
            self.rows += self.arrivals.pop(self.requests, [])
            clock.saw(self.server_ms)
            self.server_ms += self.step_ms
            start = int(cursor or 0)
            end = start + size
            return Page(items=rows[start:end], cursor=str(end) if end < len(rows) else None)

        return ListStream(fetch, prefetch=0, clock=clock)

    def watch(self) -> WatchStream[Row]:
        """A watch from just before ``T0``, 3 a page, a second of overlap."""
        state = WatchState(kind="messages", fingerprint="f", watermark_ms=T0 - 1, floor_ms=T0 - 1)
        policy = PollPolicy(interval=1.0, jitter=0.0, overlap=1.0)
        return WatchStream(self.list_after, stamp, state, policy=policy, sleep=self.sleep, limit=3)

    async def drain(
        self, stream: WatchStream[Row], each: Callable[[Row], None] = lambda row: None
    ) -> list[Row]:
        """What ``stream`` hands out until the script ends (``each`` sees every row)."""
        got: list[Row] = []
        with pytest.raises(Exhausted):
            async for row in stream:
                got.append(row)
                each(row)
        return got


def test_a_listing_is_dated_by_its_first_response() -> None:
    clock = ServerClock()
    for ms in (None, T0 + 5_000, T0 + 9_000, None, T0 + 4_000):
        clock.saw(ms)
    assert clock.ms == T0 + 4_000  # the earliest: a clock stepped back bounds lower, safely


async def test_a_message_arriving_during_a_slow_listing_with_a_future_dated_item_is_found() -> None:
    # The poll's listing takes 15 s of the server's clock (slow pages, retries): a message
    # arriving meanwhile is not in it (it lists newest first) and is older than the
    # listing's last response by more than the overlap. Bounded by that last response,
    # the floor would pass it; bounded by the first, it is found.
    rows = [(T0 + n, f"m{n}") for n in range(9)]
    future = (FUTURE_MS, "zfuture")
    feed = DatedFeed([*rows, future], [[]], server_ms=T0 + 10_000, step_ms=5_000)
    feed.arrivals[3] = [(T0 + 20_000, "during")]
    got = await feed.drain(feed.watch())
    assert got == [*rows, future, (T0 + 20_000, "during")]


async def test_a_backlog_caught_up_with_a_future_dated_item_leaves_what_follows_findable() -> None:
    backlog = [(T0 + 10 * n, f"m{n:03d}") for n in range(100)]  # far more than 8 pages of 3
    future = (FUTURE_MS, "zfuture")
    later = [(T0 + 5_000, "later1"), (T0 + 5_000, "later2")]
    feed = DatedFeed([*backlog, future], [later], server_ms=T0 + 2_000)
    stream = feed.watch()

    def moves_on(row: Row) -> None:
        if row == future:
            feed.server_ms = T0 + 6_000  # the server's clock moves on

    got = await feed.drain(stream, moves_on)
    assert stream.catch_up_listings > 0  # the first poll was a backlog
    assert got == [*backlog, future, *later]  # each once, oldest first a poll
    final = stream.state
    assert final.watermark_ms == T0 + 5_000
    assert final.seen == ((T0 + 5_000, "later1"), (T0 + 5_000, "later2"), future)


async def test_a_future_dated_item_does_not_lose_what_lags_the_servers_clock() -> None:
    # Providers' stamps lag the server's clock by seconds to minutes: here every correctly
    # dated message is stamped a minute behind the server's Date, far more than the
    # overlap (1 s), and nothing is lost while no item is future-dated (each is newer than
    # the last). A future-dated item must not move the position up to the server's clock:
    # the next lagging message would fall below the floor.
    rows = [(T0 + n, f"m{n}") for n in range(3)]
    future = (FUTURE_MS, "zfuture")
    lagging = [(T0 + 2_000, "lag1"), (T0 + 4_000, "lag2")]
    feed = DatedFeed([*rows], [[future], [lagging[0]], [lagging[1]]], server_ms=T0 + 60_000)

    def moves_on(row: Row) -> None:
        feed.server_ms += 2_000  # the server's clock moves on; stamps stay a minute behind

    got = await feed.drain(feed.watch(), moves_on)
    assert got == [*rows, future, *lagging]


class ArrivingBetweenWindows(DatedFeed):
    """Messages that arrive while a catch-up lists its windows: a burst as its last, open
    window is first listed (so that window overflows and is cut into closed ones past
    the newest stamp that existed when the poll began); then one stamped inside the
    first closed window past that stamp, just after it is listed; then one 1.5 s newer
    (more than the overlap), in a window listed later, which the catch-up hands out."""

    def __init__(self, rows: list[Row], *, newest: int, server_ms: int) -> None:
        super().__init__(rows, [[]], server_ms=server_ms)
        self.newest = newest
        self.burst = False
        self.inside: Row | None = None
        self.pending: int | None = None
        self.after_it: Row | None = None

    def list_after(
        self, *, after: datetime | None, before: datetime | None = None, limit: int | None = None
    ) -> ListStream[Row]:
        low = T0 - 1 if after is None else to_ms(after)
        high = None if before is None else to_ms(before)
        if not self.burst and high is None and low > T0 - 1:
            self.burst = True
            self.rows += [(self.newest + 10 + n, f"burst{n}") for n in range(10)]
        pending = self.pending
        if pending is not None and self.after_it is None and low < pending < (high or 2**62):
            self.after_it = (pending, "after-it")
            self.rows.append(self.after_it)
        stream = super().list_after(after=after, before=before, limit=limit)
        if self.inside is None and high is not None and high > self.newest + 2:
            self.inside = (max(low, self.newest) + 1, "inside")
            self.rows.append(self.inside)
            self.pending = max(self.inside[0] + 1_500, high)
        return stream


@pytest.mark.parametrize(
    "futures",
    [
        pytest.param(20, id="the-last-window-overflows"),
        # More than 8 pages of 3: the poll's first listing shows nothing correctly dated,
        # so the poll asks the server for its newest item up to the server's clock (one
        # request) to know how far the watermark may move.
        pytest.param(40, id="the-first-listing-is-all-future-dated"),
    ],
)
async def test_a_catch_up_toward_a_future_item_loses_nothing_that_arrives_meanwhile(
    futures: int,
) -> None:
    # Stamps run a minute behind the server's clock. The catch-up's later windows hand
    # out what arrived after the poll began; the watermark followed them past a message
    # that had arrived into a window already listed, and the next poll's floor passed it.
    backlog = [(T0 + 10 * n, f"m{n:03d}") for n in range(100)]
    future = [(FUTURE_MS + n, f"zfuture{n:02d}") for n in range(futures)]
    feed = ArrivingBetweenWindows([*backlog, *future], newest=backlog[-1][0], server_ms=T0 + 60_000)
    stream = feed.watch()
    got = await feed.drain(stream)
    assert stream.catch_up_listings > 0 and feed.inside is not None and feed.after_it is not None
    burst = [row for row in feed.rows if row[1].startswith("burst")]
    assert Counter(got) == Counter([*backlog, *future, *burst, feed.inside, feed.after_it])


async def test_a_server_clock_behind_every_stamp_still_moves_the_floor() -> None:
    # A server whose Date runs behind all its items' stamps (every item looks future-dated):
    # nothing is lost or repeated, and the floor still follows the server's clock, so
    # what the watch remembers does not grow with the whole history.
    feed = DatedFeed([], [], server_ms=T0)
    script: list[list[Row]] = []
    for poll in range(30):
        script.append([(T0 + 3_600_000 + poll * 60_000, f"m{poll:02d}")])
    feed.script = list(script)
    stream = feed.watch()

    def moves_on(row: Row) -> None:
        feed.server_ms += 60_000

    got = await feed.drain(stream, moves_on)
    assert got == [row for rows in script for row in rows]
    floor = stream.state.floor_ms
    assert floor is not None and floor > feed.server_ms - 20 * 60_000  # the clock moved 30 min


# -- over the fake server -------------------------------------------------------------------


def client_for(server: FakePostpress, **options: Any) -> AsyncPostpress:
    return AsyncPostpress(
        api_key=server.api_key,
        base_url=server.url,
        retry=RetryPolicy(wait_initial=0.001, wait_max=0.002),
        **options,
    )


class Consumer:
    """Iterates a watch in a task, recording what it hands out, until told to stop."""

    def __init__(self, stream: WatchStream[Any]) -> None:
        self.stream = stream
        self.got: list[str] = []

    async def run(self) -> None:
        async for message in self.stream:
            self.got.append(message.id)

    async def until(self, check: Callable[[], bool]) -> None:
        with anyio.fail_after(10):
            while not check():  # noqa: ASYNC110 - a bounded wait for a condition
                await anyio.sleep(0.001)

    async def polls(self, count: int) -> None:
        """Wait until ``count`` more polls have been made."""
        target = self.stream.polls + count
        await self.until(lambda: self.stream.polls >= target)


async def watching(stream: WatchStream[Any], script: Callable[[Consumer], Any]) -> list[str]:
    consumer = Consumer(stream)
    async with stream, anyio.create_task_group() as group:
        group.start_soon(consumer.run)
        await script(consumer)
        group.cancel_scope.cancel()
    return consumer.got


def newest_iso() -> str:
    return format_datetime(from_ms(max(DATASET.message_row(i).timestamp_ms for i in range(40))))


async def test_a_watch_hands_out_a_future_dated_message_once_and_what_follows_it() -> None:
    async with FakePostpress(dataset=DATASET) as server, client_for(server) as client:
        added: list[str] = []

        async def script(consumer: Consumer) -> None:
            added.extend(server.add_messages(1, timestamp=FUTURE, listed_now=True))
            added.extend(server.add_messages(2))
            await consumer.until(lambda: len(consumer.got) == 3)
            added.extend(server.add_messages(2))  # correctly dated, after the 2099 one
            await consumer.until(lambda: len(consumer.got) == 5)
            await consumer.polls(3)

        stream = client.messages.watch(since=newest_iso(), policy=FAST)
        got = await watching(stream, script)
        # Each once, oldest first: the two of the first poll (one millisecond), then 2099.
        assert (set(got[:2]), got[2], set(got[3:])) == (set(added[1:3]), added[0], set(added[3:]))
        assert len(got) == 5
        state = stream.state
        assert state.watermark_ms is not None and state.watermark_ms < FUTURE_MS
        assert (FUTURE_MS, added[0]) in state.seen

        async def more(consumer: Consumer) -> None:
            await consumer.polls(3)  # the saved state repeats nothing
            added.extend(server.add_messages(1))
            await consumer.until(lambda: len(consumer.got) == 1)
            await consumer.polls(2)

        again = await watching(client.messages.watch(since=state, policy=FAST), more)
        assert again == added[-1:]
        assert Counter(got + again) == Counter(added)


async def test_since_now_is_the_servers_time_when_the_newest_message_is_future_dated() -> None:
    async with FakePostpress(dataset=DATASET) as server, client_for(server) as client:
        server.add_messages(1, timestamp=FUTURE, listed_now=True)
        added: list[str] = []

        async def script(consumer: Consumer) -> None:
            await consumer.polls(2)  # "now" resolved: the 2099 message is before it
            added.extend(server.add_messages(2))
            await consumer.until(lambda: len(consumer.got) == 2)
            await consumer.polls(2)

        stream = client.messages.watch(since="now", policy=FAST)
        assert sorted(await watching(stream, script)) == sorted(added)
        assert stream.state.watermark_ms is not None
        assert stream.state.watermark_ms < FUTURE_MS


@pytest.mark.parametrize("chat_time", ["activity", "created"])
async def test_since_now_on_chats_is_not_a_future_dated_chat(chat_time: str) -> None:
    # A chat's activity dated 2099 (a future-dated message in it) is not "now" either;
    # under "created" the watch lists every chat each poll (its untimed path).
    async with FakePostpress(dataset=DATASET) as server:
        async with client_for(server, chat_time=chat_time) as client:
            server.add_messages(1, timestamp=FUTURE, listed_now=True)
            stream = client.chats.watch(since="now", policy=FAST)

            async def script(consumer: Consumer) -> None:
                await consumer.polls(2)

            assert await watching(stream, script) == []
            state = stream.state
            assert state.watermark_ms is not None and state.watermark_ms < FUTURE_MS


async def test_a_finished_list_with_a_future_dated_message_continues_as_a_watch() -> None:
    async with FakePostpress(dataset=DATASET) as server, client_for(server) as client:
        future = server.add_messages(1, timestamp=FUTURE, listed_now=True)
        listing = client.messages.list(limit=15)
        listed = [message.id async for message in listing]
        assert future[0] in listed
        added: list[str] = []

        async def script(consumer: Consumer) -> None:
            await consumer.polls(2)  # nothing listed is handed out again
            added.extend(server.add_messages(2))
            await consumer.until(lambda: len(consumer.got) == 2)
            await consumer.polls(2)

        stream = client.messages.watch(since=listing.checkpoint, policy=FAST)
        assert sorted(await watching(stream, script)) == sorted(added)


async def test_the_fakes_date_is_its_own_clock_so_its_messages_are_not_future_dated() -> None:
    # A day ahead of the machine: aiohttp's own Date (the machine's clock) would make
    # every message it stamps look a day in the future, and the watermark stop short.
    async with FakePostpress(dataset=DATASET, clock_skew=86_400) as server:
        async with client_for(server) as client:
            added: list[str] = []

            async def script(consumer: Consumer) -> None:
                added.extend(server.add_messages(2))
                await consumer.until(lambda: len(consumer.got) == 2)

            stream = client.messages.watch(since=newest_iso(), policy=FAST)
            assert sorted(await watching(stream, script)) == sorted(added)
            newest = server.dataset.message_row(server.dataset.message_count - 1).timestamp_ms
            assert stream.state.watermark_ms == newest


async def test_a_server_clock_stepped_back_past_the_overlap_is_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server's clock steps back half a second (overlap 1 s): what it stamps then is
    still after the floor, handed out, nothing said. Then back a minute: what it stamps
    now lies before the watch's floor and is never listed after it; that loss is said
    once (a WARNING naming both times), not silently, however many polls follow."""

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if "behind this watch's floor" in r.msg]

    async with FakePostpress(dataset=DATASET) as server, client_for(server) as client:
        added: list[str] = []

        async def script(consumer: Consumer) -> None:
            added.extend(server.add_messages(1))
            await consumer.until(lambda: len(consumer.got) == 1)
            server.clock_skew = -0.5
            added.extend(server.add_messages(1))
            await consumer.until(lambda: len(consumer.got) == 2)
            await consumer.polls(2)
            assert warnings() == []
            server.clock_skew = -60.0
            server.add_messages(1)  # stamped a minute before the floor
            await consumer.until(lambda: bool(warnings()))
            await consumer.polls(5)

        with caplog.at_level("WARNING", logger="postpress_async"):
            got = await watching(client.messages.watch(since=newest_iso(), policy=FAST), script)
    assert got == added
    [said] = warnings()
    assert " s behind this watch's floor" in said and "since=" in said


class NoDate(AiohttpTransport):
    """A transport whose responses carry no ``Date`` (a server without a clock)."""

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        response = await super().send(request, timeout=timeout)
        headers = {k: v for k, v in response.headers.items() if k != "date"}
        return dataclasses.replace(response, headers=headers)


async def test_without_a_date_header_a_future_dated_message_moves_the_position() -> None:
    # No server time, no bound: the behaviour before the bound, as the README says.
    async with FakePostpress(dataset=DATASET) as server:
        server.add_messages(1, timestamp=FUTURE, listed_now=True)
        async with client_for(server, transport=NoDate()) as client:
            listing = client.messages.list()
            assert len([m async for m in listing]) == 41
            assert listing.server_ms is None
            follow = listing.checkpoint.follow
            assert follow is not None and follow.watermark_ms == FUTURE_MS
        async with client_for(server) as client:
            listing = client.messages.list()
            assert len([m async for m in listing]) == 41
            follow = listing.checkpoint.follow
            assert follow is not None and follow.watermark_ms is not None
            assert listing.server_ms is not None and follow.watermark_ms <= listing.server_ms


@pytest.mark.parametrize("handed", [300, 3_000])
async def test_a_catch_up_chasing_a_feed_faster_than_its_consumer_remembers_a_bounded_set(
    handed: int,
) -> None:
    # A bot slower than its feed: two messages arrive (a second apart, correctly dated)
    # for each one handed out, so every poll is a backlog the catch-up never closes. The
    # ids remembered must stay those of one overlap window and the poll's pages, not
    # every id handed out since the poll began.
    feed = DatedFeed([(T0 + 1_000 * n, f"m{n:06d}") for n in range(100)], [], server_ms=T0)
    feed.server_ms = T0 + 10**9  # every stamp is behind the server's clock
    stream = feed.watch()
    got: list[Row] = []
    async for row in stream:
        got.append(row)
        for n in range(len(feed.rows), len(feed.rows) + 2):
            feed.rows.append((T0 + 1_000 * n, f"m{n:06d}"))
        if len(got) == handed:
            break
    assert got == sorted(feed.rows)[:handed]  # oldest first, each once
    # Past the cap a poll ends at its limit: what it kept is at most the cap and the
    # window it was listing then (2,902 ids after 3,000 messages before).
    assert len(stream.state.seen) <= 2 * stream.cap
