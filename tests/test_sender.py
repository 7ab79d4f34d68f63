"""The retry loop with injected time: what is retried, how long it waits, what bounds it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import anyio
import pytest
from helpers import json_response

from postpress_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncPostpress,
    Limits,
    PostpressError,
    RetryPolicy,
    Timeout,
)
from postpress_async._retry import RetryBudget
from postpress_async._sender import RETRY_LABELS, Sender
from postpress_async.transports import Request, Response

OK = Response(status=200, headers={}, content=b"{}")
REQUEST = Request(
    method="GET", url="https://x/api/v1/messages", headers={}, endpoint="GET /messages"
)


def envelope(status: int, type_: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"title": "t", "type": type_, "status": status}, headers)


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Script:
    """A transport answering from a list of outcomes, then 200."""

    def __init__(self, outcomes: list[Response | Exception]) -> None:
        self.outcomes: Iterator[Response | Exception] = iter(outcomes)
        self.calls = 0

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        self.calls += 1
        outcome = next(self.outcomes, OK)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def aclose(self) -> None:
        pass


def sender_for(
    transport: Script,
    time: FakeTime,
    *,
    budget: RetryBudget | None = None,
    random: Callable[[], float] = lambda: 0.5,
) -> Sender:
    return Sender(
        transport,
        limits=Limits(max_in_flight=4),
        budget=budget or RetryBudget(ratio=0.2, floor=100.0),
        sleep=time.sleep,
        clock=time.clock,
        wall_clock=lambda: 1_800_000_000.0,
        random=random,
    )


def conn_error() -> APIConnectionError:
    return APIConnectionError("reset", method="GET", url=REQUEST.url)


def timeout_error() -> APITimeoutError:
    return APITimeoutError("timed out", method="GET", url=REQUEST.url)


RETRYABLE_OUTCOMES = [
    pytest.param(lambda: envelope(503, "errors/no_client_session"), id="503-no_client_session"),
    pytest.param(lambda: envelope(503, "errors/no_channel"), id="503-no_channel"),
    pytest.param(lambda: envelope(503, "errors/no_handler"), id="503-no_handler"),
    pytest.param(lambda: envelope(503, "errors/network_down"), id="503-network_down"),
    pytest.param(lambda: envelope(503, "errors/service_unavailable"), id="503-service_unavailable"),
    pytest.param(lambda: envelope(504, "errors/request_timeout"), id="504-request_timeout"),
    pytest.param(lambda: envelope(500, "errors/provider_error"), id="500-provider_error"),
    pytest.param(lambda: envelope(429, "errors/too_many_requests"), id="429"),
    pytest.param(
        lambda: Response(status=502, headers={"content-type": "text/html"}, content=b"<html>"),
        id="502-html",
    ),
    pytest.param(conn_error, id="connection-error"),
    pytest.param(timeout_error, id="timeout"),
]


@pytest.mark.parametrize("make", RETRYABLE_OUTCOMES)
async def test_each_retryable_failure_is_retried_then_succeeds(
    make: Callable[[], Response | Exception],
) -> None:
    time = FakeTime()
    transport = Script([make(), make()])
    sender = sender_for(transport, time)
    response = await sender.send(REQUEST, timeout=Timeout(), policy=RetryPolicy(attempts=3))
    assert response is OK
    assert transport.calls == 3
    assert len(time.sleeps) == 2
    assert sender.stats().total_retries == 2


NON_RETRYABLE = [
    pytest.param(400, "errors/invalid_parameters", id="400"),
    pytest.param(401, "errors/invalid_credentials", id="401"),
    pytest.param(403, "errors/account_restricted", id="403"),
    pytest.param(404, "errors/resource_not_found", id="404"),
    pytest.param(500, "errors/unexpected_error", id="500-unexpected_error"),
    pytest.param(500, "errors/authentication_intent_error", id="500-authentication_intent_error"),
]


@pytest.mark.parametrize(("status", "type_"), NON_RETRYABLE)
async def test_each_non_retryable_error_raises_after_exactly_one_request(
    status: int, type_: str
) -> None:
    time = FakeTime()
    transport = Script([envelope(status, type_)])
    with pytest.raises(APIStatusError) as info:
        await sender_for(transport, time).send(REQUEST, timeout=Timeout(), policy=RetryPolicy())
    assert (info.value.status, info.value.type, info.value.attempts) == (status, type_, 1)
    assert transport.calls == 1
    assert time.sleeps == []


async def test_attempts_are_capped_and_the_last_error_says_how_many() -> None:
    time = FakeTime()
    transport = Script([envelope(503, "errors/network_down")] * 10)
    with pytest.raises(APIStatusError) as info:
        await sender_for(transport, time).send(
            REQUEST, timeout=Timeout(), policy=RetryPolicy(attempts=4)
        )
    assert transport.calls == 4
    assert info.value.attempts == 4
    assert "after 4 attempts" in str(info.value)


async def test_backoff_is_exponential_with_full_jitter() -> None:
    time = FakeTime()
    transport = Script([envelope(503, "errors/network_down")] * 4)
    policy = RetryPolicy(attempts=5, wait_initial=1.0, wait_max=5.0)
    await sender_for(transport, time, random=lambda: 0.5).send(
        REQUEST, timeout=Timeout(), policy=policy
    )
    assert time.sleeps == [0.5, 1.0, 2.0, 2.5]


async def test_retry_after_seconds_is_honoured() -> None:
    time = FakeTime()
    transport = Script([envelope(429, "errors/too_many_requests", {"retry-after": "7"})])
    await sender_for(transport, time).send(REQUEST, timeout=Timeout(), policy=RetryPolicy())
    assert time.sleeps == [7.0]


async def test_retry_after_as_an_http_date_is_honoured() -> None:
    time = FakeTime()
    # wall_clock is fixed at 1_800_000_000 (2027-01-15T08:00:00Z); the date is 30 s later.
    date = "Fri, 15 Jan 2027 08:00:30 GMT"
    transport = Script([envelope(503, "errors/service_unavailable", {"retry-after": date})])
    await sender_for(transport, time).send(REQUEST, timeout=Timeout(), policy=RetryPolicy())
    assert time.sleeps == [30.0]


@pytest.mark.parametrize(
    ("server_date", "retry_after"),
    [
        pytest.param("Fri, 15 Jan 2027 08:05:00 GMT", "Fri, 15 Jan 2027 08:05:30 GMT", id="ahead"),
        pytest.param("Fri, 15 Jan 2027 07:55:00 GMT", "Fri, 15 Jan 2027 07:55:30 GMT", id="behind"),
    ],
)
async def test_retry_after_as_an_http_date_is_read_on_the_servers_clock(
    server_date: str, retry_after: str
) -> None:
    """This machine's clock (08:00:00) is 5 minutes off the server's: its Retry-After date,
    30 s after its own Date, is still a 30 s wait (not 5.5 minutes, nor a date already past
    that would retry at once)."""
    time = FakeTime()
    headers = {"retry-after": retry_after, "date": server_date}
    transport = Script([envelope(503, "errors/service_unavailable", headers)])
    await sender_for(transport, time).send(REQUEST, timeout=Timeout(), policy=RetryPolicy())
    assert time.sleeps == [30.0]


async def test_retries_by_a_servers_ever_new_error_types_are_counted_in_bounded_labels() -> None:
    """A proxy whose 503 type names the node (a request id, a time) makes a new label each
    retry: past RETRY_LABELS they are counted together, and none is lost from the total."""
    time = FakeTime()
    retries = 3 * RETRY_LABELS
    failures = [envelope(503, f"errors/overloaded_node_{n}") for n in range(retries)]
    sender = sender_for(Script(failures), time, budget=RetryBudget(ratio=0.2, floor=1e9))
    policy = RetryPolicy(attempts=retries + 1)
    await sender.send(REQUEST, timeout=Timeout(), policy=policy)
    counted = sender.stats().retries
    assert sum(counted.values()) == retries
    assert len(counted) == RETRY_LABELS + 1
    assert counted["503 (other)"] == retries - RETRY_LABELS


async def test_retry_after_is_capped() -> None:
    time = FakeTime()
    transport = Script([envelope(429, "errors/too_many_requests", {"retry-after": "86400"})])
    policy = RetryPolicy(retry_after_max=12.0)
    await sender_for(transport, time).send(REQUEST, timeout=Timeout(), policy=policy)
    assert time.sleeps == [12.0]


async def test_the_deadline_bounds_the_whole_call() -> None:
    time = FakeTime()
    transport = Script([envelope(503, "errors/network_down")] * 100)
    policy = RetryPolicy(attempts=100, wait_initial=1.0, wait_max=1.0, deadline=5.5)
    with pytest.raises(APIStatusError):
        await sender_for(transport, time, random=lambda: 1.0).send(
            REQUEST, timeout=Timeout(), policy=policy
        )
    assert sum(time.sleeps) <= 5.5
    assert transport.calls == 6


async def test_a_spent_budget_surfaces_the_original_error_at_once_and_says_so() -> None:
    time = FakeTime()
    transport = Script([envelope(503, "errors/service_unavailable")] * 100)
    sender = sender_for(transport, time, budget=RetryBudget(ratio=0.0, floor=2.0))
    with pytest.raises(APIStatusError) as info:
        await sender.send(REQUEST, timeout=Timeout(), policy=RetryPolicy(attempts=10))
    assert transport.calls == 3  # the first attempt and the two retries the budget held
    assert info.value.retry_budget_exhausted
    assert "retry budget is spent" in str(info.value)
    assert sender.stats().budget_rejections == 1


async def test_stats_count_requests_retries_by_type_and_waiting() -> None:
    time = FakeTime()
    transport = Script(
        [
            envelope(503, "errors/network_down"),
            envelope(504, "errors/request_timeout"),
            conn_error(),
        ]
    )
    sender = sender_for(transport, time, random=lambda: 1.0)
    await sender.send(REQUEST, timeout=Timeout(), policy=RetryPolicy(wait_initial=0.5))
    stats = sender.stats()
    assert stats.requests == 4
    assert stats.retries == {
        "503 errors/network_down": 1,
        "504 errors/request_timeout": 1,
        "connection": 1,
    }
    assert stats.retry_wait_seconds == pytest.approx(0.5 + 1.0 + 2.0)
    assert stats.in_flight == 0


async def test_decode_and_parameter_errors_are_not_retried() -> None:
    time = FakeTime()
    transport = Script([Response(status=200, headers={}, content=b"not json")])
    client = AsyncPostpress(api_key="k" * 10, transport=transport)
    client._sender._sleep = time.sleep
    async with client:
        with pytest.raises(PostpressError, match=r"messages\.list"):
            await client.messages.list()
    assert transport.calls == 1


async def test_a_zero_deadline_still_bounds_the_attempt_instead_of_lifting_the_timeout() -> None:
    seen: list[Timeout] = []

    class Recording(Script):
        async def send(self, request: Request, *, timeout: Timeout) -> Response:
            seen.append(timeout)
            return await super().send(request, timeout=timeout)

    time = FakeTime()
    await sender_for(Recording([]), time).send(
        REQUEST, timeout=Timeout(total=30.0), policy=RetryPolicy(deadline=0)
    )
    assert seen[0].total is not None
    assert 0 < seen[0].total <= 0.001


async def test_a_transport_failure_surfaces_as_a_complete_copy_and_is_never_patched() -> None:
    time = FakeTime()
    failures = [APITimeoutError("Request timed out", method="GET", url="u") for _ in range(3)]
    transport = Script(list(failures))
    with pytest.raises(APITimeoutError) as info:
        await sender_for(transport, time).send(
            REQUEST, timeout=Timeout(), policy=RetryPolicy(attempts=3)
        )
    error = info.value
    assert (type(error), error.attempts, error.retry_budget_exhausted) == (
        APITimeoutError,
        3,
        False,
    )
    assert str(error) == "Request timed out (GET u) (after 3 attempts)"
    assert error.__cause__ is None and error.__context__ is None
    # What the transport raised is left as it was: attempts are not written into it.
    assert all(f.attempts == 1 and f is not error for f in failures)


async def test_a_spent_budget_builds_the_transport_failure_complete_with_the_flag() -> None:
    time = FakeTime()
    failure = APIConnectionError("Connection failed: reset", method="GET", url="u")
    transport = Script([failure])
    sender = sender_for(transport, time, budget=RetryBudget(ratio=0.0, floor=0.0))
    with pytest.raises(APIConnectionError) as info:
        await sender.send(REQUEST, timeout=Timeout(), policy=RetryPolicy(attempts=5))
    assert (info.value.attempts, info.value.retry_budget_exhausted) == (1, True)
    assert "retry budget is spent" in str(info.value)
    assert (failure.attempts, failure.retry_budget_exhausted) == (1, False)


class Held(Script):
    """A transport whose first request stays in flight until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__([])
        self.release = asyncio.Event()

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        if self.calls == 0:
            self.calls += 1
            await self.release.wait()
            return OK
        return await super().send(request, timeout=timeout)


