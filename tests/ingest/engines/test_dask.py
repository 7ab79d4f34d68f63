"""The Dask engine: one request budget for the whole cluster, and a clean stop.

The fast tests drive the budget's transport and the engine's helpers without a cluster;
the slow ones start LocalClusters (seconds each) against the fake server, whose
``stats.peak_in_flight`` counts the requests it handles at once, whoever sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

import postpress_async
from postpress_async import APIConnectionError, AsyncPostpress, AuthenticationError, RetryPolicy
from postpress_async._exceptions import (
    EngineUnavailableError,
    ShardFailedError,
)
from postpress_async._transport import MockTransport, Request, Response
from postpress_async.ingest import ClientConfig, ingest
from postpress_async.ingest._run import IngestProgress
from postpress_async.ingest.engines._budget import LeasedTransport, budget_name
from postpress_async.ingest.engines._task_error import Lasting, portable
from postpress_async.ingest.engines.dask import DaskEngine, TaskError, _not_started, _to_the_end
from postpress_async.testing import Dataset, FakePostpress, FaultKind, Faults, fake_dataset

WAIT = 120.0

EMPTY = Response(status=200, headers={}, content=b'{"object": "AccountList", "items": []}')


class Recorder:
    """A budget of ``size`` leases (in this process) that logs what happens to it."""

    def __init__(self, size: int = 1) -> None:
        self.events: list[str] = []
        self.held = 0
        self._semaphore = anyio.Semaphore(size)

    async def acquire(self) -> None:
        await self._semaphore.acquire()
        self.held += 1
        self.events.append("acquire")

    def release(self) -> None:
        self.held -= 1
        self.events.append("release")
        self._semaphore.release()


def leased_client(budget: Recorder, handler: Callable[[Request], Awaitable[Response]]) -> Any:
    return AsyncPostpress(
        api_key="k",
        base_url="http://127.0.0.1:9",
        transport=LeasedTransport(MockTransport(handler), budget),
        retry=RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.001),
    )


async def test_a_lease_is_held_around_each_attempt_and_not_across_the_backoff() -> None:
    budget = Recorder()
    answers = [Response(status=503, headers={}, content=b"{}"), EMPTY]

    async def handler(request: Request) -> Response:
        budget.events.append(f"send with {budget.held} held")
        return answers.pop(0)

    async with leased_client(budget, handler) as client:
        await client.accounts.list()
    assert budget.events == [
        "acquire",
        "send with 1 held",
        "release",  # the retry's backoff holds no lease
        "acquire",
        "send with 1 held",
        "release",
    ]


async def test_a_failed_or_cancelled_attempt_gives_its_lease_back() -> None:
    budget = Recorder()
    started = anyio.Event()

    async def hang(request: Request) -> Response:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError

    async def fail(request: Request) -> Response:
        raise APIConnectionError("down", method=request.method, url=request.url)

    async with leased_client(budget, hang) as client:

        async def call() -> None:
            await client.accounts.list()

        async with anyio.create_task_group() as group:
            group.start_soon(call)
            await started.wait()
            assert budget.held == 1
            group.cancel_scope.cancel()
    assert budget.held == 0
    assert budget.events == ["acquire", "release"]
    async with leased_client(budget, fail) as client:
        with pytest.raises(APIConnectionError):
            await client.accounts.list()
    assert budget.held == 0
    assert budget.events[2:] == ["acquire", "release"] * 3  # three attempts


@pytest.mark.slow
def test_the_budget_is_named_for_the_api_key_and_size_without_showing_the_key() -> None:
    key = "pk_live_0123456789abcdef"
    name = budget_name("https://api.postpress.dev", key, 16)
    assert name.startswith("postpress-budget-")
    assert key not in name and "0123456789abcdef" not in name  # names show on the dashboard
    assert budget_name("https://api.postpress.dev/", key, 16) == name  # every export with them
    assert budget_name("https://api.postpress.dev", key + "x", 16) != name
    assert budget_name("https://eu.postpress.dev", key, 16) != name
    # A semaphore's size is fixed while the scheduler holds it: another size, another one.
    assert budget_name("https://api.postpress.dev", key, 32) != name


async def test_the_cluster_budget_exists_only_inside_a_dask_task() -> None:
    pytest.importorskip("distributed")
    from postpress_async.ingest.engines._budget import ClusterBudget

    with pytest.raises(EngineUnavailableError, match="inside a Dask task"):
        async with ClusterBudget("b", 2):
            pass


async def test_closing_runs_to_its_end_when_cancelled_then_the_cancel_goes_on() -> None:
    finished = []

    async def close() -> None:
        await asyncio.sleep(0.05)
        finished.append(True)

    task = asyncio.ensure_future(_to_the_end(close(), timeout=WAIT))
    await asyncio.sleep(0)
    task.cancel()  # asyncio's own cancellation, as the CLI's Ctrl-C handler sends
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == [True]
    with anyio.move_on_after(0.01):  # anyio's cancellation waits outside the shield
        await _to_the_end(close(), timeout=WAIT)
    assert finished == [True, True]


def test_a_task_error_travels_as_its_class_name_and_one_line() -> None:
    error = TaskError.of(ValueError("first line\n  second line"))
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == "ValueError: first line second line"
    assert (again.kind, again.message) == ("ValueError", "first line second line")


class Unpicklable(Exception):
    def __init__(self, what: str, why: str) -> None:  # unpickled with one argument: fails
        super().__init__(f"{what} needs {why}")


def test_a_task_sends_its_error_itself_or_as_text_when_it_does_not_pickle() -> None:
    error = AuthenticationError(
        status=401, type=None, title="bad key", method="GET", url="https://x/y"
    )
    assert portable(error) is error
    assert portable(ValueError("bad")).args == ("bad",)
    # A class of a module the coordinator may lack (here, the tests') travels as text.
    assert isinstance(portable(Unpicklable("it", "a key")), TaskError)
    assert isinstance(portable(msgspec.ValidationError("bad")), TaskError)
    assert str(portable(Unpicklable("it", "a key"))) == "Unpicklable: it needs a key"


def test_a_lasting_error_travels_as_a_value_with_its_type_and_why() -> None:
    error = AuthenticationError(
        status=401, type=None, title="bad key", method="GET", url="https://x/y"
    )
    again = pickle.loads(pickle.dumps(Lasting(portable(error), "a 401 does not change")))
    assert isinstance(again.error, AuthenticationError)
    assert (again.error.status, again.why) == (401, "a 401 does not change")


def test_a_cluster_that_did_not_start_is_told_in_one_line_or_with_the_main_guard() -> None:
    assert _not_started(RuntimeError("Nanny failed\n to start.")) == (
        "the local Dask cluster did not start: Nanny failed to start."
    )
    error = RuntimeError("Nanny failed to start.")
    error.__cause__ = RuntimeError("... the current process has finished its bootstrapping phase")
    assert "if __name__ == '__main__':" in _not_started(error)


# Slow: LocalClusters of worker processes.


def stored_ids(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [row[0] for row in db.execute("SELECT id FROM messages")]


def truth(dataset: Dataset) -> list[str]:
    return sorted(dataset.message_id(i) for i in range(dataset.message_count))


class Watched(DaskEngine):
    """A DaskEngine that resets the fake's counters as its shards start (after planning),
    and may change the configuration its tasks get and the faults they meet."""

    def __init__(
        self,
        server: FakePostpress,
        *,
        api_key: str | None = None,
        attempts: int | None = None,
        faults: Faults | None = None,
        **options: Any,
    ):
        super().__init__(**options)
        self.server = server
        self.faults = faults
        self.changes = {
            name: value
            for name, value in {"api_key": api_key, "attempts": attempts}.items()
            if value is not None
        }
        self.started = anyio.Event()

    async def run(self, client: Any, config: Any, plan: Any, sink: Any, progress: Any) -> Any:
        config = msgspec.structs.replace(config, **self.changes)
        if self.faults is not None:
            self.server.set_faults(self.faults)
        self.server.stats.reset()
        self.started.set()
        return await super().run(client, config, plan, sink, progress)


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_four_workers_never_exceed_one_budget_of_three(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=11, messages=2400)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.05)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        engine = Watched(server, workers=4, max_in_flight=3)
        progress = IngestProgress()
        url = f"sqlite:///{tmp_path}/m.db"
        result = await ingest(config, "messages", url, shards=8, engine=engine, progress=progress)
        peak = server.stats.peak_in_flight
    ids = stored_ids(tmp_path / "m.db")
    # Per worker (16 each, or 3 each) the four workers would reach 4 or more at once.
    assert 1 < peak <= 3
    assert sorted(ids) == truth(dataset)
    assert progress.items == result.items == len(ids)  # counted as stored
    assert progress.shards_done == len(result.plan.shards) == 8


@pytest.mark.slow
async def test_rows_a_failed_try_stored_count_in_the_result_after_dask_retries_it(
    tmp_path: Path,
) -> None:
    """A task that failed after some commits, run again by Dask, reported only what its
    last try stored: the result and the progress counted fewer rows than the store got."""
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=20, messages=1500)
    faults = Faults(rates={"service_unavailable": 0.08}, seed=3)
    async with FakePostpress(dataset=dataset, faults=faults) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=25)
        # The tasks make no HTTP retries: a 503 fails one, and Dask runs it again.
        engine = Watched(server, workers=2, retries=30, attempts=1)
        progress = IngestProgress()
        url = f"sqlite:///{tmp_path}/m.db"
        result = await ingest(config, "messages", url, shards=2, engine=engine, progress=progress)
        failed = server.stats.faults[FaultKind.SERVICE_UNAVAILABLE]
    ids = stored_ids(tmp_path / "m.db")
    assert sorted(ids) == truth(dataset)
    assert failed > 2  # tasks did fail and run again
    assert result.backfilled == progress.items == len(ids)


@pytest.mark.slow
async def test_a_killed_workers_lease_comes_back_and_the_export_finishes(tmp_path: Path) -> None:
    """Budget 1: while the killed worker's lease is out, no request can start at all;
    the export ends only because the scheduler took that lease back (lease timeout)."""
    pytest.importorskip("distributed")

    def leases_held() -> tuple[int, int]:  # runs in each worker process
        import gc

        from postpress_async.ingest.engines._budget import ClusterBudget

        budgets = [o for o in gc.get_objects() if isinstance(o, ClusterBudget)]
        return os.getpid(), sum(budget.held for budget in budgets)

    dataset = fake_dataset(seed=12, messages=800)
    url = f"sqlite:///{tmp_path}/m.db"
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.3)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        engine = Watched(server, workers=3, max_in_flight=1, retries=2)
        export = asyncio.ensure_future(ingest(config, "messages", url, shards=4, engine=engine))
        await engine.started.wait()
        await wait_until(lambda: server.stats.requests >= 3 or export.done(), "shards run")
        stuck = False
        for _ in range(3):  # the holder may hand its lease on just before the kill
            assert not export.done(), "the export ended before a worker could be killed"
            held = await engine.dask_client.run(leases_held)
            holders = [pid for pid, count in held.values() if count > 0]
            if not holders:
                await asyncio.sleep(0.05)
                continue
            os.kill(holders[0], signal.SIGKILL)
            before = server.stats.requests
            await asyncio.sleep(1.5)  # five requests' time, were the lease free
            if server.stats.requests == before:
                stuck = True
                break
        assert stuck, "no worker holding the lease could be killed"
        result = await asyncio.wait_for(export, WAIT)
    assert sorted(stored_ids(tmp_path / "m.db")) == truth(dataset)
    assert all(r.done for r in result.results)


@pytest.mark.slow
async def test_a_failed_request_in_a_worker_names_its_api_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=13, messages=300)
    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        engine = Watched(server, workers=1, retries=0, api_key="not-the-key")
        with pytest.raises(ShardFailedError) as failed:
            await ingest(config, "messages", f"sqlite:///{tmp_path}/m.db", shards=2, engine=engine)
    # A 401 is returned by its task, not raised (Dask would run it again): the worker
    # does not log it as a failed task, and the API key shows nowhere in what it logs.
    logged = capfd.readouterr().err
    assert "Compute Failed" not in logged
    assert "not-the-key" not in logged
    message = str(failed.value)
    assert "\n" not in message
    assert "RuntimeError" not in message
    assert message.startswith("shard ")
    assert "failed after 1 try: AuthenticationError: 401" in message
    # The worker's error itself, typed, with its fields (it was dropped: text only).
    cause = failed.value.__cause__
    assert isinstance(cause, AuthenticationError)
    assert cause.status == 401


@pytest.mark.slow
async def test_a_worker_logs_a_failed_task_without_its_api_key(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=22, messages=300)
    key = "a-key-no-log-may-show"
    async with FakePostpress(dataset=dataset, api_key=key) as server:
        config = ClientConfig(base_url=server.url, api_key=key, limit=50)
        down = Faults(rates={"service_unavailable": 1.0})  # once the export is planned
        engine = Watched(server, workers=1, retries=0, attempts=1, faults=down)
        with pytest.raises(ShardFailedError, match="failed after 1 try: ServiceUnavailable"):
            await ingest(config, "messages", f"sqlite:///{tmp_path}/m.db", shards=2, engine=engine)
    # The worker logs a failed task ("Compute Failed", at ERROR) with its task: the API
    # key travels in the task's arguments and must not be shown there.
    logged = capfd.readouterr().err
    assert "Compute Failed" in logged
    assert key not in logged


@pytest.mark.slow
async def test_a_401_in_a_worker_is_not_tried_again_whatever_the_retries(tmp_path: Path) -> None:
    """Dask ran the task again on any error: a rejected key was asked six times a shard
    (``retries=5``), each try a new client, sink and "Compute Failed" log."""
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=21, messages=300)
    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        engine = Watched(server, workers=1, retries=5, api_key="not-the-key")
        with pytest.raises(ShardFailedError) as failed:
            await ingest(config, "messages", f"sqlite:///{tmp_path}/m.db", shards=2, engine=engine)
        asked = server.stats.requests
        refused = server.stats.by_status[401]
    # One try a shard: the first shard's 401 ends the export (the other's is cancelled,
    # maybe before it asks).
    assert 1 <= refused == asked <= 2
    said = "failed and was not tried again (a 401 does not change on a retry): "
    assert f"{said}AuthenticationError: 401" in str(failed.value)
    cause = failed.value.__cause__
    assert isinstance(cause, AuthenticationError)
    assert cause.status == 401


@pytest.mark.slow
async def test_a_cancelled_export_closes_its_cluster(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=14, messages=20000)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.05)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=20)
        engine = Watched(server, workers=2)
        url = f"sqlite:///{tmp_path}/m.db"
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: ingest(config, "messages", url, shards=4, engine=engine))
            await engine.started.wait()
            await wait_until(lambda: server.stats.requests >= 20, "shards run")
            group.cancel_scope.cancel()  # an anyio cancellation: every await is cancelled
    assert engine.dask_client is None
    assert multiprocessing.active_children() == []  # no worker process outlives it
    assert 0 < len(stored_ids(tmp_path / "m.db")) < dataset.message_count


@pytest.mark.slow
async def test_the_engines_cluster_starts_beside_another_on_the_dashboard_port() -> None:
    """Its scheduler took Dask's dashboard port, 8787, and warned "Port 8787 is already in
    use. Perhaps you already have a cluster running?" when another cluster held it."""
    pytest.importorskip("distributed")
    with socket.socket() as held:
        with contextlib.suppress(OSError):  # held already, say by another cluster
            held.bind(("127.0.0.1", 8787))
            held.listen()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            async with DaskEngine(workers=1) as engine:
                assert engine.dask_client is not None
    assert multiprocessing.active_children() == []


