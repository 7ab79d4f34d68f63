"""Rate limits and the adaptive in-flight limit: pure rules, injected time, the fake server."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from helpers import RecordingTransport, empty_list

from postpress_async import (
    AsyncPostpress,
    InvalidParameterError,
    Limits,
    RateLimitError,
    ResponseEvent,
    RetryPolicy,
    merge,
)
from postpress_async._limits import ACCOUNTS_SWEPT_AT, InFlightLimit, Limiter, TokenBucket, aimd
from postpress_async.testing import Dataset, FakePostpress, Faults
from postpress_async.transports import MockTransport, Request, Response


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


# -- pure rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "throttled", "expected"),
    [
        pytest.param(10.0, True, 7.0, id="throttled-cuts-30%"),
        pytest.param(1.0, True, 1.0, id="never-below-one"),
        pytest.param(4.0, False, 4.25, id="success-adds-1/limit"),
        pytest.param(16.0, False, 16.0, id="never-above-the-ceiling"),
    ],
)
def test_aimd_cuts_on_throttling_and_grows_on_success(
    limit: float, throttled: bool, expected: float
) -> None:
    """Multiplicative decrease, additive increase, within [1, max_in_flight]."""
    assert aimd(limit, throttled=throttled, ceiling=16) == expected


def test_a_token_bucket_spaces_start_times_by_one_over_the_rate() -> None:
    """Five reservations at the same instant wait 0, 0.1, ..., 0.4 s at 10 requests/s."""
    bucket = TokenBucket(10.0, clock=lambda: 5.0)
    assert [round(bucket.reserve(), 9) for _ in range(5)] == [0.0, 0.1, 0.2, 0.3, 0.4]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("requests_per_second", 0, id="zero-rate"),
        pytest.param("requests_per_second", -1.0, id="negative-rate"),
        pytest.param("account_requests_per_second", float("nan"), id="nan-rate"),
        pytest.param("adaptive", "yes", id="adaptive-not-bool"),
        pytest.param("retry_budget_ratio", -0.1, id="negative-budget-ratio"),
        pytest.param("retry_budget_floor", "x", id="budget-floor-str"),
        pytest.param("retry_budget_floor", 0, id="budget-floor-zero"),
        pytest.param("retry_budget_floor", 0.5, id="budget-floor-below-one-retry"),
        pytest.param("retry_budget_floor", 10**400, id="budget-floor-huge-int"),
        pytest.param("retry_budget_ratio", 10**400, id="budget-ratio-huge-int"),
        pytest.param("requests_per_second", 10**400, id="huge-int-rate"),
        pytest.param("requests_per_second", 1e-320, id="rate-whose-interval-is-infinite"),
        pytest.param("account_requests_per_second", True, id="bool-rate"),
        pytest.param("max_in_flight", 0, id="zero-in-flight"),
        pytest.param("max_in_flight", 2.0, id="float-in-flight"),
        pytest.param("max_in_flight", True, id="bool-in-flight"),
    ],
)
def test_bad_limits_are_refused_by_name(field: str, value: object) -> None:
    """Each new field is checked like the old ones, in the constructor and in replace()."""
    with pytest.raises(InvalidParameterError, match=f"limits.{field}"):
        Limits(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=f"limits.{field}"):
        Limits().replace(**{field: value})


# -- injected time ---------------------------------------------------------------------------


async def test_n_requests_at_rate_r_take_at_least_n_minus_one_over_r() -> None:
    """20 concurrent holders at 200 requests/s span at least 19/200 s of the monotonic clock."""
    limiter = Limiter(Limits(requests_per_second=200.0))
    starts: list[float] = []

    async def one() -> None:
        async with limiter.hold():
            starts.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(20)))
    assert max(starts) - min(starts) >= 19 / 200
    assert limiter.rate_wait >= 19 / 200  # the last one alone waited that long


async def test_each_account_has_its_own_bucket() -> None:
    """At 1 request/s an account, two accounts' first requests both go at once."""
    fake = FakeTime()
    limits = Limits(account_requests_per_second=1.0)
    limiter = Limiter(limits, clock=fake.clock, sleep=fake.sleep)
    starts: dict[str, list[float]] = {"a": [], "b": []}

    async def one(account: str) -> None:
        async with limiter.hold((account,)):
            starts[account].append(fake.clock())

    await asyncio.gather(one("a"), one("b"), one("a"))
    assert starts["b"] == [0.0]
    assert starts["a"][1] - starts["a"][0] >= 1.0


