"""Watch streams: the pure decisions, the state, and the stream over an in-memory feed.

The feed here is a list of ``(timestamp_ms, id)`` rows paged newest first with a strict
``after``, exactly as the API pages; the test decides which rows are listed before each
poll (through the injected ``sleep``), so bursts in one millisecond, late listings and
failures happen at exact points, and no test waits for wall-clock time.
"""

from __future__ import annotations

import bisect
import dataclasses
import random
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from helpers import unavailable

from postpress_async import (
    Checkpoint,
    InvalidParameterError,
    ListStream,
    PollPolicy,
    ServiceUnavailableError,
    StateMismatchError,
    WatchState,
    WatchStream,
)
from postpress_async._catch_up import (
    CRAWL,
    EARLIEST_MS,
    GROWTH,
    CatchUp,
    Window,
    density_span,
    gallop,
    grown_span,
    shrunk_span,
)
from postpress_async._exceptions import ResponseDecodeError, UnreadableItem
from postpress_async._follow import ListFollower, UnreadableLedger, fresh, settle
from postpress_async._poll import poll_delay, start_state
from postpress_async._time import from_ms, to_ms
from postpress_async.models import Page

Row = tuple[int, str]
T0 = 1_779_000_000_000


def stamp(row: Row) -> Row:
    return row


class Exhausted(Exception):
    """The scripted feed has nothing more to list."""


class Feed:
    """Rows listed newest first (ties by id), ``page`` a page, strict ``after``/``before``.

    ``script[n]`` is what becomes listed before poll ``n`` (poll 0 lists ``initial``);
    the injected sleep advances to the next poll and records the delays asked for.
    ``arrivals[n]`` becomes listed once request ``n`` (counted from 1) is made, so items
    can arrive in the middle of a poll. Each listing is recorded in ``listings`` with
    how many items its pages served and whether it was walked to its end.
    """

    def __init__(self, script: Iterable[Iterable[Row]] = (), *, page: int = 3) -> None:
        self.listed: list[Row] = []
        self.script = [list(step) for step in script]
        self.page = page
        self.delays: list[float] = []
        self.afters: list[int | None] = []
        self.fail_next: list[Exception] = []
        self.fail_at: dict[int, Exception] = {}
        self.arrivals: dict[int, list[Row]] = {}
        self.listings: list[Listing] = []
        self.ignores_before = False  # a server that lists past the upper bound
        self.requests = 0
        self.in_flight = 0
        self._ordered: tuple[int, int, list[Row]] = (0, -1, [])

    def release(self) -> None:
        if self.script:
            self.listed.extend(self.script.pop(0))

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        if not self.script:
            raise Exhausted
        self.release()

    def ordered(self) -> list[Row]:
        """``listed`` oldest first (cached until it changes)."""
        key = (id(self.listed), len(self.listed))
        if self._ordered[:2] != key:
            self._ordered = (*key, sorted(self.listed))
        return self._ordered[2]

    def list_after(
        self, *, after: datetime | None, before: datetime | None = None, limit: int | None = None
    ) -> ListStream[Row]:
        bound = None if after is None else to_ms(after)
        top = None if before is None or self.ignores_before else to_ms(before)
        self.afters.append(bound)
        ordered = self.ordered()
        low = 0 if bound is None else bisect.bisect_left(ordered, (bound + 1, ""))
        high = len(ordered) if top is None else bisect.bisect_left(ordered, (top, ""))
        rows = sorted(ordered[low:high], key=lambda row: (-row[0], row[1]))
        page = self.page if limit is None else limit
        listing = Listing(after=bound, before=top, limit=limit)
        self.listings.append(listing)

        async def fetch(cursor: str | None) -> Page[Row]:
            self.requests += 1
            self.listed.extend(self.arrivals.pop(self.requests, ()))
            failure = self.fail_at.pop(self.requests, None)
            if failure is not None:
                raise failure
            if self.fail_next:
                raise self.fail_next.pop(0)
            start = 0 if cursor is None else int(cursor)
            end = start + page
            listing.served += len(rows[start:end])
            listing.ended = end >= len(rows)
            return Page(items=rows[start:end], cursor=str(end) if end < len(rows) else None)

        return ListStream(fetch, prefetch=0)

    def watch(
        self,
        state: WatchState,
        policy: PollPolicy | None = None,
        *,
        limit: int | None = None,
        max_items: int | None = None,
        timed: bool = True,
    ) -> WatchStream[Row]:
        return WatchStream(
            self.list_after,
            stamp,
            state,
            policy=policy or PollPolicy(interval=1.0, jitter=0.0, overlap=1.0),
            sleep=self.sleep,
            random=lambda: 0.5,
            limit=self.page if limit is None else limit,
            max_items=max_items,
            timed=timed,
        )


@dataclasses.dataclass
class Listing:
    """One listing the feed was asked for, and what its pages served."""

    after: int | None
    before: int | None
    limit: int | None
    served: int = 0
    ended: bool = False


def start(at: int = T0) -> WatchState:
    return WatchState(kind="messages", fingerprint="f", watermark_ms=at, floor_ms=at)


async def take(stream: WatchStream[Row], count: int) -> list[Row]:
    got: list[Row] = []
    if count == 0:
        return got
    async for row in stream:
        got.append(row)
        if len(got) == count:
            break
    return got


# -- the policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"interval": 0}, "interval", id="zero-interval"),
        pytest.param({"interval": -1.0}, "interval", id="negative-interval"),
        pytest.param({"interval": float("nan")}, "interval", id="nan-interval"),
        pytest.param({"jitter": 1.0}, "jitter", id="jitter-1"),
        pytest.param({"jitter": -0.1}, "jitter", id="negative-jitter"),
        pytest.param({"idle_backoff": 0.5}, "idle_backoff", id="shrinking-backoff"),
        pytest.param({"max_interval": 1.0, "interval": 2.0}, "max_interval", id="max-below"),
        pytest.param({"overlap": -1}, "overlap", id="negative-overlap"),
        pytest.param({"overlap": True}, "overlap", id="bool-overlap"),
    ],
)
def test_a_bad_policy_names_its_field(changes: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"policy.{field}"):
        PollPolicy(**changes)