async def test_the_deadline_bounds_the_wait_for_an_in_flight_slot() -> None:
    """A call whose deadline passes while every slot is taken fails then, typed and
    unsent; it does not wait for a slot and then get a whole attempt on top."""
    transport = Held()
    sender = Sender(
        transport, limits=Limits(max_in_flight=1), budget=RetryBudget(ratio=0.2, floor=10.0)
    )
    first = asyncio.create_task(
        sender.send(REQUEST, timeout=Timeout(), policy=RetryPolicy.disabled())
    )
    await asyncio.sleep(0)
    assert sender.stats().in_flight == 1
    try:
        with anyio.fail_after(5):  # a hang guard, not a measurement
            with pytest.raises(APITimeoutError, match="deadline") as info:
                await sender.send(REQUEST, timeout=Timeout(), policy=RetryPolicy(deadline=0.05))
        assert not first.done()  # failed while the slot was still taken
        assert transport.calls == 1  # never sent
        assert "max_in_flight" in str(info.value)
    finally:
        transport.release.set()
        await first
    assert sender.stats().in_flight == 0


async def test_a_call_cancelled_in_its_backoff_counts_the_seconds_it_waited() -> None:
    """``stats().retry_wait_seconds`` is time spent in backoff: a call cancelled 2 s into a
    30 s ``Retry-After`` adds 2 s, not 30."""

    class GivesUp(FakeTime):
        async def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)
            self.now += 2.0
            raise asyncio.CancelledError  # the caller gives up 2 s into the wait

    time = GivesUp()
    transport = Script([envelope(429, "errors/too_many_requests", {"Retry-After": "30"})])
    sender = sender_for(transport, time)
    with pytest.raises(asyncio.CancelledError):
        await sender.send(REQUEST, timeout=Timeout(), policy=RetryPolicy())
    stats = sender.stats()
    assert stats.retries == {"429 errors/too_many_requests": 1}
    assert time.sleeps == [30.0]
    assert stats.retry_wait_seconds == pytest.approx(2.0)
    assert stats.in_flight == 0