async def test_a_client_naming_ever_new_accounts_keeps_buckets_only_for_the_busy_ones() -> None:
    """A service that runs for weeks names ever new accounts: an account whose next turn
    is due is forgotten (a new bucket would act the same), so the table stays near the
    accounts spaced within the last second; one still waiting out its spacing is kept."""
    fake = FakeTime()
    limiter = Limiter(Limits(account_requests_per_second=1.0), clock=fake.clock, sleep=fake.sleep)
    for number in range(5 * ACCOUNTS_SWEPT_AT):
        await _enter(limiter, (f"acc_{number}",))
        fake.now += 0.001  # 1,000 accounts a second, each 1 request/s
    assert len(limiter._accounts) <= 2 * ACCOUNTS_SWEPT_AT
    limiter._sweep_accounts()
    assert 900 <= len(limiter._accounts) <= 1000  # the last second's accounts
    started = fake.clock()
    await _enter(limiter, (f"acc_{5 * ACCOUNTS_SWEPT_AT - 1}",))
    assert fake.clock() - started >= 0.99  # its spacing held across the sweep


async def test_an_in_flight_limit_raised_hands_slots_to_waiters() -> None:
    """A waiter gets its slot as soon as the limit grows, without a release."""
    slots = InFlightLimit(1)
    await slots.acquire()
    waiter = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()
    slots.limit = 2.0
    slots.wake()
    await waiter
    assert slots.in_flight == 2


async def test_a_waiter_cancelled_gives_up_its_place() -> None:
    """Cancelling a queued acquire leaves no slot taken and no waiter behind."""
    slots = InFlightLimit(1)
    await slots.acquire()
    waiter = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    slots.release()
    assert slots.in_flight == 0
    await slots.acquire()  # free again at once
    assert slots.in_flight == 1


async def test_per_account_requests_name_their_accounts() -> None:
    """``account_id`` filters are what the per-account buckets key on."""
    transport = RecordingTransport(empty_list)
    async with AsyncPostpress(api_key="k", transport=transport) as client:
        await client.chats.list(account_id=["acc_1", "acc_2"])
        await client.messages.list(account_id="acc_3")
        await client.accounts.list()
    assert [r.accounts for r in transport.requests] == [("acc_1", "acc_2"), ("acc_3",), ()]


# -- the fake server -------------------------------------------------------------------------


async def test_the_rate_holds_across_streams_merge_and_fan_out_on_the_fake() -> None:
    """Every stream of a client shares its rate: N requests take at least (N-1)/r."""
    rate, messages = 100.0, 30
    async with FakePostpress(dataset=Dataset(seed=3, messages=messages)) as server:
        limits = Limits(requests_per_second=rate, max_in_flight=3)
        async with AsyncPostpress(
            api_key=server.api_key, base_url=server.url, limits=limits
        ) as client:
            started = time.monotonic()
            streams = [client.messages.list(limit=5) for _ in range(2)]
            items = [item async for item in merge(*streams)]
            elapsed = time.monotonic() - started
            requests = client.stats().requests
    assert len(items) == 2 * messages
    assert requests == server.stats.requests >= 12
    assert elapsed >= (requests - 1) / rate
    assert server.stats.peak_in_flight <= 3