def test_a_policy_is_a_frozen_value_with_replace() -> None:
    policy = PollPolicy()
    faster = policy.replace(interval=0.5)
    assert faster.interval == 0.5
    assert policy.interval == 2.0
    assert faster == PollPolicy(interval=0.5)
    with pytest.raises(AttributeError):
        policy.interval = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        PollPolicy(1.0)  # type: ignore[call-arg]
    with pytest.raises(InvalidParameterError, match=r"policy\.overlap"):
        policy.replace(overlap=-1.0)
    with pytest.raises(InvalidParameterError, match=r"policy\.speed"):
        policy.replace(speed=1.0)


def test_idle_polls_back_off_to_the_maximum() -> None:
    policy = PollPolicy(interval=1.0, idle_backoff=2.0, max_interval=5.0, jitter=0.0)
    delays = [poll_delay(policy, idle, lambda: 0.5) for idle in range(6)]
    assert delays == [1.0, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert poll_delay(policy, 10**6, lambda: 0.5) == 5.0


@pytest.mark.parametrize("backoff", [1e6, 10**6, 1e300], ids=["float", "int", "huge"])
def test_a_steep_back_off_reaches_the_maximum_and_stays_there(backoff: float) -> None:
    """However steep the back-off, a long idle spell waits ``max_interval``, never fails."""
    policy = PollPolicy(interval=1.0, idle_backoff=backoff, max_interval=30.0, jitter=0.0)
    assert [poll_delay(policy, idle, lambda: 0.5) for idle in (2, 64, 65, 10**6)] == [30.0] * 4


def test_jitter_spreads_the_delay_both_ways() -> None:
    policy = PollPolicy(interval=2.0, jitter=0.25)
    assert poll_delay(policy, 0, lambda: 0.0) == pytest.approx(1.5)
    assert poll_delay(policy, 0, lambda: 1.0) == pytest.approx(2.5)


# -- the pure decisions -------------------------------------------------------------------


def entries(*rows: Row) -> list[tuple[int, str, Row]]:
    return [(at, key, (at, key)) for at, key in rows]


def test_fresh_hands_out_what_is_after_the_floor_and_unseen_oldest_first() -> None:
    found = entries((12, "b"), (12, "a"), (10, "old"), (11, "x"), (13, "seen"), (12, "a"))
    picked = fresh(10, {"seen": 13}, found)
    assert [key for _, key, _ in picked] == ["x", "a", "b"]


def test_fresh_without_a_floor_takes_everything_unseen() -> None:
    assert [key for _, key, _ in fresh(None, {}, entries((5, "a"), (1, "b")))] == ["b", "a"]


def test_settle_raises_the_floor_behind_the_watermark_and_forgets_below_it() -> None:
    floor, seen = settle(1000, 0, {"old": 899, "edge": 900, "new": 1000}, 100)
    assert floor == 899
    assert seen == {"edge": 900, "new": 1000}


def test_settle_never_lowers_the_floor() -> None:
    floor, seen = settle(1000, 950, {"a": 960}, 100)
    assert floor == 950
    assert seen == {"a": 960}


def test_settle_without_a_watermark_keeps_the_floor() -> None:
    assert settle(None, None, {}, 100) == (None, {})
    assert settle(None, 7, {"a": 9}, 100) == (7, {"a": 9})


def test_milliseconds_round_trip() -> None:
    moment = datetime(2026, 5, 17, 9, 42, 11, 123456, tzinfo=timezone.utc)
    assert from_ms(to_ms(moment)) == moment.replace(microsecond=123000)
    assert to_ms(moment.replace(tzinfo=None)) == to_ms(moment)


# -- where a watch starts -----------------------------------------------------------------


def begin(since: object) -> WatchState:
    return start_state(since, kind="messages", fingerprint="f")


def test_since_now_is_left_for_the_server_to_say() -> None:
    state = begin("now")
    assert state.now
    assert state.floor_ms is None and state.watermark_ms is None


@pytest.mark.parametrize(
    "timed", [pytest.param(True, id="timed"), pytest.param(False, id="untimed")]
)
async def test_since_now_starts_at_the_servers_newest_item_not_the_local_clock(
    timed: bool,
) -> None:
    """A server whose timestamps run hours behind this clock still delivers what arrives."""
    behind = T0 - 3_600_000  # the server's "now", an hour behind T0
    feed = Feed([[(behind + 5, "arrives"), (behind - 2, "listed-late")]])
    feed.listed = [(behind - 10, "old"), (behind, "newest"), (behind, "same-ms")]
    policy = PollPolicy(interval=1.0, jitter=0.0, overlap=0.5)
    stream = feed.watch(begin("now"), policy, timed=timed)
    got = await take(stream, 2)
    assert [key for _, key in got] == ["listed-late", "arrives"]
    assert stream.state.watermark_ms == behind + 5
    assert not stream.state.now


async def test_since_now_on_an_empty_listing_hands_out_everything_that_appears() -> None:
    feed = Feed([[(T0 - 10_000, "first")]])
    got = await take(feed.watch(begin("now")), 1)
    assert [key for _, key in got] == ["first"]


@pytest.mark.parametrize(
    "since",
    [
        pytest.param("2026-05-17T09:42:11.123Z", id="iso-z"),
        pytest.param("2026-05-17T11:42:11.123+02:00", id="iso-offset"),
        pytest.param(datetime(2026, 5, 17, 9, 42, 11, 123999, tzinfo=timezone.utc), id="datetime"),
    ],
)
def test_since_a_moment_hands_out_what_is_strictly_after_it(since: object) -> None:
    expected = datetime(2026, 5, 17, 9, 42, 11, 123000, tzinfo=timezone.utc)
    assert begin(since).floor_ms == to_ms(expected)


@pytest.mark.parametrize(
    "since",
    [
        pytest.param(datetime(2026, 5, 17), id="naive"),
        pytest.param("yesterday", id="not-iso"),
        pytest.param(12, id="int"),
        pytest.param(None, id="none"),
    ],
)
def test_a_bad_since_is_refused_before_any_request(since: object) -> None:
    with pytest.raises(InvalidParameterError, match="since"):
        begin(since)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        pytest.param(WatchState(kind="messages", fingerprint="g"), "other filters", id="filters"),
        pytest.param(WatchState(kind="chats", fingerprint="f"), "of chats", id="kind"),
        pytest.param(
            WatchState(version=99, kind="messages", fingerprint="f"), "version 99", id="version"
        ),
    ],
)
def test_a_state_from_another_watch_is_refused(state: WatchState, reason: str) -> None:
    with pytest.raises(StateMismatchError, match=reason) as info:
        begin(state)
    assert isinstance(info.value, InvalidParameterError)
    assert info.value.param == "since"


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"floor_ms": 10**16}, id="floor-past-year-9999"),
        pytest.param({"watermark_ms": -(10**16)}, id="watermark-before-year-1"),
        pytest.param({"floor_ms": "0"}, id="floor-not-an-int"),
    ],
)
def test_a_damaged_state_is_refused_before_any_request(fields: dict[str, Any]) -> None:
    """A state read from a damaged store (its fingerprint intact) names ``since``; it
    never fails later as an OverflowError or TypeError at the first poll."""
    state = WatchState(kind="messages", fingerprint="f", **fields)
    with pytest.raises(InvalidParameterError, match="since") as info:
        begin(state)
    assert not isinstance(info.value, StateMismatchError)