@pytest.mark.slow
async def test_an_engine_its_user_entered_serves_two_exports_and_closes_once(
    tmp_path: Path,
) -> None:
    """Each ingest entered the engine again: a second cluster replaced the user's, whose
    workers were left running, and the first ingest's exit closed the engine for good."""
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=17, messages=200)
    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        async with DaskEngine(workers=1) as engine:
            cluster = engine.dask_client
            for endpoint in ("messages", "chats"):
                url = f"sqlite:///{tmp_path}/{endpoint}.db"
                await ingest(config, endpoint, url, shards=2, engine=engine)  # type: ignore[arg-type]
                assert engine.dask_client is cluster  # the same cluster, still running
        assert engine.dask_client is None
    assert multiprocessing.active_children() == []  # no worker process outlives it
    assert sorted(stored_ids(tmp_path / "messages.db")) == truth(dataset)


@pytest.mark.slow
async def test_two_exports_at_once_share_one_engine_and_one_cluster(tmp_path: Path) -> None:
    """The second entry started a cluster over the first's (left running), and the first
    export's exit closed the second's under it."""
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=19, messages=200)
    engine = DaskEngine(workers=1)
    clients: set[int] = set()

    async def export(endpoint: Any) -> None:
        url = f"sqlite:///{tmp_path}/{endpoint}.db"
        async with engine:
            clients.add(id(engine.dask_client))
            await ingest(config, endpoint, url, shards=2, engine=engine)

    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        async with anyio.create_task_group() as group:
            group.start_soon(export, "messages")
            group.start_soon(export, "chats")
    assert len(clients) == 1
    assert engine.dask_client is None
    assert multiprocessing.active_children() == []
    assert sorted(stored_ids(tmp_path / "messages.db")) == truth(dataset)