@pytest.mark.slow
async def test_the_adaptive_limit_converges_under_a_server_that_throttles_above_4() -> None:
    """From 16, the limit falls to the server's concurrency and stays near it."""
    server_limit = 4
    faults = Faults(latency=0.002, max_concurrency=server_limit, retry_after=0.0)
    seen: list[int] = []
    async with FakePostpress(dataset=Dataset(seed=3, messages=10), faults=faults) as server:
        limits = Limits(max_in_flight=16, adaptive=True, retry_budget_floor=10_000.0)
        retry = RetryPolicy(attempts=50, wait_initial=0.0)

        async def sample(event: ResponseEvent) -> None:
            seen.append(client.stats().in_flight_limit)

        client = AsyncPostpress(
            api_key=server.api_key,
            base_url=server.url,
            limits=limits,
            retry=retry,
            event_hooks={"response": [sample]},
        )
        async with client:

            async def worker() -> None:
                for _ in range(6):
                    await client.accounts.list(limit=1)

            await asyncio.gather(*(worker() for _ in range(20)))
            final = client.stats().in_flight_limit
    late = seen[len(seen) // 2 :]  # past the descent from 16: a sawtooth around the server's 4
    assert seen[0] == 16
    assert min(late) >= 2 and max(late) <= server_limit + 2
    assert 1 <= final <= 16
    assert server.stats.by_status[429] < len(seen) / 4  # most attempts got through


async def test_a_holder_cancelled_while_waiting_for_the_rate_gives_its_turn_back() -> None:
    """At 1 request/s, the turn of a waiter cancelled before it sent goes to the next one."""
    waits: list[float] = []

    async def forever(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.Event().wait()

    limiter = Limiter(Limits(requests_per_second=1.0), clock=lambda: 0.0, sleep=forever)
    async with limiter.hold():  # takes the turn at 0: no wait
        pass
    waiter = asyncio.ensure_future(_enter(limiter))
    await asyncio.sleep(0)
    assert waits == [1.0]  # waiting for its turn at 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    later = asyncio.ensure_future(_enter(limiter))
    await asyncio.sleep(0)
    later.cancel()
    with pytest.raises(asyncio.CancelledError):
        await later
    assert waits == [1.0, 1.0]  # its turn was at 1 again, not at 2
    assert limiter.in_flight == 0
    assert limiter.rate_wait == 0.0  # no time passed: cancelled waits count what they waited


async def test_a_wait_for_the_rate_cancelled_counts_the_seconds_it_waited() -> None:
    """``stats().rate_limit_wait_seconds`` is time spent waiting: a caller cancelled 0.25 s
    into a 1 s wait for its turn adds 0.25 s, not the whole turn."""
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds / 4
        raise asyncio.CancelledError  # the caller gives up a quarter of the way in

    limiter = Limiter(Limits(requests_per_second=1.0), clock=lambda: now[0], sleep=sleep)
    async with limiter.hold():  # the turn at 0: no wait
        pass
    with pytest.raises(asyncio.CancelledError):
        await _enter(limiter)
    assert limiter.rate_wait == pytest.approx(0.25)
    assert limiter.in_flight == 0


def test_a_cancelled_turn_that_is_not_the_last_one_is_kept_spaced() -> None:
    """A turn given up between two others is not handed out: starts stay 1 / rate apart."""
    bucket = TokenBucket(1.0, clock=lambda: 0.0)
    starts = [bucket.turn()[0] for _ in range(3)]
    assert starts == [0.0, 1.0, 2.0]
    bucket.cancel(starts[1])  # the third still starts at 2: a turn at 1 would crowd it
    assert bucket.turn() == (3.0, 3.0)
    bucket.cancel(3.0)  # the last turn given up: the next caller takes it
    assert bucket.turn() == (3.0, 3.0)


async def _enter(limiter: Limiter, accounts: tuple[str, ...] = ()) -> None:
    async with limiter.hold(accounts):
        pass


class SteppingTime:
    """A clock that sleeps move forward to their end (concurrent sleeps overlap)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        end = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, end)


async def test_turns_that_passed_while_waiting_for_a_slot_do_not_start_together() -> None:
    """At 10 requests/s and one slot held 5 s, the three queued requests still start
    0.1 s apart when it frees, not at the same instant."""
    fake = SteppingTime()
    limiter = Limiter(
        Limits(max_in_flight=1, requests_per_second=10.0), clock=fake.clock, sleep=fake.sleep
    )
    starts: list[float] = []
    free = asyncio.Event()

    async def one(hold_until: asyncio.Event | None = None) -> None:
        async with limiter.hold():
            starts.append(fake.clock())
            if hold_until is not None:
                await hold_until.wait()

    first = asyncio.ensure_future(one(free))
    await asyncio.sleep(0)
    queued = [asyncio.ensure_future(one()) for _ in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)  # their turns (0.1, 0.2, 0.3) pass, waiting for the slot
    fake.now = 5.0
    free.set()
    await asyncio.gather(first, *queued)
    assert len(starts) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 0.1 - 1e-9, starts


async def test_a_wait_for_a_slot_cancelled_counts_the_seconds_it_waited() -> None:
    """``stats().limit_wait_seconds``: a caller that queued 3 s for a slot and then gave
    up waited those 3 s, as one that got the slot would have."""
    now = [0.0]
    limiter = Limiter(Limits(max_in_flight=1), clock=lambda: now[0])
    async with limiter.hold():
        waiter = asyncio.ensure_future(_enter(limiter))
        await asyncio.sleep(0)  # queued behind the held slot
        now[0] += 3.0
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert limiter.slot_wait == pytest.approx(3.0)
    assert limiter.in_flight == 0


async def test_requests_waiting_for_a_busy_account_do_not_hold_up_another_account() -> None:
    """20 requests of account a at 1/s (client-wide 10/s), then one of account b: a's
    requests wait for a's turns, and b's goes at the client-wide rate's next turn, not
    behind 20 client-wide turns a's requests would not use for 19 s."""
    waits: dict[str, list[float]] = {"a": [], "b": []}
    limits = Limits(requests_per_second=10.0, account_requests_per_second=1.0)
    current = ["a"]

    async def sleep(seconds: float) -> None:
        waits[current[0]].append(seconds)
        await asyncio.Event().wait()  # the clock stands still: every wait is pending

    limiter = Limiter(limits, clock=lambda: 0.0, sleep=sleep)
    async with limiter.hold(("a",)):  # a's first request: no wait
        pass
    waiting = [asyncio.ensure_future(_enter(limiter, ("a",))) for _ in range(19)]
    await asyncio.sleep(0)
    assert waits["a"] == [float(n) for n in range(1, 20)]  # a's own turns, 1 s apart
    current[0] = "b"
    b = asyncio.ensure_future(_enter(limiter, ("b",)))
    await asyncio.sleep(0)
    assert waits["b"] == [0.1]  # the client-wide turn after a's first request
    for task in [*waiting, b]:
        task.cancel()
    await asyncio.gather(*waiting, b, return_exceptions=True)
    assert limiter.in_flight == 0


async def test_a_burst_of_429s_to_requests_sent_together_lowers_the_limit_once() -> None:
    """Eight attempts sent under one limit, all throttled: one cut, not eight."""
    arrived = asyncio.Event()
    waiting = 0

    async def handler(request: Request) -> Response:
        nonlocal waiting
        waiting += 1
        if waiting == 8:
            arrived.set()
        await arrived.wait()  # all eight in flight before any answer
        return Response(429, {"content-type": "application/json"}, b"{}")

    limits = Limits(max_in_flight=8, adaptive=True)
    async with AsyncPostpress(
        api_key="k", transport=MockTransport(handler), limits=limits, retry=RetryPolicy.disabled()
    ) as client:
        outcomes = await asyncio.gather(
            *(client.accounts.list(limit=1) for _ in range(8)), return_exceptions=True
        )
        assert all(isinstance(outcome, RateLimitError) for outcome in outcomes)
        assert client.stats().in_flight_limit == aimd(8, throttled=True, ceiling=8)