def test_an_unfinished_listing_cannot_start_a_watch() -> None:
    with pytest.raises(InvalidParameterError, match="has not finished"):
        begin(Checkpoint(cursor="c", follow=WatchState(kind="messages", fingerprint="f")))


def test_a_checkpoint_of_another_listing_cannot_start_a_watch() -> None:
    with pytest.raises(InvalidParameterError, match="another listing"):
        begin(Checkpoint(done=True))


def test_a_state_is_json_and_back() -> None:
    state = WatchState(
        kind="messages", fingerprint="f", watermark_ms=5, floor_ms=2, seen=((3, "a"), (5, "b"))
    )
    data = msgspec.json.encode(state)
    assert msgspec.json.decode(data, type=WatchState) == state
    assert state.watermark == from_ms(5)
    assert state.floor == from_ms(2)


# -- the stream ---------------------------------------------------------------------------


@pytest.mark.parametrize("overlap", [0.0, 1.0])
async def test_a_burst_in_one_millisecond_split_across_polls_is_handed_out_once(
    overlap: float,
) -> None:
    feed = Feed([[(T0 + 5, "b")], [(T0 + 5, "a"), (T0 + 5, "c")], [(T0 + 6, "d")]])
    feed.listed = [(T0 + 5, "x")]
    stream = feed.watch(start(), PollPolicy(interval=1.0, overlap=overlap))
    got = await take(stream, 5)
    assert [key for _, key in got] == ["x", "b", "a", "c", "d"]
    # the millisecond of the watermark is listed again (strict after = watermark - 1 ms)
    assert all(after is not None and after < T0 + 5 for after in feed.afters[1:3])


async def test_a_late_listing_within_the_overlap_is_handed_out_once() -> None:
    feed = Feed([[(T0 + 900, "new")], [(T0 + 100, "late")], [(T0 + 1000, "next")]])
    got = await take(feed.watch(start()), 3)
    assert [key for _, key in got] == ["new", "late", "next"]


async def test_a_listing_later_than_the_overlap_is_not_seen() -> None:
    feed = Feed([[(T0 + 5000, "new")], [(T0 + 100, "too-late")], [(T0 + 5001, "next")]])
    got = await take(feed.watch(start()), 2)
    assert [key for _, key in got] == ["new", "next"]


async def test_nothing_at_or_before_since_is_handed_out() -> None:
    feed = Feed([[(T0 + 1, "after")]])
    feed.listed = [(T0, "at"), (T0 - 1, "before")]
    assert [key for _, key in await take(feed.watch(start()), 1)] == ["after"]


async def test_idle_polls_back_off_and_arrivals_reset_the_interval() -> None:
    script: list[list[Row]] = [[], [], [], [(T0 + 1, "a")], [], [], []]
    feed = Feed(script)
    policy = PollPolicy(interval=1.0, jitter=0.0, idle_backoff=2.0, max_interval=3.0)
    stream = feed.watch(start(), policy)
    got = await take(stream, 1)
    assert got == [(T0 + 1, "a")]
    assert feed.delays == [1.0, 2.0, 3.0, 3.0]
    await take_polls(stream, 3)
    assert feed.delays[4:] == [1.0, 1.0, 2.0]


async def take_polls(stream: WatchStream[Row], polls: int) -> None:
    """Run ``polls`` more polls of an already started stream (its generator is private)."""
    target = stream.polls + polls
    generator = stream._found()
    try:
        async for _ in generator:
            if stream.polls >= target:
                break
    finally:
        await generator.aclose()


async def test_batches_hand_out_each_polls_news_and_skip_empty_polls() -> None:
    feed = Feed([[], [(T0 + 2, "b"), (T0 + 1, "a")]])
    feed.listed = [(T0 + 1, "z")]
    batches = []
    async for batch in feed.watch(start()).batches():
        batches.append([key for _, key in batch])
        if len(batches) == 2:
            break
    assert batches == [["z"], ["a", "b"]]


async def test_a_failure_is_raised_with_the_state_intact_and_resume_continues() -> None:
    feed = Feed([[(T0 + 2, "b")], [(T0 + 3, "c")]])
    feed.listed = [(T0 + 1, "a")]
    stream = feed.watch(start())
    got: list[Row] = []
    with pytest.raises(ServiceUnavailableError):
        async for row in stream:
            got.append(row)
            if len(got) == 2:
                feed.fail_next.append(unavailable())
    assert [key for _, key in got] == ["a", "b"]
    state = stream.state
    assert state.watermark_ms == T0 + 2
    rest = await take(feed.watch(state), 1)
    assert [key for _, key in rest] == ["c"]


async def test_a_stream_iterates_once() -> None:
    stream = Feed().watch(start())
    stream.__aiter__()
    with pytest.raises(RuntimeError, match="only once"):
        stream.batches()


