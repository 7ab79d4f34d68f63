"""One request budget for many processes: a lease held around each HTTP attempt.

:class:`LeasedTransport` wraps the SDK's one HTTP seam (:class:`~postpress_async._transport.
Transport`): every attempt waits for a lease of a shared :class:`Budget`, sends, and gives
the lease back. Retries live above the transport (``_sender.py``), so a request waiting
out its retry backoff holds no lease; the client's own in-flight limit still applies
below it, per process.

:class:`ClusterBudget` is the budget of a Dask export: a ``distributed.Semaphore`` whose
``max_leases`` is the whole cluster's in-flight limit, one per API (base URL), API key and
size (:func:`budget_name`), so every export sending with that key at that size shares it. A task runs its own event loop
(``asyncio.run`` in the task's thread) while distributed's comms live on the worker's
event loop, so the budget drives the semaphore ON the worker's loop (where its methods
are coroutines) and hands the answers back to the task's loop: no thread blocks while
waiting for a lease, and the semaphore's lease refresh keeps running on the worker's
loop while the task is busy. A lease is returned without waiting for the scheduler's
reply, so a response is never held up by it.

A worker that dies stops refreshing its leases; the scheduler takes them back once they
are older than ``distributed.scheduler.locks.lease-timeout`` (checked every
``distributed.scheduler.locks.lease-validation-interval``). See :data:`LEASE_CONFIG`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
from typing import Any, Protocol

from postpress_async._config import Timeout
from postpress_async._exceptions import EngineUnavailableError
from postpress_async._transport import Request, Response, Transport

__all__ = ["LEASE_CONFIG", "Budget", "ClusterBudget", "LeasedTransport", "budget_name"]

#: The lease settings :class:`~.dask.DaskEngine` gives the LocalCluster it starts (the
#: scheduler and, through the nannies, every worker): a killed worker's leases come
#: back within about 12 s (Dask's defaults: 30 s + up to 10 s). Each worker refreshes
#: its leases every timeout / 5 (2 s). On an existing cluster, set the same keys in
#: the Dask configuration of the scheduler, the workers and the process that runs the
#: export (e.g. ``DASK_DISTRIBUTED__SCHEDULER__LOCKS__LEASE_TIMEOUT=10s``).
LEASE_CONFIG: dict[str, str] = {
    "distributed.scheduler.locks.lease-timeout": "10s",
    "distributed.scheduler.locks.lease-validation-interval": "2s",
}

#: The states of a Dask worker that is going away (``distributed.core.Status`` names).
_STOPPING = frozenset({"closing", "closed", "failed"})
#: Seconds a closing budget waits for its leases to be returned to the scheduler.
_CLOSE_WAIT = 5.0


def budget_name(base_url: str, api_key: str, size: int) -> str:
    """The name of the cluster budget of ``size`` requests for ``api_key`` at ``base_url``:
    the same for every export sending with that key there at that size, in whatever
    process. The size is part of the name: a Dask semaphore's size is fixed while the
    scheduler holds it, and a later export asking another size must not be refused until
    the scheduler restarts. Names show on the Dask dashboard, so it holds a digest of the
    URL and key, never the key."""
    digest = hashlib.blake2b(digest_size=6, person=b"postpress-budget")
    digest.update(f"{base_url.rstrip('/')}\0{api_key}".encode())
    return f"postpress-budget-{digest.hexdigest()}-{size}"


class Budget(Protocol):
    """A count of leases shared by every holder, wherever it runs."""

    async def acquire(self) -> None:
        """Wait for a lease; cancelled, no lease is kept."""
        ...

    def release(self) -> None:
        """Give one lease back; never waits, never raises (safe in a cancelled task)."""
        ...


class LeasedTransport:
    """A :class:`Transport` whose every attempt holds a lease of ``budget``."""

    def __init__(self, inner: Transport, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget

    def __repr__(self) -> str:
        return f"LeasedTransport({self.inner!r}, {self.budget!r})"

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        """Send ``request`` through the inner transport while holding a lease."""
        await self.budget.acquire()
        try:
            return await self.inner.send(request, timeout=timeout)
        finally:
            self.budget.release()

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()


class _State(enum.Enum):
    WAITING = enum.auto()
    GRANTED = enum.auto()  # the lease is the asker's, unless it gave up first
    ABANDONED = enum.auto()  # the asker gave up: a lease granted later goes back at once
    FAILED = enum.auto()


class _Ticket:
    """One acquire: its state changes only on the worker's loop."""

    __slots__ = ("loop", "state", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiter: asyncio.Future[None] = loop.create_future()
        self.state = _State.WAITING


class ClusterBudget:
    """The request budget of a Dask export, used from a task's own event loop.

    ``async with ClusterBudget(name, size)`` inside a Dask task (it finds the worker
    with ``distributed.get_worker()``); the coordinator created the semaphore ``name``
    with ``max_leases=size``. Leaving the block waits for the leases being returned and
    stops the semaphore's lease refresh.
    """

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self._worker: Any = None
        self._key: Any = None  # the task's, to see it cancelled
        self._worker_loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: Any = None
        #: Acquires and releases under way, on the worker's loop (kept referenced).
        self._takes: set[asyncio.Future[Any]] = set()
        self._returns: set[asyncio.Future[Any]] = set()
        self._held = 0

    def __repr__(self) -> str:
        return f"ClusterBudget({self.name!r}, size={self.size})"

    @property
    def held(self) -> int:
        """Leases this budget holds now (read it on the worker's loop to be exact)."""
        return self._held

    async def __aenter__(self) -> ClusterBudget:
        try:
            worker = _distributed().get_worker()
        except ValueError:
            raise EngineUnavailableError(
                "a cluster request budget is only available inside a Dask task"
            ) from None
        self._worker = worker
        self._key = worker.get_current_task()
        self._worker_loop = worker.loop.asyncio_loop
        await self._on_worker(self._open())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._worker_loop is not None:
            await self._on_worker(self._close())

    async def _on_worker(self, coro: Any) -> None:
        """Run ``coro`` on the worker's loop to its end, even if this task is cancelled
        meanwhile (then cancelled after): opening and closing are short."""
        assert self._worker_loop is not None
        done = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._worker_loop))
        cancelled = False
        while True:
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                if not done.done():
                    cancelled = True
                    continue
                raise
            if cancelled:
                raise asyncio.CancelledError
            return

    async def _open(self) -> None:  # on the worker's loop
        self._semaphore = _distributed().Semaphore(max_leases=self.size, name=self.name)

    async def _close(self) -> None:  # on the worker's loop
        # A take still under way was given up by its asker (the client is closed by
        # now): cancel it. Should the scheduler grant it all the same, that lease is
        # nobody's and expires after the lease timeout.
        for take in self._takes:
            take.cancel()
        pending = self._takes | self._returns
        if pending:
            await asyncio.wait(pending, timeout=_CLOSE_WAIT)
        refresh = getattr(self._semaphore, "refresh_callback", None)
        if refresh is not None:
            refresh.stop()

    async def acquire(self) -> None:
        """Wait for a lease (see :class:`Budget`)."""
        loop = self._worker_loop
        if loop is None:
            raise EngineUnavailableError("use the budget inside `async with`")
        if self._stopping():
            # A task cannot be interrupted; its next request ends it instead, so a
            # closing worker (the export was stopped) is not kept waiting for it.
            raise EngineUnavailableError("the Dask worker is shutting down")
        if self._cancelled():
            # The same for a task whose export was stopped on a cluster that stays up:
            # else it would run its shard to the end, writing after the export ended.
            raise EngineUnavailableError("the Dask task was cancelled: its export stopped")
        ticket = _Ticket(asyncio.get_running_loop())
        try:
            loop.call_soon_threadsafe(self._start, self._takes, self._take(ticket))
        except RuntimeError:  # the worker's loop is closed
            raise EngineUnavailableError("the Dask worker is shutting down") from None
        try:
            await ticket.waiter
        except BaseException:
            # Cancelled (or failed): whatever the worker's loop did meanwhile, a lease
            # granted for this ticket goes straight back; decided there, in order.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._abandon, ticket)
            raise
        if self._cancelled():  # while it waited: the lease is another export's to use
            self.release()
            raise EngineUnavailableError("the Dask task was cancelled: its export stopped")

    def release(self) -> None:
        """Give a lease back (see :class:`Budget`)."""
        loop = self._worker_loop
        if loop is not None:
            # A closed loop: the worker is gone, and the scheduler takes its leases back.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._give_back)

    def _stopping(self) -> bool:
        return getattr(self._worker.status, "name", "") in _STOPPING

    def _cancelled(self) -> bool:
        # Read from the task's thread: one dict lookup and one attribute, as the worker's
        # loop last set them (a task cancelled, then run again here, is "resumed").
        task = self._worker.state.tasks.get(self._key) if self._key is not None else None
        return task is not None and task.state == "cancelled"

    # The rest runs on the worker's loop.

    def _start(self, tasks: set[asyncio.Future[Any]], coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _take(self, ticket: _Ticket) -> None:
        try:
            await self._semaphore.acquire()
        except BaseException as exc:
            ticket.state = _State.FAILED
            _answer(ticket, exc)  # the asker gets the error (nobody else retrieves it)
            if not isinstance(exc, Exception):
                raise
            return
        self._held += 1
        if ticket.state is _State.ABANDONED:
            self._give_back()
            return
        ticket.state = _State.GRANTED
        _answer(ticket, None)

    def _abandon(self, ticket: _Ticket) -> None:
        if ticket.state is _State.GRANTED:
            self._give_back()
        if ticket.state is not _State.FAILED:
            ticket.state = _State.ABANDONED

    def _give_back(self) -> None:
        # On the worker's loop the semaphore's release() is a coroutine; it forgets the
        # (oldest) lease at once and tells the scheduler. A release that fails is logged
        # by distributed; the scheduler then takes the lease back after its timeout, as
        # it does when a closing worker (its connections closed) does not tell it.
        self._held -= 1
        telling = self._semaphore.release()
        if self._stopping():
            telling.close()
        else:
            self._start(self._returns, telling)


def _distributed() -> Any:
    """The ``distributed`` module (the dask extra; untyped)."""
    import distributed

    return distributed


def _answer(ticket: _Ticket, error: BaseException | None) -> None:
    """Wake the asker on its own loop (gone already: it gave up, nothing to tell)."""

    def wake() -> None:
        if ticket.waiter.done():
            return
        if error is None:
            ticket.waiter.set_result(None)
        else:
            ticket.waiter.set_exception(_budget_error(error))

    with contextlib.suppress(RuntimeError):  # the task's loop is closed
        ticket.loop.call_soon_threadsafe(wake)


def _budget_error(error: BaseException) -> BaseException:
    if not isinstance(error, Exception):  # the worker's loop cancelled it: stopping
        return EngineUnavailableError("the Dask worker is shutting down")
    return EngineUnavailableError(
        f"the export's request budget is out of reach ({type(error).__name__}: {error})"
    )
