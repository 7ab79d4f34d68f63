"""The request loop: one attempt at a time through the transport, under the client-wide
limit, retried as the policy and the budget allow, counted for observability.
"""

from __future__ import annotations

import dataclasses
import logging
import random as _random
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import anyio

from ._config import RetryPolicy, Timeout
from ._decoding import decode_error_body
from ._exceptions import PostpressError, error_class_for
from ._retry import (
    RetryBudget,
    error_label,
    parse_retry_after,
    retry_after_of,
    retry_delay,
    should_retry,
)
from ._transport import Request, Response, Transport

__all__ = ["ClientStats", "Sender", "status_error"]

logger = logging.getLogger("postpress_async")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientStats:
    """A snapshot of a client's counters, for an ingestion worker to export."""

    #: HTTP attempts sent (first attempts and retries).
    requests: int
    #: Retries made, by error label (``"503 errors/network_down"``, ``"timeout"``, ...).
    retries: dict[str, int]
    #: Retryable errors surfaced at once because the retry budget was spent.
    budget_rejections: int
    #: Seconds spent sleeping between attempts.
    retry_wait_seconds: float
    #: Seconds spent waiting for a free slot under the in-flight limit.
    limit_wait_seconds: float
    #: Requests in flight now.
    in_flight: int

    @property
    def total_retries(self) -> int:
        """All retries, whatever the error."""
        return sum(self.retries.values())


def status_error(request: Request, response: Response) -> PostpressError:
    """Build the typed error for a non-2xx response (pure).

    The class comes from the status alone, so an HTML 502 from a proxy still gives
    ``BadGatewayError``; the envelope's fields are used when the body is one.
    """
    envelope = decode_error_body(response.content)
    cls = error_class_for(response.status)
    return cls(
        status=response.status,
        type=envelope.type if envelope else None,
        title=envelope.title if envelope else _reason(response),
        detail=envelope.detail if envelope else None,
        instance=envelope.instance if envelope else None,
        method=request.method,
        url=request.url,
        headers=response.headers,
        body=response.content,
    )


def _reason(response: Response) -> str:
    content_type = response.headers.get("content-type", "")
    kind = "non-JSON" if "json" not in content_type else "unreadable"
    return f"HTTP {response.status} with a {kind} body"


class Sender:
    """Sends requests through a transport with retries, a concurrency limit and a budget.

    ``sleep``, ``clock`` (monotonic), ``wall_clock`` (epoch, for ``Retry-After`` dates)
    and ``random`` are injectable so tests control time and jitter.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        max_in_flight: int,
        budget: RetryBudget,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.transport = transport
        self.budget = budget
        self._limit = anyio.Semaphore(max_in_flight)
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._random = random
        self._requests = 0
        self._retries: Counter[str] = Counter()
        self._budget_rejections = 0
        self._retry_wait = 0.0
        self._limit_wait = 0.0
        self._in_flight = 0

    def stats(self) -> ClientStats:
        """A snapshot of the counters."""
        return ClientStats(
            requests=self._requests,
            retries=dict(self._retries),
            budget_rejections=self._budget_rejections,
            retry_wait_seconds=self._retry_wait,
            limit_wait_seconds=self._limit_wait,
            in_flight=self._in_flight,
        )

    async def _attempt(self, request: Request, timeout: Timeout) -> Response:
        started = self._clock()
        async with self._limit:
            self._limit_wait += self._clock() - started
            self._requests += 1
            self._in_flight += 1
            try:
                return await self.transport.send(request, timeout=timeout)
            finally:
                self._in_flight -= 1

    async def send(self, request: Request, *, timeout: Timeout, policy: RetryPolicy) -> Response:
        """Return the first 2xx response, or raise the last error once retrying stops."""
        deadline = None if policy.deadline is None else self._clock() + policy.deadline
        self.budget.deposit()
        attempt = 0
        while True:
            attempt += 1
            attempt_timeout = timeout
            if deadline is not None:
                # Never 0: aiohttp reads a zero timeout as "no timeout".
                remaining = max(0.001, deadline - self._clock())
                total = remaining if timeout.total is None else min(timeout.total, remaining)
                attempt_timeout = timeout.replace(total=total)
            try:
                response = await self._attempt(request, attempt_timeout)
            except PostpressError as exc:
                error: PostpressError = exc
                retry_after = None
            else:
                if 200 <= response.status < 300:
                    return response
                error = status_error(request, response)
                retry_after = parse_retry_after(
                    retry_after_of(response.headers), now=self._wall_clock()
                )
            error.attempts = attempt
            if attempt >= policy.attempts or not should_retry(policy, request.method, error):
                raise error
            delay = retry_delay(policy, attempt, retry_after=retry_after, random=self._random)
            if deadline is not None and self._clock() + delay >= deadline:
                raise error
            if not self.budget.try_withdraw():
                self._budget_rejections += 1
                error.retry_budget_exhausted = True
                raise error
            label = error_label(error)
            self._retries[label] += 1
            logger.debug(
                "Retrying %s %s after %s (attempt %d of %d) in %.3fs",
                request.method,
                request.endpoint or request.url,
                label,
                attempt,
                policy.attempts,
                delay,
            )
            self._retry_wait += delay
            await self._sleep(delay)