async def test_aclose_stops_polling() -> None:
    feed = Feed([[(T0 + 1, "a")], [(T0 + 2, "b")]])
    async with feed.watch(start()) as stream:
        async for row in stream:
            assert row == (T0 + 1, "a")
            await stream.aclose()
        assert stream.closed
    assert feed.requests == 2  # the first poll (empty) and the one that found "a"


async def test_the_seen_ids_stay_within_one_overlap_window() -> None:
    script = [[(T0 + 100 * n + k, f"m{n:04d}-{k}") for k in range(3)] for n in range(1, 60)]
    feed = Feed(script, page=50)
    stream = feed.watch(start(), PollPolicy(interval=1.0, jitter=0.0, overlap=0.25))
    await take(stream, 3 * 59)
    state = stream.state
    assert state.watermark_ms is not None and state.floor_ms is not None
    assert 0 < len(state.seen) <= 3 * 3  # 250 ms behind the watermark: three polls' rows
    assert all(at > state.floor_ms for at, _ in state.seen)


@pytest.mark.parametrize("seed", range(8))
async def test_exactly_once_and_complete_over_bursts_late_listings_failures_and_restarts(
    seed: int,
) -> None:
    """A random run: every row listed within the overlap is handed out exactly once."""
    rng = random.Random(seed)
    overlap_ms = 400
    script: list[list[Row]] = []
    pending: list[tuple[int, Row]] = []  # (poll at which it becomes listed, row)
    moment = T0
    serial = 0
    for poll in range(40):
        moment += rng.choice([0, 0, 1, 7, 50, 80])
        for _ in range(rng.choice([0, 1, 1, 2, 5])):  # bursts in one millisecond
            serial += 1
            lag = rng.choice([0, 0, 0, 1, 2, 3])  # listed up to 3 polls (< overlap) late
            pending.append((poll + lag, (moment - rng.randrange(0, 100), f"m{serial:05d}")))
    for poll in range(44):
        script.append([row for at, row in pending if at == poll])
    expected = sorted(row for _, row in pending)
    feed = Feed(script, page=rng.choice([1, 2, 7]))
    policy = PollPolicy(interval=1.0, jitter=0.0, overlap=overlap_ms / 1000)
    state = start(T0 - 1000)
    got: list[Row] = []
    exhausted = False
    while not exhausted:
        stream = feed.watch(state, policy)
        if rng.random() < 0.3:
            feed.fail_next.append(unavailable())
        try:
            async for row in stream:
                got.append(row)
                if rng.random() < 0.1:
                    break  # a restart from the saved state
        except ServiceUnavailableError:
            pass
        except Exhausted:
            exhausted = True
        state = msgspec.json.decode(msgspec.json.encode(stream.state), type=WatchState)
    assert sorted(got) == expected
    assert len(got) == len(set(got))


def test_each_unreadable_item_is_raised_once_even_when_its_bytes_repeat() -> None:
    """Known by its bytes and the readable item listed after it: two ``null`` items are two."""
    null = UnreadableItem(b"null", ResponseDecodeError("null", endpoint="messages.list"), 0)
    oops = UnreadableItem(b'"oops"', null.error, 1)
    listing = [(null, "m9"), (oops, "m9"), (null, "m5"), (null, "m5"), (null, "")]
    ledger = UnreadableLedger(())
    assert ledger.new(listing) == [null, oops, null, null, null]
    ledger.end_poll(complete=True)
    assert ledger.new(listing) == []  # listed again: raised already
    saved = WatchState(kind="messages", fingerprint="f", unreadable=tuple(ledger.reported))
    restored = msgspec.json.decode(msgspec.json.encode(saved), type=WatchState)
    resumed = UnreadableLedger(restored.unreadable)
    assert resumed.new(listing) == []  # nor after a restart from the saved state
    assert resumed.new([(null, "m4")]) == [null]  # a new one, in another place
    resumed.end_poll(complete=True)
    assert len(resumed.reported) == 1 + len(listing)  # the poll showed them all
    resumed.new([(null, "m4")])
    resumed.end_poll(complete=True)  # the floor passed the others: forgotten
    assert len(resumed.reported) == 1


def test_watermark_datetimes_are_aware() -> None:
    state = start()
    assert state.watermark is not None
    assert state.watermark.utcoffset() == timedelta(0)


# -- catch-up, then follow ----------------------------------------------------------------


def backfill(feed: Feed, *, newest_first: bool = True, resume: Checkpoint | None = None) -> Any:
    rows = sorted(feed.listed, key=lambda row: (-row[0], row[1]), reverse=not newest_first)

    async def fetch(cursor: str | None) -> Page[Row]:
        begin_at = 0 if cursor is None else int(cursor)
        end = begin_at + feed.page
        return Page(items=rows[begin_at:end], cursor=str(end) if end < len(rows) else None)

    first = WatchState(kind="messages", fingerprint="f")
    return ListStream(
        fetch,
        prefetch=0,
        resume=resume,
        follower=lambda saved: ListFollower(saved or first, stamp, overlap=10.0),
    )


@pytest.mark.parametrize("newest_first", [True, False], ids=["newest-first", "oldest-first"])
async def test_a_finished_listing_continues_as_a_watch_with_no_gap_and_no_duplicate(
    newest_first: bool,
) -> None:
    feed = Feed([[(T0 + 50, "same-ms-late"), (T0 + 60, "new")], [(T0 + 30, "late")]])
    feed.listed = [(T0 + n * 10, f"m{n:03d}") for n in range(6)]  # newest at T0 + 50
    listing = backfill(feed, newest_first=newest_first)
    listed = [row async for row in listing]
    assert listing.checkpoint.done
    state = start_state(listing.checkpoint, kind="messages", fingerprint="f")
    assert state.watermark_ms == T0 + 50
    followed = await take(feed.watch(state), 3)
    assert [key for _, key in followed] == ["same-ms-late", "new", "late"]
    assert len({*listed, *followed}) == len(listed) + len(followed) == 9


