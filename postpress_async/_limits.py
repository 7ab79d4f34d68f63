"""What may be sent, and when: rate buckets and the in-flight limit of one client.

Every attempt of every call, stream, ``merge`` and fan-out of a client passes through
one :class:`Limiter`, in this order:

1. the bucket of each account the request names (``Limits.account_requests_per_second``),
   then, once that turn is due, the client-wide :class:`TokenBucket`
   (``Limits.requests_per_second``): a bucket hands out start times spaced ``1 / rate``
   apart, so ``N`` requests take at least ``(N - 1) / rate`` seconds however many tasks
   send them, and requests waiting for a busy account hold up no other account's;
2. the :class:`InFlightLimit`: at most ``limit`` attempts in flight. With
   ``Limits(adaptive=True)`` the limit follows the server (additive increase,
   multiplicative decrease, as botocore's adaptive mode and Netflix's concurrency-limits):
   a 429 or 503 cuts it by :data:`DECREASE` (30 %), each success adds ``1 / limit``, so it
   climbs back by about one per round of requests, never above ``max_in_flight``, never
   below 1.

Waiting for a bucket never holds an in-flight slot, and a turn that passed while its
attempt queued for a slot is taken again, so attempts held up by busy slots do not all
start at once when slots free. Clocks and sleeps are injectable.
"""

from __future__ import annotations

import collections
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from ._config import Limits

__all__ = [
    "ACCOUNTS_SWEPT_AT",
    "DECREASE",
    "THROTTLE_STATUSES",
    "InFlightLimit",
    "Limiter",
    "Ticket",
    "TokenBucket",
    "aimd",
]

#: Statuses that say "slow down": they lower an adaptive limit.
THROTTLE_STATUSES = frozenset({429, 503})
#: The share of the limit a throttled answer keeps (botocore's adaptive mode uses 0.7).
DECREASE = 0.7
#: Accounts' buckets kept before the idle ones are first swept out (see ``Limiter``).
ACCOUNTS_SWEPT_AT = 1024


def aimd(limit: float, *, throttled: bool, ceiling: int) -> float:
    """The next adaptive limit after one outcome (pure): cut on throttling, else grow."""
    if throttled:
        return max(1.0, float(math.floor(limit * DECREASE)))
    return min(float(ceiling), limit + 1.0 / limit)


class TokenBucket:
    """Start times spaced ``1 / rate`` apart (a bucket of one token, refilled at ``rate``).

    A reservation is taken before sleeping, so concurrent callers queue in order
    without a lock. A caller cancelled before it sends gives its turn back
    (:meth:`cancel`) when it is the last one handed out; a turn between two others is
    left unused, which keeps the later ones spaced.
    """

    __slots__ = ("_clock", "_next", "interval")

    def __init__(self, rate: float, *, clock: Callable[[], float]) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._next = -math.inf

    def reserve(self) -> float:
        """Take the next start time; return the seconds to wait for it."""
        return self.turn()[1]

    def turn(self) -> tuple[float, float]:
        """Take the next start time; return it and the seconds to wait for it."""
        now = self._clock()
        start = max(now, self._next)
        self._next = start + self.interval
        return start, start - now

    def cancel(self, start: float) -> None:
        """Give back the turn at ``start``, unused, if no later one was handed out."""
        if self._next == start + self.interval:
            self._next = start

    def idle(self, now: float) -> bool:
        """Whether the next turn is due at ``now``: the bucket hands out turns as a new one would."""
        return self._next <= now


class Ticket:
    """One attempt's hold on the limiter, for :meth:`Limiter.record`."""

    __slots__ = ("generation",)

    def __init__(self, generation: int) -> None:
        self.generation = generation


class InFlightLimit:
    """A semaphore whose size can change while it is held (the adaptive limit).

    Waiters are served first come, first served; a waiter cancelled after it was
    handed a slot gives the slot back.
    """

    def __init__(self, limit: int) -> None:
        self.limit = float(limit)
        self.in_flight = 0
        self._waiters: collections.deque[anyio.Event] = collections.deque()

    async def acquire(self) -> bool:
        """Take a slot; return whether it had to wait for one."""
        if not self._waiters and self.in_flight < int(self.limit):
            self.in_flight += 1
            return False
        event = anyio.Event()
        self._waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():  # handed a slot just as we were cancelled
                self.release()
            else:
                self._waiters.remove(event)
            raise
        return True

    def release(self) -> None:
        """Give a slot back and hand free slots to waiters."""
        self.in_flight -= 1
        self.wake()

    def wake(self) -> None:
        """Hand slots to waiters while the limit allows (after a release or a raise)."""
        while self._waiters and self.in_flight < int(self.limit):
            self.in_flight += 1
            self._waiters.popleft().set()


