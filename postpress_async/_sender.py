"""The request loop: one attempt at a time through the transport, under the client's
limits (``_limits.py``), retried as the policy and the budget allow, reported to the
observer (``_observe.py``: logs, hooks, traces) and counted in :class:`ClientStats`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random as _random
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import anyio

from ._config import Limits, RetryPolicy, Timeout
from ._exceptions import APIStatusError, APITimeoutError, PostpressError
from ._limits import Limiter
from ._observe import CallObserver, Observer
from ._retry import RetryBudget, error_label, failure_error, next_delay, status_error
from ._tasks import raise_unchained
from ._transport import Request, Response, Transport

__all__ = ["RETRY_LABELS", "ClientStats", "Sender"]

#: Distinct labels :attr:`ClientStats.retries` counts. A status error's label holds the
#: server's error ``type``, its own words, which a long run may vary without end (a
#: proxy's type with a node or request id in it): past this many, a new one is counted
#: as ``"<status> (other)"``, so the counters of a client that runs for weeks stay bounded.
RETRY_LABELS = 64


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientStats:
    """A snapshot of a client's counters, for an ingestion worker to export."""

    #: HTTP attempts sent (first attempts and retries).
    requests: int
    #: Retries made, by error label (``"503 errors/network_down"``, ``"timeout"``, ...;
    #: past :data:`RETRY_LABELS` labels, a new error type counts as ``"503 (other)"``).
    retries: dict[str, int]
    #: Retryable errors surfaced at once because the retry budget was spent.
    budget_rejections: int
    #: Seconds spent sleeping between attempts.
    retry_wait_seconds: float
    #: Seconds spent waiting for a free slot under the in-flight limit.
    limit_wait_seconds: float
    #: Requests in flight now.
    in_flight: int
    #: Seconds spent waiting for the requests-per-second limits (client and accounts).
    rate_limit_wait_seconds: float = 0.0
    #: The in-flight limit in force now (``Limits(adaptive=True)`` moves it).
    in_flight_limit: int = 0
    #: Event hooks that raised (each was logged and the call went on).
    hook_errors: int = 0

    @property
    def total_retries(self) -> int:
        """All retries, whatever the error."""
        return sum(self.retries.values())