async def test_a_resumed_listing_keeps_where_it_ends() -> None:
    feed = Feed([[(T0 + 100, "new")]])
    feed.listed = [(T0 + n, f"m{n:03d}") for n in range(10)]
    listing = backfill(feed)
    first = [row async for row in listing.pages()][:1]
    assert first
    partial = backfill(feed)
    async for _ in partial:
        break
    saved = msgspec.json.decode(msgspec.json.encode(partial.checkpoint), type=Checkpoint)
    resumed = backfill(feed, resume=saved)
    rest = [row async for row in resumed]
    assert len(rest) == 9
    state = start_state(resumed.checkpoint, kind="messages", fingerprint="f")
    assert state.watermark_ms == T0 + 9
    assert [key for _, key in await take(feed.watch(state), 1)] == ["new"]


@pytest.mark.parametrize(
    "page",
    [
        pytest.param([None, (T0 + 1_004, "a"), (T0 + 990, "old")], id="first-unplaced"),
        pytest.param([None, (T0 + 1_004, "a"), None], id="both-unplaced"),
        pytest.param([(T0 + 990, "old"), (T0 + 1_004, "a"), None], id="oldest-first"),
    ],
)
def test_a_page_with_an_unplaced_end_still_records_what_is_after_the_floor(
    page: list[Row | None],
) -> None:
    """An item that cannot be placed (unreadable) at a page's end says nothing of the page."""

    def placed(item: Row | None) -> Row | None:
        return item

    follower = ListFollower(start(), placed, overlap=1.0)
    follower.note([(T0 + 2_000, "newest")])  # the floor rises to T0 + 999
    follower.note(page)
    state = follower.state()
    assert state.floor_ms == T0 + 999
    assert (T0 + 1_004, "a") in state.seen


async def test_an_empty_listing_continues_from_its_start() -> None:
    feed = Feed([[(T0, "first")]])
    listing = backfill(feed)
    assert [row async for row in listing] == []
    state = start_state(listing.checkpoint, kind="messages", fingerprint="f")
    assert state.watermark_ms is None
    assert [key for _, key in await take(feed.watch(state), 1)] == ["first"]


@pytest.mark.parametrize("batches", [False, True], ids=["items", "batches"])
async def test_max_items_ends_the_stream_and_its_state_keeps_the_rest(batches: bool) -> None:
    feed = Feed([[(T0 + 2, "c"), (T0 + 2, "d"), (T0 + 3, "e")]])
    feed.listed = [(T0 + 1, "a"), (T0 + 1, "b")]
    stream = WatchStream(
        feed.list_after,
        stamp,
        start(),
        policy=PollPolicy(interval=1.0, jitter=0.0),
        max_items=3,
        sleep=feed.sleep,
    )
    if batches:
        got = [row for batch in [b async for b in stream.batches()] for row in batch]
    else:
        got = [row async for row in stream]
    assert [key for _, key in got] == ["a", "b", "c"]
    rest = await take(feed.watch(stream.state), 2)
    assert [key for _, key in rest] == ["d", "e"]


def test_max_items_must_be_positive() -> None:
    with pytest.raises(InvalidParameterError, match="max_items"):
        Feed().watch(start()).__class__(
            Feed().list_after, stamp, start(), policy=PollPolicy(), max_items=0
        )


# -- bounded catch-up: the pure decisions -------------------------------------------------


def test_a_span_holds_the_target_at_the_density_listed() -> None:
    assert density_span(100, 1_000, 20) == 200
    assert density_span(1, 1, 20) == 20
    assert density_span(10_000, 5, 20) == 1  # never narrower than one millisecond
    with pytest.raises(ValueError, match="count"):
        density_span(0, 10, 20)


def test_a_sparse_window_grows_the_next_at_most_eightfold() -> None:
    assert grown_span(100, 0, target=20) == 100 * GROWTH  # empty: as fast as allowed
    assert grown_span(100, 1, target=20) == 100 * GROWTH  # 2000 wanted, 800 allowed
    assert grown_span(100, 10, target=20) == 200
    assert grown_span(100, 40, target=20) == 50  # denser than aimed at: narrower
    assert grown_span(1, 10_000, target=20) == 1


def test_a_window_over_the_cap_shrinks_by_half_to_an_eighth() -> None:
    assert shrunk_span(1_000, [], target=20) == 500
    assert shrunk_span(1_000, [900, 999], target=20) == 500  # sparse as held: still half
    held = [990 + n % 10 for n in range(100)]  # 100 items within 10 ms: a burst
    assert shrunk_span(1_000, held, target=20) == 125  # not narrower than an eighth
    assert shrunk_span(100_000, list(range(0, 100_000, 100)), target=20) == 12_500
    assert shrunk_span(100_000, list(range(0, 40_000, 100)), target=20) == 12_500
    assert shrunk_span(100_000, list(range(0, 200_000, 100)), target=400) == 39_980
    assert shrunk_span(1, [5, 5], target=20) == 1


def test_the_search_for_the_oldest_item_steps_back_ever_further() -> None:
    points = list(gallop(1_000_000, 10))
    assert points[:4] == [1_000_000 - 10, 1_000_000 - 80, 1_000_000 - 640, 1_000_000 - 5_120]
    assert points[-1] == EARLIEST_MS
    assert len(points) < 30  # from 2026 back to the year 1000 in a few dozen probes at most
    assert from_ms(EARLIEST_MS).year == 1000


def test_catch_up_windows_are_contiguous_and_stop_short_of_the_edge_then_open() -> None:
    plan = CatchUp(1_000, span=100, edge=1_500, target=20)
    assert plan.window == Window(1_000, 1_101)  # ms 1001..1100
    plan.fits(20)  # as dense as aimed at: the same span again
    assert plan.window == Window(1_100, 1_201)
    assert not plan.probing
    plan.fits(0)  # empty: eight times wider, but not past the edge
    assert plan.window == Window(1_200, 1_500)
    assert plan.probing  # after an empty window, only a page is taken of the next
    plan.fits(3)
    assert plan.window == Window(1_499, None)  # from the edge on: open, up to now
    assert not plan.done
    plan.fits(7)
    assert plan.done


