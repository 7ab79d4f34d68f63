"""Watch streams: the pure decisions, the state, and the stream over an in-memory feed.

The feed here is a list of ``(timestamp_ms, id)`` rows paged newest first with a strict
``after``, exactly as the API pages; the test decides which rows are listed before each
poll (through the injected ``sleep``), so bursts in one millisecond, late listings and
failures happen at exact points, and no test waits for wall-clock time.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

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
from postpress_async._follow import ListFollower, fresh, settle
from postpress_async._time import from_ms, to_ms
from postpress_async._watch import poll_delay, start_state
from postpress_async.models import Page

Row = tuple[int, str]
T0 = 1_779_000_000_000


def stamp(row: Row) -> Row:
    return row


def unavailable() -> ServiceUnavailableError:
    return ServiceUnavailableError(
        status=503,
        type="errors/service_unavailable",
        title="Service Unavailable",
        method="GET",
        url="https://x/v1/messages",
    )


class Exhausted(Exception):
    """The scripted feed has nothing more to list."""


class Feed:
    """Rows listed newest first (ties by id), ``page`` a page, strict ``after``.

    ``script[n]`` is what becomes listed before poll ``n`` (poll 0 lists ``initial``);
    the injected sleep advances to the next poll and records the delays asked for.
    """

    def __init__(self, script: Iterable[Iterable[Row]] = (), *, page: int = 3) -> None:
        self.listed: list[Row] = []
        self.script = [list(step) for step in script]
        self.page = page
        self.delays: list[float] = []
        self.afters: list[int | None] = []
        self.fail_next: list[Exception] = []
        self.requests = 0
        self.in_flight = 0

    def release(self) -> None:
        if self.script:
            self.listed.extend(self.script.pop(0))

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        if not self.script:
            raise Exhausted
        self.release()

    def list_after(
        self, *, after: datetime | None, before: datetime | None = None, limit: int | None = None
    ) -> ListStream[Row]:
        bound = None if after is None else to_ms(after)
        top = None if before is None else to_ms(before)
        self.afters.append(bound)
        rows = sorted(
            (
                row
                for row in self.listed
                if (bound is None or row[0] > bound) and (top is None or row[0] < top)
            ),
            key=lambda row: (-row[0], row[1]),
        )
        page = self.page if limit is None else limit

        async def fetch(cursor: str | None) -> Page[Row]:
            self.requests += 1
            if self.fail_next:
                raise self.fail_next.pop(0)
            start = 0 if cursor is None else int(cursor)
            end = start + page
            return Page(items=rows[start:end], cursor=str(end) if end < len(rows) else None)

        return ListStream(fetch, prefetch=0)

    def watch(self, state: WatchState, policy: PollPolicy | None = None) -> WatchStream[Row]:
        return WatchStream(
            self.list_after,
            stamp,
            state,
            policy=policy or PollPolicy(interval=1.0, jitter=0.0, overlap=1.0),
            sleep=self.sleep,
            random=lambda: 0.5,
        )


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


async def test_since_now_starts_at_the_servers_newest_item_not_the_local_clock() -> None:
    """A server whose timestamps run hours behind this clock still delivers what arrives."""
    behind = T0 - 3_600_000  # the server's "now", an hour behind T0
    feed = Feed([[(behind + 5, "arrives"), (behind - 2, "listed-late")]])
    feed.listed = [(behind - 10, "old"), (behind, "newest"), (behind, "same-ms")]
    policy = PollPolicy(interval=1.0, jitter=0.0, overlap=0.5)
    stream = feed.watch(begin("now"), policy)
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