class Together(DaskEngine):
    """A DaskEngine whose runs wait for each other once planned, and reset the fake's
    counters as the last of them starts; ``peak`` is the fake's peak as the first run
    ends: of the shards' requests only (a finished export then catches up itself)."""

    def __init__(self, server: FakePostpress, runs: int, **options: Any) -> None:
        super().__init__(**options)
        self.server = server
        self.runs = runs
        self.all_planned = anyio.Event()
        self.peak: int | None = None

    async def run(self, client: Any, config: Any, plan: Any, sink: Any, progress: Any) -> Any:
        self.runs -= 1
        if self.runs == 0:
            self.server.stats.reset()
            self.all_planned.set()
        await self.all_planned.wait()
        try:
            return await super().run(client, config, plan, sink, progress)
        finally:
            if self.peak is None:
                self.peak = self.server.stats.peak_in_flight


@pytest.mark.slow
async def test_two_exports_at_once_never_exceed_one_budget_together(tmp_path: Path) -> None:
    """Each run opened a budget of its own: two exports sent twice the budget at once
    against the same API key."""
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=21, messages=1200)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.05)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        async with Together(server, runs=2, workers=4, max_in_flight=2) as engine:
            async with anyio.create_task_group() as group:
                for store in ("a", "b"):
                    url = f"sqlite:///{tmp_path}/{store}.db"
                    group.start_soon(
                        lambda url=url: ingest(config, "messages", url, shards=4, engine=engine)
                    )
    assert engine.peak is not None
    assert 1 < engine.peak <= 2  # four workers under two budgets of 2 reach 3 or 4
    for store in ("a", "b"):
        assert sorted(stored_ids(tmp_path / f"{store}.db")) == truth(dataset)


