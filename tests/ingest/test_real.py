"""The real parts, end to end at the ingest() level: processes killed with SIGKILL mid-run,
real stores (JSON lines, SQLite, PostgreSQL), Dask worker processes.

Each test ends the same way: every id of the fake's ground truth exactly once in the
store, and the positions' item counts adding up to the rows (nothing stored twice).
The fake server runs in the test's process, so what it lists (and its live messages)
outlives the processes that are killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import anyio.abc
import pytest

from postpress_async.ingest import (
    ClientConfig,
    SinkUnavailableError,
    ingest,
    open_sink,
)
from postpress_async.testing import FakePostpress, Faults, LiveFeed, fake_dataset

from ._memory import CrashingSink, crash_until_done
from ._servers import missing

pytestmark = pytest.mark.slow

WAIT = 120.0


async def stored(url: str, endpoint: str = "messages") -> tuple[list[str], int]:
    """The ids a store holds, and the items its positions say were committed."""
    sink = open_sink(url)
    await sink.open(writer=False)
    try:
        ids = await sink.stored_ids(endpoint, after=None, before=None)  # type: ignore[arg-type]
        positions = await sink.positions(endpoint)  # type: ignore[arg-type]
    finally:
        await sink.close()
    return ids, sum(p.items for p in positions.values())


async def count(url: str) -> int:
    try:
        return len((await stored(url))[0])
    except Exception:  # not created yet
        return 0


def exactly_once(ids: list[str], committed: int, truth: list[str]) -> None:
    assert Counter(ids) == Counter(truth)
    assert committed == len(ids)  # no page committed twice


async def until(
    check: Callable[[], Awaitable[bool]], what: str, follower: Follower | None = None
) -> None:
    with anyio.move_on_after(WAIT):
        while True:
            if await check():
                return
            await anyio.sleep(0.05)
    said = "" if follower is None else f"; {follower.output()}"
    raise AssertionError(f"timed out waiting until {what}{said}")


FOLLOWER = """
import asyncio, sys
from postpress_async import PollPolicy
from postpress_async.ingest import ClientConfig, ingest

async def main():
    base, key, url = sys.argv[1:4]
    config = ClientConfig(base_url=base, api_key=key, limit=20, prefetch=1)
    policy = PollPolicy(interval=0.05, max_interval=0.2)
    await ingest(config, "messages", url, shards=4, follow=True, policy=policy)

