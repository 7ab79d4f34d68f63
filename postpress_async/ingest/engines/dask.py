"""The Dask engine (the ``dask`` extra): one task a shard on Dask distributed.

``DaskEngine(workers=N)`` starts a ``LocalCluster`` of ``N`` worker processes;
``DaskEngine(scheduler="tcp://host:8786")`` uses an existing cluster, whose workers
need ``postpress-async`` installed and must reach the API and the sink.

Each task takes plain values (the client configuration, the shard's JSON, the sink's
URL) and returns the :class:`ShardResult`'s JSON; it opens the sink as a reader of the
coordinator's lock (``open(writer=False)``), builds its own client and
:class:`~postpress_async.ingest._commit.Committer`, and runs :func:`run_shard`, which
resumes from the position stored in the sink. So a task that fails (``retries`` times
at most) or whose worker dies (Dask reschedules it) continues where its last commit
ended: a lost worker costs a retry of part of one shard, never a loss or a duplicate.
Only an error that may pass is tried again (a 5xx, a connection error, the sink's, one of
no SDK class): one that a new try would meet again (:func:`~postpress_async._retry.lasting`:
a 401, 403, 404, bad input, another writer, a body that does not fit) is returned by its
task, not raised, so Dask does not run it again (:mod:`._task_error`).
The export's progress counts what the tasks committed as each task finishes; what
their failed tries committed is added at the end, read from the shards' positions. A task
that fails on every try, or with an error that lasts (not tried again), ends the export with
:class:`ShardFailedError`, whose message names the shard, the task's error and why it was
not tried again, and whose ``__cause__`` is that error, typed (an ``AuthenticationError``
keeps its ``status``).

One request budget for the whole cluster: ``max_in_flight`` (default: the client's
in-flight limit, 16) caps the requests in flight on every worker together, for every
export sending with the same API key (base URL and key) and the same ``max_in_flight`` to
the same scheduler: it is one ``distributed.Semaphore`` named for the three
(:func:`~._budget.budget_name`), which no run closes. An export asking another size gets
a budget of its own (a semaphore's size cannot change while the scheduler holds it, and
a later export must not be refused until the scheduler restarts). Each worker's client
sends through a :class:`~._budget.LeasedTransport` that holds one lease around each HTTP
attempt (a request waiting out its retry backoff holds none). A killed worker's leases
come back after the lease timeout (:data:`~._budget.LEASE_CONFIG`: 10 s on the cluster
the engine starts; on an existing cluster, Dask's ``distributed.scheduler.locks``
settings, 30 s by default).

An engine its user entered (``async with DaskEngine() as engine:``) serves every
:func:`~postpress_async.ingest.ingest` given it on the same cluster; the outermost
``async with`` starts and stops it.

Stopping: Dask cannot interrupt a running task, so a task whose export stopped (failed,
cancelled) ends at its next request, also on a cluster that stays up: its budget sees
the task cancelled on its worker (no scheduler round trip). Leaving
``async with`` closes the client and the cluster even when the export is cancelled
(Ctrl-C): the close is shielded and awaited to its end, so no
worker process outlives the engine. The workers of the engine's cluster ignore SIGINT
(a terminal's Ctrl-C reaches the whole process group): the coordinator alone stops
them, cleanly, instead of each dying with a KeyboardInterrupt traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from postpress_async._client import AsyncPostpress
from postpress_async._config import is_finite_number
from postpress_async._exceptions import (
    EngineUnavailableError,
    InvalidParameterError,
    ShardFailedError,
    SinkUnavailableError,
)
from postpress_async._params import MAX_ATTEMPTS, check_count, check_in_flight
from postpress_async._retry import lasting
from postpress_async._transport import AiohttpTransport, Transport

from ._address import check_scheduler
from ._budget import _STOPPING, LEASE_CONFIG, ClusterBudget, LeasedTransport, budget_name
from ._shield import GaveUp
from ._shield import to_the_end as _to_the_end
from ._task_error import Lasting, TaskError, one_line, portable

if TYPE_CHECKING:
    from postpress_async.ingest._config import ClientConfig
    from postpress_async.ingest._run import IngestProgress, ShardResult
    from postpress_async.ingest._shards import ShardPlan
    from postpress_async.ingest.sinks._base import Sink

__all__ = ["DaskEngine", "TaskError", "dask_setup", "run_task"]

_logger = logging.getLogger("postpress_async")

#: Seconds the engine waits for its cluster to start, and to close, at most.
_START_TIMEOUT = 120.0
#: Seconds past three connect timeouts an existing scheduler may take to answer.
_ANSWER_GRACE = 5.0
_CLOSE_TIMEOUT = 60.0


def run_task(config: bytes, shard: bytes, sink_url: str) -> bytes | Lasting:
    """The Dask task: run one shard from its stored position (plain values in and out).

    An error a new try would meet again is returned as a :class:`Lasting`, not raised:
    Dask would run the task again."""
    return asyncio.run(_task(config, shard, sink_url))


async def _task(config_json: bytes, shard_json: bytes, sink_url: str) -> bytes | Lasting:
    from postpress_async.ingest._commit import Committer
    from postpress_async.ingest._config import ClientConfig
    from postpress_async.ingest._run import run_shard
    from postpress_async.ingest._shards import Shard
    from postpress_async.ingest.sinks import open_sink

    config = msgspec.json.decode(config_json, type=ClientConfig)
    shard = Shard.from_json(shard_json)
    try:
        async with contextlib.AsyncExitStack() as stack:
            transport: Transport | None = None
            if config.budget is not None:
                budget = ClusterBudget(config.budget, config.max_in_flight)
                await stack.enter_async_context(budget)
                # The transport's own Limits matter only for its connection pool and
                # body caps, which ClientConfig leaves at their defaults.
                transport = LeasedTransport(AiohttpTransport(), budget)
            sink = open_sink(sink_url)
            await sink.open(writer=False)  # the coordinator holds the store's lock
            stack.push_async_callback(sink.close)
            client = await stack.enter_async_context(config.client(transport=transport))
            async with Committer(sink, shard.endpoint) as committer:
                result = await run_shard(
                    client, shard, sink, committer, limit=config.limit, prefetch=config.prefetch
                )
    except Exception as exc:
        why = lasting(exc)
        if why is not None:
            return Lasting(portable(exc), why)
        raise portable(exc) from None
    return msgspec.json.encode(result)


def dask_setup(worker: Any) -> None:
    """The preload of the engine's own worker processes.

    SIGINT is the coordinator's: a terminal's Ctrl-C reaches every process of its group,
    and the coordinator then closes the cluster, which stops the workers cleanly. And a
    closing worker does not log the lease returns its closed connections cut off (the
    scheduler takes those leases back, or is closing too).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.semaphore").addFilter(_WhileRunning(worker))