@pytest.mark.slow
async def test_an_export_asking_another_budget_size_runs_beside_the_first(
    tmp_path: Path,
) -> None:
    """A Dask semaphore cannot change its size while the scheduler holds it: an export
    asking another size is not refused (it could not run again until the scheduler
    restarted) but gets a budget of its own, and both store everything."""
    pytest.importorskip("distributed")
    dataset = fake_dataset(seed=22, messages=600)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.02)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        async with Watched(server, workers=1) as engine:

            async def export(store: str, size: int) -> None:
                sized = msgspec.structs.replace(config, max_in_flight=size)
                url = f"sqlite:///{tmp_path}/{store}.db"
                await ingest(sized, "messages", url, shards=2, engine=engine)  # type: ignore[arg-type]

            async with anyio.create_task_group() as group:
                group.start_soon(export, "a", 3)
                await engine.started.wait()
                await wait_until(lambda: server.stats.requests >= 2, "the first export's tasks run")
                await export("b", 5)
    assert sorted(stored_ids(tmp_path / "a.db")) == truth(dataset)
    assert sorted(stored_ids(tmp_path / "b.db")) == truth(dataset)


@pytest.mark.slow
async def test_a_cancelled_export_on_a_cluster_that_stays_up_stops_its_tasks(
    tmp_path: Path,
) -> None:
    """On a cluster that outlives the export (its user's), the cancelled tasks ran their
    shards to the end, storing rows after ingest() had returned."""
    pytest.importorskip("distributed")

    def tasks(dask_worker: Any) -> int:  # runs in each worker process
        return len(dask_worker.state.tasks)

    dataset = fake_dataset(seed=18, messages=20000)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.05)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=20)
        async with Watched(server, workers=2) as engine:
            url = f"sqlite:///{tmp_path}/m.db"
            async with anyio.create_task_group() as group:
                group.start_soon(lambda: ingest(config, "messages", url, shards=2, engine=engine))
                await engine.started.wait()
                await wait_until(lambda: server.stats.requests >= 20, "shards run")
                group.cancel_scope.cancel()
            deadline = time.monotonic() + WAIT
            while sum((await engine.dask_client.run(tasks)).values()):
                assert time.monotonic() < deadline, "the cancelled tasks did not end"
                await asyncio.sleep(0.05)
    # Stopped at their next request: a few pages each past the cancel, not whole shards.
    assert len(stored_ids(tmp_path / "m.db")) < dataset.message_count // 2