asyncio.run(main())
"""


def _writing(path: Path) -> BinaryIO:
    return path.open("wb")


class Follower:
    """``ingest(..., follow=True)`` in a process of its own, killed with SIGKILL at will."""

    def __init__(self, script: Path, server: FakePostpress, url: str) -> None:
        self.argv = [sys.executable, str(script), server.url, server.api_key, url]
        self.process: anyio.abc.Process | None = None
        self.logs: list[Path] = []

    async def start(self) -> None:
        log = Path(f"{self.argv[1]}.{len(self.logs)}.log")
        self.logs.append(log)
        with _writing(log) as err:
            self.process = await anyio.open_process(self.argv, stdout=err, stderr=err)

    def output(self) -> str:
        """What the followers wrote (a traceback, if one ended on its own)."""
        return "\n".join(f"{log.name}: {log.read_text()}" for log in self.logs)

    async def kill(self) -> None:
        assert self.process is not None
        assert self.process.returncode is None, f"the follower ended: {self.output()}"
        self.process.send_signal(signal.SIGKILL)
        with anyio.fail_after(WAIT):
            await self.process.wait()
        await self.process.aclose()
        self.process = None


@pytest.mark.parametrize("kind", ["jsonl", "parts", "sqlite"])
async def test_a_follow_killed_mid_backfill_and_mid_catch_up_stores_every_id_once(
    tmp_path: Path, kind: str
) -> None:
    url = {
        "jsonl": f"{tmp_path}/m.jsonl",
        "parts": f"{tmp_path}/parts/",
        "sqlite": f"sqlite:///{tmp_path}/m.db",
    }[kind]
    script = tmp_path / "follow.py"
    script.write_text(FOLLOWER)
    dataset = fake_dataset(seed=7, messages=2000)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.005)) as server:
        follower = Follower(script, server, url)
        await follower.start()
        await until(lambda: _at_least(url, 500), "part of the backfill is stored", follower)
        await follower.kill()  # mid-backfill
        await follower.start()
        await until(lambda: _at_least(url, 2000), "the backfill is done", follower)
        server.add_messages(1500)  # a backlog for the follow to catch up on
        await until(lambda: _at_least(url, 2300), "part of the catch-up is stored", follower)
        await follower.kill()  # mid-catch-up (or just after, with a one-batch catch-up)
        server.add_messages(300)
        await follower.start()
        truth = server.truth("messages")
        await until(
            lambda: _at_least(url, len(truth)),
            f"the follow caught up ({len(truth)} messages)",
            follower,
        )
        await follower.kill()
        ids, committed = await stored(url)
        exactly_once(ids, committed, server.truth("messages"))


async def _at_least(url: str, rows: int) -> bool:
    return await count(url) >= rows


# -- PostgreSQL -----------------------------------------------------------------------------


async def test_postgres_holds_every_message_once_after_crashes(
    config: ClientConfig, pg_url: str, server: FakePostpress
) -> None:
    # Each run commits once (a page or two), then dies.
    crashes = await crash_until_done(
        config, lambda: CrashingSink(open_sink(pg_url), at=1), shards=4
    )
    ids, committed = await stored(pg_url)
    assert crashes > 2
    exactly_once(ids, committed, server.truth("messages"))


async def test_a_postgres_restart_mid_follow_loses_nothing_and_stores_nothing_twice() -> None:
    asyncpg = (
        pytest.importorskip("asyncpg") if os.environ.get("CI") != "true" else __import__("asyncpg")
    )
    from postpress_async import PollPolicy

    from ._servers import _bin, postgres_cluster

    pg_ctl = _bin("pg_ctl")
    with postgres_cluster() as superuser:
        assert pg_ctl is not None
        conn = await asyncpg.connect(f"{superuser}/postgres")
        data = await conn.fetchval("SHOW data_directory")
        await conn.execute("CREATE DATABASE follow")
        await conn.close()
        url = f"{superuser}/follow"
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

        def restart() -> None:
            log = str(Path(data).parent / "log")
            command = [*prefix, pg_ctl, "-D", data, "-m", "fast", "-l", log, "-w", "restart"]
            subprocess.run(command, check=True, capture_output=True, timeout=WAIT)

        dataset = fake_dataset(seed=9, messages=1000)
        feed = LiveFeed(rate=150, burst=3, late_ms=200, live_for=4.0, seed=3)
        async with FakePostpress(dataset=dataset, live=feed) as server:
            config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=25)
            policy = PollPolicy(interval=0.05, max_interval=0.1)
            async with anyio.create_task_group() as group:
                group.start_soon(
                    lambda: ingest(config, "messages", url, shards=3, follow=True, policy=policy)
                )
                await until(lambda: _at_least(url, 1000), "the backfill is done")
                assert server.live_running, "the feed ended before the restart"
                await anyio.to_thread.run_sync(restart)  # while the follow commits
                await server.live_finished()

                async def caught_up() -> bool:
                    # Only once the late ones are listed is the truth final.
                    settled = server.live.unlisted() == 0
                    return settled and await count(url) >= len(server.truth("messages"))

                await until(caught_up, "the follow caught up after the restart")
                group.cancel_scope.cancel()
            ids, committed = await stored(url)
            exactly_once(ids, committed, server.truth("messages"))


async def test_a_database_without_permission_is_refused_before_any_request(
    config: ClientConfig, pg_url: str, server: FakePostpress
) -> None:
    import asyncpg

    await ingest(config, "accounts", pg_url, shards=1)  # the tables exist, owned by postgres
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute("DROP ROLE IF EXISTS reader; CREATE ROLE reader LOGIN")
    finally:
        await admin.close()
    requests = server.stats.requests
    reader = pg_url.replace("postgres@", "reader@")
    with pytest.raises(SinkUnavailableError, match="permission"):
        await ingest(config, "messages", reader, shards=2)
    assert server.stats.requests == requests


async def test_an_unreachable_database_is_refused(config: ClientConfig) -> None:
    pytest.importorskip("asyncpg")
    from ._servers import free_port

    with pytest.raises(SinkUnavailableError, match="cannot connect"):
        await ingest(config, "messages", f"postgresql://nobody@127.0.0.1:{free_port()}/db")


# -- Dask -----------------------------------------------------------------------------------


def _dask() -> Any:
    try:
        from postpress_async.ingest.engines.dask import DaskEngine

        __import__("distributed")
    except ImportError:
        missing("Dask distributed (the dask extra)")
    return DaskEngine


async def test_dask_survives_a_worker_killed_mid_shard_into_sqlite(tmp_path: Path) -> None:
    await _kill_a_worker_mid_shard(f"sqlite:///{tmp_path}/m.db")


async def test_dask_survives_a_worker_killed_mid_shard_into_postgres(pg_url: str) -> None:
    await _kill_a_worker_mid_shard(pg_url)


async def test_dask_workers_open_a_database_whose_url_holds_its_password(pg_url: str) -> None:
    """The workers got the sink's shown URL, which leaves the password out: with password
    authentication every task failed all its tries, after the plan was stored."""
    asyncpg = __import__("asyncpg")
    user, password = "etl_pw", "s3cret:/@pw"
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f"DROP ROLE IF EXISTS {user}")
        await admin.execute(f"CREATE ROLE {user} LOGIN SUPERUSER PASSWORD '{password}'")
        hba = anyio.Path(await admin.fetchval("SHOW hba_file"))
        rules = await hba.read_text()
        await hba.write_text(f"host all {user} 127.0.0.1/32 scram-sha-256\n{rules}")
        await admin.execute("SELECT pg_reload_conf()")
    finally:
        await admin.close()
    try:
        from urllib.parse import quote

        host = pg_url.split("@", 1)[1]
        url = f"postgresql://{user}:{quote(password, safe='')}@{host}"
        refused = f"postgresql://{user}@{host}"
        with pytest.raises(SinkUnavailableError, match="password"):  # the rule holds
            await stored(refused)
        dataset = fake_dataset(seed=6, messages=400)
        async with FakePostpress(dataset=dataset) as server:
            config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
            engine = _dask()(workers=1, retries=0)
            result = await ingest(config, "messages", url, shards=2, engine=engine)
            ids, committed = await stored(url)
            exactly_once(ids, committed, server.truth("messages"))
        assert all(r.done for r in result.results)
        assert password not in repr(result) and "s3cret" not in str(result)
    finally:
        await hba.write_text(rules)
        admin = await asyncpg.connect(pg_url)
        try:
            await admin.execute("SELECT pg_reload_conf()")
        finally:
            await admin.close()


async def _kill_a_worker_mid_shard(url: str) -> None:
    engine = _dask()(workers=2, retries=2)
    dataset = fake_dataset(seed=5, messages=3000)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.02)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=25, prefetch=1)
        results: list[Any] = []

        async def export() -> None:
            results.append(await ingest(config, "messages", url, shards=4, engine=engine))

        async with anyio.create_task_group() as group:
            group.start_soon(export)
            await until(lambda: _at_least(url, 200), "some pages are stored")
            assert not results, "the export ended before a worker could be killed"
            pids = await engine.dask_client.run(os.getpid)
            os.kill(next(iter(pids.values())), signal.SIGKILL)
        ids, committed = await stored(url)
        exactly_once(ids, committed, server.truth("messages"))
    assert all(r.done for r in results[0].results)
    assert results[0].backfilled == len(ids)  # the killed worker's try's rows included


async def test_an_unreachable_scheduler_is_refused_before_any_request(
    config: ClientConfig, tmp_path: Path, server: FakePostpress
) -> None:
    engine_class = _dask()
    from postpress_async._exceptions import EngineUnavailableError

    from ._servers import free_port

    engine = engine_class(scheduler=f"tcp://127.0.0.1:{free_port()}", connect_timeout=2.0)
    with pytest.raises(EngineUnavailableError, match="cannot reach the Dask scheduler"):
        await ingest(config, "messages", f"{tmp_path}/parts/", engine=engine)
    assert server.stats.requests == 0