def test_a_bounded_window_that_overflows_is_listed_again_below_what_it_held() -> None:
    plan = CatchUp(0, span=1_000, edge=10_000, target=20)
    plan.overflows([979 - n for n in range(80)])  # the newest 80, cut off: 900..979
    assert plan.bounds == [10_000, 900]  # what was held gets a window of its own, later
    assert plan.window == Window(0, 126)  # 1000 / 8: a burst held does not say more
    spans = []
    while not plan.single:
        plan.overflows([])
        spans.append(plan.span)
    assert spans == [62, 31, 15, 7, 3, 1]
    assert plan.window == Window(0, 2)  # one millisecond: 1
    with pytest.raises(ValueError, match="one-millisecond"):
        plan.overflows([1] * 80)
    plan.fits(500)  # handed out as listed
    assert plan.window.after == 1


def test_a_window_whose_held_items_reach_its_start_lists_its_first_millisecond_alone() -> None:
    plan = CatchUp(100, span=1_000, edge=None, target=20)
    plan.overflows([101] * 50 + [150])  # open: the newest first, down to ms 101
    assert plan.window == Window(100, 102)
    assert plan.single
    plan.fits(60)
    assert plan.window == Window(101, None)  # the rest of what was held, open again


def test_an_open_window_that_overflows_becomes_bounded_below_what_it_held() -> None:
    plan = CatchUp(0, span=50, edge=None, target=20)
    assert plan.window == Window(0, None)
    plan.overflows([5_079 - n for n in range(80)])  # newest first: the top of the backlog
    assert plan.bounds == [5_000]
    assert plan.window == Window(0, 635)  # an eighth of what the open listing spanned
    plan.fits(0)
    assert plan.window == Window(634, 3_174)  # grows back, at most to half what overflowed
    plan.fits(10)
    assert plan.window == Window(3_173, 5_000)
    plan.fits(10)
    assert plan.window == Window(4_999, None)


def test_an_open_window_holding_nothing_after_its_start_ends_the_catch_up() -> None:
    plan = CatchUp(100, span=50, edge=None, target=20)
    plan.overflows([50, 100])
    assert plan.done


@pytest.mark.parametrize("seed", range(6))
def test_a_simulated_catch_up_lists_every_stamp_once_within_the_cap(seed: int) -> None:
    """The plan alone, driven over stamps in memory: windows tile the backlog exactly."""
    rng = random.Random(seed)
    stamps: list[int] = []
    moment = 10_001
    for _ in range(rng.randrange(200, 3_000)):
        moment += rng.choice([0, 0, 1, 3, 50, 400, 10**6])
        stamps.append(moment)
    target, cap = 10, 40
    plan = CatchUp(10_000, span=rng.choice([1, 7, 1_000]), edge=stamps[-1] - 5, target=target)
    handed: list[int] = []
    listings = 0
    while not plan.done:
        listings += 1
        assert listings < 5_000
        after, before = plan.window
        inside = [at for at in stamps if at > after and (before is None or at < before)]
        if len(inside) <= cap or plan.single:
            handed += inside
            plan.fits(len(inside))
        else:
            plan.overflows(sorted(inside, reverse=True)[:cap])  # newest first, cut at the cap
    assert handed == stamps
    assert listings < 4 * len(stamps) / target + 60


# -- bounded catch-up: the stream ---------------------------------------------------------

MONTH = 30 * 86_400_000


def backlog(count: int, *, seed: int = 0, start: int = T0 + 1) -> list[Row]:
    """``count`` rows after ``start``: spread, in bursts of one millisecond, with gaps."""
    rng = random.Random(seed)
    rows: list[Row] = []
    moment = start
    while len(rows) < count:
        moment += rng.choice([0, 1, 2, 40, 900, 60_000, 3_600_000])
        for _ in range(min(count - len(rows), rng.choice([1, 1, 1, 2, 5, 30]))):
            rows.append((moment, f"b{len(rows):06d}"))
    return rows


def in_order(rows: Iterable[Row]) -> bool:
    times = [at for at, _ in rows]
    return times == sorted(times)


async def test_a_backlog_is_handed_out_once_oldest_first_in_batches_of_a_page() -> None:
    rows = backlog(5_000)
    feed = Feed(page=7)
    feed.listed = list(rows)
    stream = feed.watch(start())
    batches: list[list[Row]] = []
    with pytest.raises(Exhausted):  # all of it in the first poll; the second never comes
        async for batch in stream.batches():
            batches.append(batch)
            state = stream.state
            assert state.watermark_ms == batch[-1][0]
            assert state.floor_ms is not None
            covered = {row for row in batch if row[0] > state.floor_ms}
            assert {(at, key) for at, key in state.seen} >= covered
    got = [row for batch in batches for row in batch]
    assert got == sorted(rows)  # every item once, oldest first (ties by id)
    assert max(len(batch) for batch in batches) <= 7
    assert stream.cap == 56
    for listing in feed.listings:  # only a millisecond of more than the cap is listed whole
        assert listing.served <= 56 or listing.before == (listing.after or 0) + 2
    assert stream.polls == 1
    assert stream.catch_up_listings > 5_000 / 56  # windows, not one listing of it all


async def test_a_catch_up_remembers_the_ids_of_one_overlap_window_not_of_the_backlog() -> None:
    """A consumer that never reads ``state`` still holds one overlap window of ids."""
    rows = [(T0 + 10 * n + 1, f"m{n:05d}") for n in range(3_000)]  # 100 a second
    feed = Feed(page=3)
    feed.listed = list(rows)
    stream = feed.watch(start())  # overlap: 1 s
    remembered = 0
    with pytest.raises(Exhausted):
        async for _ in stream:
            remembered = max(remembered, len(stream._tracker.seen))
    assert stream.items_handed_out == 3_000
    assert stream.catch_up_listings > 3_000 / stream.cap
    assert remembered <= 100 + 2 * stream.cap  # the overlap, and the window in hand