class SchedulerGone(DaskEngine):
    """A DaskEngine whose scheduler stops once the export is planned, before its run."""

    def __init__(self, scheduler: Any, **options: Any) -> None:
        super().__init__(scheduler=scheduler.address, **options)
        self.stopping = scheduler

    async def run(self, client: Any, config: Any, plan: Any, sink: Any, progress: Any) -> Any:
        await self.stopping.close()
        return await super().run(client, config, plan, sink, progress)


@pytest.mark.slow
async def test_a_scheduler_gone_before_the_run_is_an_engine_unavailable_error(
    tmp_path: Path,
) -> None:
    pytest.importorskip("distributed")
    from distributed import Scheduler

    dataset = fake_dataset(seed=16, messages=100)
    async with (
        FakePostpress(dataset=dataset) as server,
        Scheduler(port=0, dashboard_address=None) as scheduler,
    ):
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        engine = SchedulerGone(scheduler, connect_timeout=0.5)
        with pytest.raises(EngineUnavailableError, match="cannot reach the Dask scheduler at tcp"):
            await ingest(config, "messages", f"{tmp_path}/parts/", shards=2, engine=engine)
    assert engine.dask_client is None


INTERRUPTED = """
import asyncio, sys
import anyio
from postpress_async.ingest import ClientConfig, ingest
from postpress_async.ingest.engines.dask import DaskEngine
from postpress_async.testing import FakePostpress, Faults, fake_dataset

class Engine(DaskEngine):
    async def run(self, client, config, plan, sink, progress):
        server.stats.reset()  # planning done: count the shards' requests

        async def say():
            while server.stats.requests < 40:
                await asyncio.sleep(0.02)
            print("running", flush=True)
        async with anyio.create_task_group() as group:
            group.start_soon(say)
            return await super().run(client, config, plan, sink, progress)

async def main():
    global server
    dataset = fake_dataset(seed=15, messages=20000)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.05)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=20)
        await ingest(config, "messages", sys.argv[1], shards=4, engine=Engine(workers=2, max_in_flight=1))

if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


UNGUARDED = """
import asyncio
from postpress_async.ingest.engines.dask import DaskEngine