class _WhileRunning(logging.Filter):
    """Lets records through only while ``worker`` is not closing."""

    def __init__(self, worker: Any) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(self.worker.status, "name", "") not in _STOPPING


@contextlib.contextmanager
def _silenced(name: str) -> Iterator[None]:
    """Drop the records of logger ``name`` (in this process) inside the block."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


class DaskEngine:
    """Shards as Dask tasks under one request budget; see the module docstring.

    ``workers`` and ``max_in_flight`` are at most 1,000, ``retries`` 0 to 1,000.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        scheduler: str | None = None,
        retries: int = 3,
        connect_timeout: float = 10.0,
        max_in_flight: int | None = None,
    ) -> None:
        if workers is not None:
            check_count("workers", workers, most=1_000, why="each is a process of its own")
            if scheduler is not None:
                raise InvalidParameterError(
                    "workers",
                    "starts a local cluster; an existing one (scheduler=) has its own workers",
                )
        check_count("retries", retries, least=0, most=MAX_ATTEMPTS, why="Dask retries a task anew")
        if max_in_flight is not None:
            check_in_flight("max_in_flight", max_in_flight)
        check_scheduler(scheduler)
        if not is_finite_number(connect_timeout) or connect_timeout <= 0:
            raise InvalidParameterError(
                "connect_timeout",
                f"must be a finite number of seconds > 0, got {connect_timeout!r}",
            )
        #: Worker processes of the engine's own LocalCluster (2 unless given).
        self.workers: int = 2 if workers is None else workers
        self.scheduler = scheduler
        self.retries = retries
        self.connect_timeout = connect_timeout
        self.max_in_flight = max_in_flight
        self._cluster: Any = None
        self._client: Any = None
        #: ``async with`` blocks inside the engine now: the first starts it, the last stops it.
        self._entered = 0
        self._starting = asyncio.Lock()

    def __repr__(self) -> str:
        where = self.scheduler or f"LocalCluster(n_workers={self.workers})"
        return f"DaskEngine({where}, retries={self.retries}, max_in_flight={self.max_in_flight})"

    @property
    def _dask_config(self) -> dict[str, str]:
        """Dask settings of the engine's own cluster (an existing one keeps its own)."""
        return LEASE_CONFIG if self.scheduler is None else {}

    def check(self, sink: Sink) -> None:
        """Refuse a sink that the engine's worker processes cannot share, and refuse to
        run without Dask (before the store is opened: it is not created for nothing)."""
        # In the store's reach (Sink.reach), never naming a kind of store: any sink may ask.
        if sink.reach == "process":
            raise SinkUnavailableError(
                f"{sink.url}: this store takes one writer process, and Dask runs the shards in "
                "several; use a directory of part files (--out DIR/), sqlite:/// or "
                "postgresql://"
            )
        if self.scheduler is not None and sink.reach == "machine":
            raise SinkUnavailableError(
                f"{sink.url}: this store serves the processes of one machine, and a Dask "
                "scheduler may place shards on several; use postgresql:// (or part files on "
                "a shared directory)"
            )
        _distributed()

    async def __aenter__(self) -> DaskEngine:
        async with self._starting:
            if self._entered == 0:
                await self._start()
            self._entered += 1
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._entered = max(0, self._entered - 1)
        if self._entered == 0:
            await self._close()

    async def _start(self) -> None:
        _distributed()  # or the extra to install
        import dask
        from distributed import Client, LocalCluster

        try:
            if self.scheduler is None:
                with dask.config.set(self._dask_config):
                    self._cluster = LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=True,
                        asynchronous=True,
                        dashboard_address=None,
                        worker_dashboard_address=None,
                        # No dashboard, but the scheduler serves HTTP all the same: on a
                        # free port of its own host, not Dask's 8787, which another
                        # cluster may hold (Dask then warns and moves).
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                        silence_logs=logging.ERROR,
                        preload=[__name__],
                    )
                    # Started to the end even if cancelled meanwhile: a cluster cut off
                    # halfway could not be closed (its workers would outlive us).
                    await _to_the_end(self._cluster, timeout=_START_TIMEOUT)
                self._client = await _to_the_end(
                    Client(self._cluster, asynchronous=True), timeout=_START_TIMEOUT
                )
            else:
                # distributed waits for the handshake without a timeout: a port that is
                # no scheduler's (the dashboard's) connects and never answers. Its steps
                # (connect, scheduler info, registration) take connect_timeout each.
                answer = 3 * self.connect_timeout + _ANSWER_GRACE
                client = Client(self.scheduler, asynchronous=True, timeout=self.connect_timeout)
                try:
                    self._client = await _to_the_end(client, timeout=answer)
                except GaveUp:
                    self._client = client  # given up on, still open: _close() closes it
                    raise self._unreachable(_Unanswered(answer)) from None
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            await self._close()
            raise self._unreachable(exc) from None
        except RuntimeError as exc:  # distributed's words for a cluster that did not start
            await self._close()
            if self.scheduler is not None:
                raise
            raise EngineUnavailableError(_not_started(exc)) from exc
        except BaseException:
            await self._close()
            raise

    def _unreachable(self, error: BaseException) -> EngineUnavailableError:
        where = self.scheduler or "a local cluster"
        return EngineUnavailableError(
            f"cannot reach the Dask scheduler at {where}: {error}", unreachable=True
        )

    async def _close(self) -> None:
        """Close the client, then the cluster: shielded, to the end (bounded)."""
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None

        async def close() -> None:
            if client is not None:
                await client.close()
            if cluster is not None:
                # Requests waiting for a lease when the scheduler closes are cancelled
                # there, each logged with a traceback: expected, the cluster is ours.
                with _silenced("distributed.semaphore"):
                    await cluster.close()

        try:
            await _to_the_end(close(), timeout=_CLOSE_TIMEOUT)
        except TimeoutError:  # not raised over the error that ended the export
            _logger.warning("the Dask cluster did not close within %.0f s", _CLOSE_TIMEOUT)

    @property
    def dask_client(self) -> Any:
        """The ``distributed.Client`` while the engine runs (``None`` otherwise)."""
        return self._client

    async def run(
        self,
        client: AsyncPostpress,
        config: ClientConfig,
        plan: ShardPlan,
        sink: Sink,
        progress: IngestProgress,
    ) -> list[ShardResult]:
        """Submit one task a shard under one request budget; gather results as they finish."""
        from distributed import as_completed

        from postpress_async.ingest._run import ShardResult
        from postpress_async.ingest.sinks._base import opening_url

        dask_client = self._client
        if dask_client is None:
            raise EngineUnavailableError("use the engine inside `async with`")
        size = self.max_in_flight or config.max_in_flight
        run = secrets.token_hex(6)  # this run's task keys on a shared scheduler
        budget = await self._open_budget(budget_name(config.base_url, config.api_key, size), size)
        task_config = msgspec.structs.replace(config, budget=budget.name, max_in_flight=size)
        config_json = msgspec.json.encode(task_config)
        before = await sink.positions(plan.endpoint)  # a task's failed tries count too
        futures = {
            dask_client.submit(
                run_task,
                config_json,
                shard.to_json(),
                opening_url(sink),  # with its password, if it has one: Dask logs "run_task(...)"
                key=f"postpress-{plan.endpoint}-{shard.label}-{run}",
                retries=self.retries,
                pure=False,
            ): shard.label
            for shard in plan.shards
        }
        results: dict[str, ShardResult] = {}
        try:
            async for future in as_completed(list(futures)):
                label = futures[future]
                try:
                    data = await future
                except Exception as exc:
                    # Caused by the task's own error (typed, with its fields), not by
                    # Dask's (KilledWorker: its text says all).
                    cause = None if _from_dask(exc) or isinstance(exc, TaskError) else exc
                    raise ShardFailedError(self._failure(label, exc)) from cause
                if isinstance(data, Lasting):  # tried once: no new try would change it
                    cause = None if isinstance(data.error, TaskError) else data.error
                    raise ShardFailedError(self._failure(label, data.error, data.why)) from cause
                result = msgspec.json.decode(data, type=ShardResult)
                results[label] = result
                # Committed: the task's committer ended before the task returned.
                progress.shards_done += 1
                progress.stored(result.items, result.rejects)
                progress.retries += result.retries
        finally:
            await _to_the_end(self._end(futures, budget), timeout=_CLOSE_TIMEOUT)
        # A result tells its task's last try only: add what earlier tries committed, from
        # the positions (read once: a directory of parts reads every part's sidecar).
        after = await sink.positions(plan.endpoint)
        for label, result in results.items():
            results[label] = result.with_earlier_tries(before.get(label), after.get(label))
            progress.stored(results[label].items - result.items, 0)
        return [results[shard.label] for shard in plan.shards]

    def _failure(self, label: str, error: BaseException, why: str | None = None) -> str:
        text = error if isinstance(error, TaskError) else TaskError.of(error)
        if _from_dask(error):
            return f"shard {label} failed: {text}"
        if why is not None and self.retries:  # maybe not its first try: one may have passed
            return f"shard {label} failed and was not tried again ({why}): {text}"
        tries = self.retries + 1
        return f"shard {label} failed after {tries} {'try' if tries == 1 else 'tries'}: {text}"

    async def _open_budget(self, name: str, size: int) -> Any:
        """Create the API key's request budget of ``size`` on the scheduler, or join it
        (its lease timeout comes from the Dask configuration of the process that
        created it, set for the engine's own cluster)."""
        import dask
        from distributed import Semaphore

        with dask.config.set(self._dask_config):
            semaphore = Semaphore(
                max_leases=size,
                name=name,
                scheduler_rpc=self._client.scheduler,
                loop=self._client.loop,
            )
            try:
                await semaphore
            except (OSError, TimeoutError, asyncio.TimeoutError) as exc:  # the scheduler went away
                semaphore.refresh_callback.stop()
                raise self._unreachable(exc) from None
        return semaphore

    async def _end(self, futures: dict[Any, str], budget: Any) -> None:
        """Cancel the tasks still running, and let go of the budget (left open: other
        exports with the same key may share it; a cancelled task that still runs on its
        worker sees itself cancelled at its next request)."""
        # Best effort: a scheduler that is gone has nothing left to cancel, and the error
        # that ended the run is the one to report.
        running = [future for future in futures if not future.done()]
        if running and self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.cancel(running)
        refresh = getattr(budget, "refresh_callback", None)
        if refresh is not None:
            refresh.stop()


class _Unanswered(Exception):
    """An address that took the connection but never answered as a Dask scheduler."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"no Dask scheduler answered within {seconds:g} s (the dashboard's port? the "
            "scheduler listens on 8786 by default), or it is too busy to"
        )


def _not_started(error: BaseException) -> str:
    """Why the engine's LocalCluster did not start, in words a user can act on."""
    cause: BaseException | None = error
    while cause is not None:
        if "bootstrapping phase" in str(cause):  # multiprocessing's words
            return (
                "the local Dask cluster did not start: its worker processes import the "
                "main module, which started them again; run the script's entry point "
                "under `if __name__ == '__main__':`"
            )
        cause = cause.__cause__ or cause.__context__
    return f"the local Dask cluster did not start: {one_line(str(error))}"


def _from_dask(error: BaseException) -> bool:
    """``error`` is Dask's (a worker lost, the task cancelled), not one the task raised."""
    return type(error).__module__.partition(".")[0] in ("distributed", "dask")


def _distributed() -> Any:
    """The ``distributed`` module (untyped), or the extra to install."""
    try:
        import distributed
    except ImportError:
        raise EngineUnavailableError(
            "the Dask engine needs distributed: pip install 'postpress-async[dask]'"
        ) from None
    return distributed