async def test_a_retry_that_never_got_a_slot_is_not_counted_as_an_attempt() -> None:
    """A 503, then the retry waits for a slot until the deadline passes: one request was
    sent, so the error says one attempt, not "(after 2 attempts)" of a request it also
    says "was not sent"."""
    release = asyncio.Event()
    sent: list[str] = []

    class Transport:
        async def send(self, request: Request, *, timeout: Timeout) -> Response:
            sent.append(request.url)
            if len(sent) == 1:
                return envelope(503, "errors/network_down")
            await release.wait()  # the other call keeps the only slot
            return OK

        async def aclose(self) -> None:
            pass

    others: list[asyncio.Task[Response]] = []

    async def sleep(seconds: float) -> None:  # the backoff: another call takes the slot
        policy = RetryPolicy.disabled()
        others.append(asyncio.create_task(sender.send(REQUEST, timeout=Timeout(), policy=policy)))
        await asyncio.sleep(0)

    sender = Sender(
        Transport(),
        limits=Limits(max_in_flight=1),
        budget=RetryBudget(ratio=0.2, floor=10.0),
        sleep=sleep,
        random=lambda: 0.0,
    )
    try:
        with anyio.fail_after(5):  # a hang guard, not a measurement
            with pytest.raises(APITimeoutError, match="not sent") as info:
                await sender.send(REQUEST, timeout=Timeout(), policy=RetryPolicy(deadline=0.05))
    finally:
        release.set()
        await asyncio.gather(*others)
    assert len(sent) == 2  # this call's one attempt, and the other call's
    assert info.value.attempts == 1
    assert "attempts" not in str(info.value)