async def main():
    try:
        async with DaskEngine(workers=1):
            pass
    except Exception as error:
        print(type(error).__name__, error, flush=True)

asyncio.run(main())  # no `if __name__ == "__main__":`: each worker process runs it again
"""


@pytest.mark.slow
def test_a_script_without_a_main_guard_is_told_why_its_cluster_did_not_start(
    tmp_path: Path,
) -> None:
    """A bare RuntimeError('Nanny failed to start.') from distributed's insides."""
    pytest.importorskip("distributed")
    script = tmp_path / "export.py"
    script.write_text(UNGUARDED)
    here = str(Path(postpress_async.__file__).parent.parent)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        timeout=WAIT,
        env={**os.environ, "PYTHONPATH": here},
        check=False,
    )
    out = done.stdout.decode().splitlines()
    assert out, done.stderr.decode()
    # The last line is the script's own (a worker process's copy may print first).
    assert out[-1].startswith("EngineUnavailableError "), out
    assert "if __name__ == '__main__':" in out[-1]


def session_processes(session: int) -> list[str]:
    """Live processes of ``session`` (zombies, already ended, left out): Linux's /proc."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat.rpartition(")")[2].split()  # state ppid pgrp session ...
        if int(fields[3]) == session and fields[0] != "Z":
            alive.append(f"{entry.name} {stat.partition(' ')[2][:60]}")
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_a_dask_export_without_leaks_or_tracebacks(tmp_path: Path) -> None:
    """A terminal's Ctrl-C sends SIGINT to the whole process group, workers included."""
    pytest.importorskip("distributed")
    script = tmp_path / "export.py"
    script.write_text(INTERRUPTED)
    here = str(Path(postpress_async.__file__).parent.parent)  # the package under test
    process = subprocess.Popen(
        [sys.executable, str(script), f"sqlite:///{tmp_path}/m.db"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": here},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"running\n"
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    stderr = err.decode()
    assert out == b"interrupted\n", stderr
    assert "leaked" not in stderr
    assert "Traceback" not in stderr, stderr
    deadline = time.monotonic() + WAIT
    while (left := session_processes(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []
    assert 0 < len(stored_ids(tmp_path / "m.db")) < 20000  # it was stopped mid-run


@pytest.mark.slow
async def test_a_scheduler_address_that_is_the_dashboards_port_is_refused_in_its_own_timeout(
    tmp_path: Path,
) -> None:
    """``tcp://host:8787`` (the dashboard's port, not the scheduler's 8786) connects, then
    no Dask handshake ever comes back, which distributed waits for without a timeout: the
    export hung for two minutes, deaf to Ctrl-C, then said only "gave up after 122 s"."""
    distributed = pytest.importorskip("distributed")
    async with (
        FakePostpress(dataset=fake_dataset(seed=19, messages=50)) as server,
        distributed.LocalCluster(
            n_workers=0, processes=False, asynchronous=True, dashboard_address="127.0.0.1:0"
        ) as cluster,
    ):
        dashboard = f"tcp://127.0.0.1:{cluster.scheduler.http_server.port}"
        config = ClientConfig(base_url=server.url, api_key=server.api_key)
        engine = DaskEngine(scheduler=dashboard, connect_timeout=1.0)
        with pytest.raises(EngineUnavailableError, match="no Dask scheduler answered") as caught:
            await ingest(config, "messages", f"{tmp_path}/parts/", engine=engine)  # type: ignore[arg-type]
        assert dashboard in str(caught.value) and "dashboard" in str(caught.value)
        assert engine.dask_client is None
        assert server.stats.requests == 0
    gc.collect()  # a Client given up on was left open: its __del__ failed in a later test
    left = [c for c in gc.get_objects() if isinstance(c, distributed.Client)]
    assert [c.status for c in left if c.status != "closed"] == []