async def test_an_untimed_watch_lists_everything_and_hands_out_the_oldest_cap_at_a_time() -> None:
    """``timed=False`` (chats under ``chat_time="created"``): no bound is ever sent; each
    listing is walked whole and its oldest ``cap`` news handed out, then it is listed again;
    a row whose time moved (a new ``id@time`` key) is handed out again, once."""
    rows = backlog(300, seed=5)
    moved = (rows[-1][0] + 5_000, "b000003@moved")
    feed = Feed([[moved], []], page=2)
    feed.listed = list(rows)
    stream = feed.watch(start(), timed=False)
    assert stream.cap == 16  # 300 news: pruned while listing, then cut to 16 a listing
    got: list[Row] = []
    with pytest.raises(Exhausted):
        async for batch in stream.batches():
            assert len(batch) <= 2
            got += batch
    assert got == [*sorted(rows), moved]
    assert all(listing.after is None and listing.before is None for listing in feed.listings)
    assert all(listing.ended for listing in feed.listings)
    assert stream.catch_up_listings == 300 // 16  # one more listing a cap of news
    assert stream.polls == 3


async def test_a_small_backlog_costs_one_request_a_poll() -> None:
    feed = Feed([[(T0 + 5, "c")], []], page=7)
    feed.listed = [(T0 + 1, "a"), (T0 + 2, "b")]
    stream = feed.watch(start())
    with pytest.raises(Exhausted):
        async for _ in stream:
            pass
    assert stream.items_handed_out == 3
    assert feed.requests == stream.polls == 3
    assert stream.catch_up_listings == 0


@pytest.mark.parametrize("how", ["consumer", "request"])
async def test_a_crash_mid_catch_up_resumes_from_the_last_state_losing_and_repeating_nothing(
    how: str,
) -> None:
    rows = backlog(2_000, seed=3)
    feed = Feed(page=5)
    feed.listed = list(rows)
    committed: list[Row] = []
    saved = start()
    stream = feed.watch(saved)
    with pytest.raises(RuntimeError if how == "consumer" else ServiceUnavailableError):
        async for batch in stream.batches():
            if how == "consumer" and len(committed) >= 900:
                raise RuntimeError("killed before this batch and its state were stored")
            if how == "request" and len(committed) >= 900 and not feed.fail_at:
                feed.fail_at[feed.requests + 2] = unavailable()
            committed += batch  # the batch and the state after it, in one step
            saved = msgspec.json.decode(msgspec.json.encode(stream.state), type=WatchState)
    assert 900 <= len(committed) < 2_000
    with pytest.raises(Exhausted):
        async for batch in feed.watch(saved).batches():
            committed += batch
    assert committed == sorted(rows)