class Limiter:
    """The limits of one client: rate buckets, then the (adaptive) in-flight limit."""

    def __init__(
        self,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._slots = InFlightLimit(limits.max_in_flight)
        rate = limits.requests_per_second
        self._bucket = None if rate is None else TokenBucket(rate, clock=clock)
        self._accounts: dict[str, TokenBucket] = {}
        self._sweep_at = ACCOUNTS_SWEPT_AT
        self._generation = 0
        #: Seconds spent waiting for rate buckets, and for in-flight slots.
        self.rate_wait = 0.0
        self.slot_wait = 0.0
        #: Times the adaptive limit was lowered.
        self.decreases = 0

    @property
    def in_flight(self) -> int:
        """Attempts holding a slot now."""
        return self._slots.in_flight

    @property
    def current(self) -> int:
        """The in-flight limit in force now."""
        return int(self._slots.limit)

    def _account_buckets(self, accounts: tuple[str, ...]) -> list[TokenBucket]:
        rate = self.limits.account_requests_per_second
        if rate is None:
            return []
        buckets = []
        for account in accounts:
            bucket = self._accounts.get(account)
            if bucket is None:
                if len(self._accounts) >= self._sweep_at:
                    self._sweep_accounts()
                bucket = self._accounts[account] = TokenBucket(rate, clock=self._clock)
            buckets.append(bucket)
        return buckets

    def _sweep_accounts(self) -> None:
        """Forget the accounts whose bucket is idle (its next turn due now).

        Such a bucket hands out its next turn at once, as a new one does, so forgetting
        it changes no start time; without this, a client that names ever new accounts (a
        service that runs for weeks) would keep a bucket for every account it ever named.
        Swept when the table doubles since the last sweep: amortised O(1) a request.
        """
        now = self._clock()
        self._accounts = {
            account: bucket for account, bucket in self._accounts.items() if not bucket.idle(now)
        }
        self._sweep_at = max(ACCOUNTS_SWEPT_AT, 2 * len(self._accounts))

    def _take_turns(
        self, accounts: tuple[str, ...], held: list[tuple[TokenBucket, float]]
    ) -> tuple[list[tuple[TokenBucket, float]], float, bool]:
        """The turns to hold next, the seconds until the last, and whether they are all.

        The accounts' buckets first (unless ``held`` has their turns, now due), and the
        client-wide bucket only once those are due: a request waiting an account's turn
        holds no client-wide turn, so requests for other accounts are not queued behind
        a busy account's (100 of one account at 1/s would hold 100 client-wide turns).
        """
        turns = list(held)
        wait = 0.0
        if not turns:
            for bucket in self._account_buckets(accounts):
                start, bucket_wait = bucket.turn()
                turns.append((bucket, start))
                wait = max(wait, bucket_wait)
        if wait > 0 or self._bucket is None:
            return turns, wait, wait <= 0
        start, wait = self._bucket.turn()
        return [*turns, (self._bucket, start)], wait, True

    @contextlib.asynccontextmanager
    async def hold(self, accounts: tuple[str, ...] = ()) -> AsyncIterator[Ticket]:
        """Wait for the buckets and a slot; hold the slot for the ``async with`` body.

        A turn of the rate buckets is taken while holding a slot, and waited for without
        it: the accounts' turns first, then the client-wide one (see :meth:`_take_turns`).
        A turn that passed while the attempt queued for a slot again is stale (taking it
        would start several attempts at once), so the attempt takes new ones. Cancelled
        before it holds a slot, the attempt gives its turns back to the buckets.
        """
        rated = self._bucket is not None or bool(
            accounts and self.limits.account_requests_per_second
        )
        turns: list[tuple[TokenBucket, float]] = []
        complete = False
        try:
            while True:
                started = self._clock()
                try:
                    queued = await self._slots.acquire()
                finally:  # a waiter cancelled in the queue waited too
                    self.slot_wait += self._clock() - started
                if not rated or (complete and not queued):
                    break  # no rate, or on time for our turns with a slot free
                if queued:
                    for bucket, start in reversed(turns):
                        bucket.cancel(start)
                    turns = []
                turns, wait, complete = self._take_turns(accounts, turns)
                if complete and wait <= 0:
                    break
                self._slots.release()
                slept = self._clock()
                try:
                    await self._sleep(wait)
                except BaseException:  # cancelled: the seconds waited, not the turn's
                    self.rate_wait += min(wait, max(0.0, self._clock() - slept))
                    raise
                self.rate_wait += wait
        except BaseException:
            for bucket, start in reversed(turns):
                bucket.cancel(start)
            raise
        try:
            yield Ticket(self._generation)
        finally:
            self._slots.release()

    def record(self, ticket: Ticket, status: int | None) -> None:
        """Feed one attempt's outcome (``None``: no HTTP answer) to the adaptive limit.

        Only the first throttled answer to attempts sent under the current limit lowers
        it: the others were sent before the decrease and say nothing new about it.
        """
        if not self.limits.adaptive or status is None:
            return
        throttled = status in THROTTLE_STATUSES
        if throttled and ticket.generation != self._generation:
            return
        slots = self._slots
        slots.limit = aimd(slots.limit, throttled=throttled, ceiling=self.limits.max_in_flight)
        if throttled:
            self._generation += 1
            self.decreases += 1
        else:
            slots.wake()