class Sender:
    """Sends requests through a transport with retries, limits, a budget and an observer.

    ``sleep``, ``clock`` (monotonic), ``wall_clock`` (epoch, for a ``Retry-After`` date
    of a response without a ``Date``) and ``random`` are injectable so tests control time
    and jitter.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        limits: Limits | None = None,
        budget: RetryBudget,
        observer: Observer | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.transport = transport
        self.budget = budget
        self.limiter = Limiter(limits or Limits(), clock=clock, sleep=sleep)
        self.observer = observer or Observer()
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._random = random
        self._requests = 0
        self._retries: Counter[str] = Counter()
        self._budget_rejections = 0
        self._retry_wait = 0.0

    def stats(self) -> ClientStats:
        """A snapshot of the counters."""
        limiter = self.limiter
        return ClientStats(
            requests=self._requests,
            retries=dict(self._retries),
            budget_rejections=self._budget_rejections,
            retry_wait_seconds=self._retry_wait,
            limit_wait_seconds=limiter.slot_wait,
            rate_limit_wait_seconds=limiter.rate_wait,
            in_flight=limiter.in_flight,
            in_flight_limit=limiter.current,
            hook_errors=self.observer.hook_errors,
        )

    async def _attempt(
        self,
        request: Request,
        timeout: Timeout,
        deadline: float | None,
        call: CallObserver,
        attempt: int,
    ) -> Response:
        async with contextlib.AsyncExitStack() as stack:
            # The deadline bounds the whole call, the wait for the limits included:
            # a call queued behind busy slots fails when it passes, never sent.
            wait = None if deadline is None else max(0.0, deadline - self._clock())
            try:
                with anyio.fail_after(wait):
                    ticket = await stack.enter_async_context(self.limiter.hold(request.accounts))
            except TimeoutError:
                raise APITimeoutError(
                    "RetryPolicy.deadline passed while waiting for the client's limits "
                    "(Limits.max_in_flight, requests_per_second); the request was not sent",
                    method=request.method,
                    url=request.url,
                ) from None
            self._requests += 1
            await call.attempt(attempt)
            try:
                response = await self.transport.send(
                    request, timeout=self._attempt_timeout(timeout, deadline)
                )
            except PostpressError as exc:
                await call.outcome(attempt, None, exc)
                raise
            self.limiter.record(ticket, response.status)
            return response

    def _attempt_timeout(self, timeout: Timeout, deadline: float | None) -> Timeout:
        """``timeout``, its total cut to what is left of the call's deadline."""
        if deadline is None:
            return timeout
        # Never 0: aiohttp reads a zero timeout as "no timeout".
        remaining = max(0.001, deadline - self._clock())
        return timeout.replace(
            total=remaining if timeout.total is None else min(timeout.total, remaining)
        )

    async def send(self, request: Request, *, timeout: Timeout, policy: RetryPolicy) -> Response:
        """Return the first 2xx response, or raise the last error once retrying stops."""
        call = self.observer.call(request)
        try:
            response = await self._send(request, timeout, policy, call)
        except Exception as exc:  # a PostpressError, or a custom transport's own error
            call.end(exc)
            raise
        except BaseException:  # cancelled: close the call's spans, log nothing
            call.end(None, cancelled=True)
            raise
        call.end(None)
        return response

    async def _send(
        self, request: Request, timeout: Timeout, policy: RetryPolicy, call: CallObserver
    ) -> Response:
        deadline = None if policy.deadline is None else self._clock() + policy.deadline
        self.budget.deposit()
        attempt = 0
        while True:
            attempt += 1
            outcome: Response | PostpressError
            try:
                outcome = await self._attempt(request, timeout, deadline, call, attempt)
            except PostpressError as exc:
                outcome = exc  # observed by _attempt already, as the transport raised it
            else:
                if 200 <= outcome.status < 300:
                    await call.outcome(attempt, outcome, None)
                    return outcome
            # Attempts sent: a retry that passed the deadline waiting for a slot never was.
            sent = max(1, call.attempts)
            error = self._error(request, outcome, sent)
            if isinstance(outcome, Response):
                await call.outcome(attempt, outcome, error)
            delay = next_delay(
                policy,
                request.method,
                error,
                attempt,
                random=self._random,
                time_left=None if deadline is None else deadline - self._clock(),
            )
            if delay is None:
                raise_unchained(error)
            if not self.budget.try_withdraw():
                self._budget_rejections += 1
                raise_unchained(self._error(request, outcome, sent, retry_budget_exhausted=True))
            self._count_retry(error)
            await call.retry(attempt, policy.attempts, error, delay)
            started = self._clock()
            try:
                await self._sleep(delay)
            except BaseException:
                # Cancelled in the backoff: count the seconds waited, not the whole
                # delay (a stream closed during a 60 s Retry-After waited less).
                self._retry_wait += min(delay, max(0.0, self._clock() - started))
                raise
            self._retry_wait += delay

    def _count_retry(self, error: PostpressError) -> None:
        label = error_label(error)
        retries = self._retries
        full = label not in retries and len(retries) >= RETRY_LABELS
        if full and isinstance(error, APIStatusError):  # the other labels are a fixed few
            label = f"{error.status} (other)"
        retries[label] += 1

    def _error(
        self,
        request: Request,
        outcome: Response | PostpressError,
        attempts: int,
        *,
        retry_budget_exhausted: bool = False,
    ) -> PostpressError:
        """The complete error for a failed attempt: its non-2xx response's typed error, or
        the transport's failure rebuilt with the attempt count (never patched later)."""
        if isinstance(outcome, PostpressError):
            return failure_error(
                outcome, attempts=attempts, retry_budget_exhausted=retry_budget_exhausted
            )
        return status_error(
            request,
            outcome,
            now=self._wall_clock(),
            attempts=attempts,
            retry_budget_exhausted=retry_budget_exhausted,
        )