async def test_a_window_that_lists_more_than_the_cap_shrinks() -> None:
    sparse = [(T0 + 1 + n * 60_000, f"s{n:03d}") for n in range(40)]
    dense = [(T0 + 50 * 60_000 + n // 3, f"d{n:04d}") for n in range(600)]  # 3 a millisecond
    feed = Feed(page=5)
    feed.listed = sparse + dense + [(T0 + 3 * MONTH, "newest")]
    stream = feed.watch(start())
    got: list[Row] = []
    with pytest.raises(Exhausted):
        async for batch in stream.batches():
            got += batch
    assert got == sorted(feed.listed)
    catch_up = feed.listings[1:]
    assert any(not listing.ended for listing in catch_up)  # a window was cut off at the cap
    assert max(listing.served for listing in feed.listings) <= stream.cap


async def test_a_burst_in_one_millisecond_larger_than_the_cap_is_handed_out_as_listed() -> None:
    burst = [(T0 + 5_000, f"m{n:03d}") for n in range(130)]
    feed = Feed(page=4)
    feed.listed = [(T0 + 1, "first"), *burst, (T0 + MONTH, "last")]
    stream = feed.watch(start())
    batches: list[list[Row]] = []
    with pytest.raises(Exhausted):
        async for batch in stream.batches():
            batches.append(batch)
    got = [row for batch in batches for row in batch]
    assert sorted(got) == sorted(feed.listed)
    assert len(got) == len(set(got))
    assert in_order(got)
    assert max(len(batch) for batch in batches) <= 4


def steady(count: int, *, start: int, seed: int = 0) -> list[Row]:
    """``count`` rows after ``start``, about one a minute, a few in one millisecond."""
    rng = random.Random(seed)
    rows: list[Row] = []
    moment = start
    while len(rows) < count:
        moment += rng.randrange(1, 120_000)
        for _ in range(min(count - len(rows), rng.choice([1, 1, 1, 2, 3]))):
            rows.append((moment, f"s{len(rows):06d}"))
    return rows


async def listings_to_first_item(rows: list[Row]) -> int:
    feed = Feed(page=5)
    feed.listed = list(rows)
    stream = feed.watch(start())
    assert await take(stream, 1) == [min(rows)]
    return len(feed.listings) - 1  # after the poll's own listing


@pytest.mark.parametrize("make", [steady, backlog], ids=["steady", "bursty"])
async def test_an_empty_gap_of_months_is_crossed_in_a_few_requests(make: Any) -> None:
    """Eightfold wider windows cross the gap, one page probes bisect down to the backlog."""
    months = await listings_to_first_item(make(400, start=T0 + 4 * MONTH))
    years = await listings_to_first_item(make(400, start=T0 + 40 * MONTH))
    assert months <= 24  # ~log2(4 months / 5 minutes) + the gallop: not one a window
    assert years <= months + 10  # ten times the gap: a few listings more


def test_after_a_gap_a_probe_that_holds_more_than_a_page_is_bisected() -> None:
    plan = CatchUp(0, span=10, edge=1_000_000, target=20)
    plan.fits(0)
    assert plan.probing
    assert plan.window == Window(10, 91)
    plan.fits(0)
    assert plan.window == Window(90, 731)
    plan.overflows([700])  # one page held, from the top: the backlog is somewhere below
    assert plan.bisecting
    assert plan.window == Window(90, 411)  # half
    plan.fits(0)  # the lower half empty: the items are in the upper one
    assert plan.window == Window(410, 571)  # its lower half
    plan.fits(3)  # landed
    assert not plan.probing and not plan.bisecting
    assert plan.window.after == 570


async def test_a_probe_whose_items_all_lie_in_its_oldest_millisecond_is_not_bisected() -> None:
    """Two bursts of one millisecond each, months after the rest (a bulk import, or items a
    provider dated in the future): a probe window that reaches the older burst holds a
    page of it, and bisecting below that millisecond crawls up to it, half the rest a
    listing, finding nothing. One item listed below it says there is nothing there."""
    far = T0 + 4 * MONTH
    older = [(far, f"a{n:02d}") for n in range(30)]
    newer = [(far + 1, f"b{n:02d}") for n in range(60)]  # more than the poll holds (8 pages)
    feed = Feed(page=5)
    feed.listed = [*steady(20, start=T0), *older, *newer]
    stream = feed.watch(start())
    got = await take(stream, len(feed.listed))
    assert got == sorted(feed.listed)
    assert len(feed.listings) <= 45, len(feed.listings)  # 37; 71 when it bisected up to the burst


@pytest.mark.parametrize("newest", [None, 8_999_900], ids=["nothing-below", "one-below"])
def test_a_bisection_that_finds_nothing_ten_times_asks_what_lies_below_its_bound(
    newest: int | None,
) -> None:
    plan = CatchUp(0, span=1_000_000, edge=10**15, target=20)
    plan.fits(0)
    plan.overflows([9_000_000])  # a probe held a page, all at 9,000,000: bisect below it
    for _ in range(CRAWL):
        assert not plan.crawling
        plan.fits(0)
    assert plan.crawling and plan.bisecting
    lo = plan.lo
    assert lo < 8_999_900  # halving, it has not got there yet
    plan.below(newest)  # one item listed between lo and the bound: none, or the newest there
    assert not plan.crawling
    if newest is None:  # the windows move up to the bound at once
        assert plan.window.after == 8_999_999 and plan.bounds == [10**15]
    else:  # the bound comes down to just past it
        assert plan.lo == lo and plan.bounds[-1] == newest + 1


async def test_a_catch_up_without_a_floor_finds_the_oldest_item_first() -> None:
    rows = backlog(600, seed=6, start=T0 - 9 * MONTH)
    feed = Feed(page=5)
    feed.listed = list(rows)
    stream = feed.watch(WatchState(kind="messages", fingerprint="f"))  # everything is new
    probes_before = len(feed.listings)
    got: list[Row] = []
    with pytest.raises(Exhausted):
        async for batch in stream.batches():
            got += batch
    assert got == sorted(rows)
    listed = feed.listings[probes_before:]
    probes = [listing for listing in listed if listing.limit == 1 and listing.after is None]
    assert 1 <= len(probes) <= 15
    assert all(listing.before is not None for listing in probes)


async def test_items_arriving_during_a_catch_up_are_handed_out_once() -> None:
    rows = backlog(1_500, seed=7)
    newest = max(rows)[0]
    arriving = {
        20: [(newest + 10, "new-1")],
        60: [(newest + 10, "new-2"), (newest + 11, "new-3")],
        90: [(newest + 2_000, f"new-burst-{n}") for n in range(30)],
    }
    feed = Feed(page=5)
    feed.listed = list(rows)
    feed.arrivals = {n: list(more) for n, more in arriving.items()}
    stream = feed.watch(start())
    got: list[Row] = []
    with pytest.raises(Exhausted):
        async for row in stream:
            got.append(row)
    expected = rows + [row for more in arriving.values() for row in more]
    assert not feed.arrivals  # the catch-up took long enough for all to arrive
    assert got == sorted(expected)


@pytest.mark.parametrize("batches", [False, True], ids=["items", "batches"])
async def test_max_items_ends_a_catch_up_and_its_state_resumes_it(batches: bool) -> None:
    rows = backlog(300, seed=8)
    feed = Feed(page=3)
    feed.listed = list(rows)
    stream = feed.watch(start(), max_items=100)
    if batches:
        got = [row for batch in [b async for b in stream.batches()] for row in batch]
    else:
        got = [row async for row in stream]
    assert got == sorted(rows)[:100]
    with pytest.raises(Exhausted):
        async for row in feed.watch(stream.state):
            got.append(row)
    assert got == sorted(rows)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.slow
async def test_catch_ups_with_arrivals_failures_and_restarts_hand_out_everything_once(
    seed: int,
) -> None:
    rng = random.Random(seed)
    rows = backlog(rng.randrange(50, 1_500), seed=seed)
    newest = max(rows)[0]
    feed = Feed(page=rng.choice([1, 2, 3, 7]))
    feed.listed = list(rows)
    extra: list[Row] = []
    for n in range(rng.randrange(0, 6)):
        arriving = [(newest + 100 * n + k % 2, f"a{n}-{k}") for k in range(rng.choice([1, 4, 20]))]
        feed.arrivals[rng.randrange(1, 150)] = arriving
        extra += arriving
    state = start()
    got: list[Row] = []
    for _ in range(200):
        stream = feed.watch(state, PollPolicy(interval=1.0, jitter=0.0, overlap=0.5))
        if rng.random() < 0.3:
            feed.fail_at[feed.requests + rng.randrange(1, 40)] = unavailable()
        run: list[Row] = []
        try:
            async for batch in stream.batches():
                run += batch
                if rng.random() < 0.05:
                    break  # a restart from the saved state
        except ServiceUnavailableError:
            pass
        except Exhausted:
            feed.fail_at.clear()
            if not feed.arrivals:
                got += run
                break
        got += run
        assert in_order(run)
        state = msgspec.json.decode(msgspec.json.encode(stream.state), type=WatchState)
        feed.script.append([])  # one more poll for the next stream
    assert sorted(got) == sorted(rows + extra)
    assert len(got) == len(set(got))


@pytest.mark.slow
async def test_a_server_that_lists_past_a_windows_end_loses_and_repeats_nothing() -> None:
    rows = backlog(1_000, seed=9)
    feed = Feed(page=5)
    feed.ignores_before = True
    feed.listed = list(rows)
    got: list[Row] = []
    with pytest.raises(Exhausted):
        async for batch in feed.watch(start()).batches():
            got += batch
    assert got == sorted(rows)
