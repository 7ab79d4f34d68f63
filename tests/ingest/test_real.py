"""The real parts: PostgreSQL, Dask worker processes, and kill -9 mid-export.

Each test ends the same way: every message id of the fake dataset exactly once in the
store, and the checkpoints' item counts adding up to the rows (no page stored twice).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from postpress_async.cli._fake import fake_dataset
from postpress_async.ingest import ClientConfig, SinkUnavailableError, ingest
from postpress_async.testing import FakePostpress, Faults

from ._servers import missing
from .conftest import message_ids
from .test_run import Crash, CrashingSink, sqlite_ids

pytestmark = pytest.mark.slow

WAIT = 120.0


async def pg_ids(url: str) -> tuple[list[str], int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM messages")]
        written = await conn.fetchval("SELECT coalesce(sum(items), 0) FROM checkpoints")
    finally:
        await conn.close()
    return ids, int(written)


async def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("method", ["copy", "executemany"])
async def test_postgres_holds_every_message_once_after_crashes(
    config: ClientConfig, pg_url: str, method: str
) -> None:
    from postpress_async.ingest.sinks.postgres import PostgresSink

    crashes = 0
    while True:
        try:
            sink = CrashingSink(PostgresSink(pg_url, method=method), pages=4)  # type: ignore[arg-type]
            await ingest(config, "messages", sink, shards=4)
            break
        except Crash:
            crashes += 1
    ids, written = await pg_ids(pg_url)
    assert crashes > 2
    assert sorted(ids) == sorted(message_ids())
    assert written == len(ids)


@pytest.mark.parametrize("method", ["copy", "executemany"])
async def test_a_cancelled_postgres_page_is_stored_whole_or_not_at_all(
    config: ClientConfig, pg_url: str, method: str
) -> None:
    """The engine cancels shards when one fails: a page being written must not hang.

    asyncpg cancelled inside ``executemany`` while it waits to send the rest of a batch
    larger than its write buffer left the server waiting for that rest, and the client
    for the server: forever. Here the cancellation lands at every point of the write.
    """
    import anyio
    import anyio.lowlevel
    import msgspec

    from postpress_async import Checkpoint
    from postpress_async.ingest import Shard
    from postpress_async.ingest.sinks.postgres import PostgresSink

    async with config.client() as client:
        page = await client.messages.list(limit=100)
    # 1,000 rows (several hundred KiB): far beyond the transport's 64 KiB write buffer.
    items = [msgspec.structs.replace(m, id=f"{m.id}.{k}") for k in range(10) for m in page.items]
    shard = Shard(endpoint="messages", label="only")
    sink = PostgresSink(pg_url, method=method)  # type: ignore[arg-type]
    await sink.open()
    try:
        stored = Checkpoint()
        moved = 0
        for yields in range(40):
            wanted = Checkpoint(cursor=f"page-{yields}")
            with anyio.fail_after(WAIT):  # a hang fails here instead of stalling the run
                async with anyio.create_task_group() as group:
                    group.start_soon(sink.write, shard, items, wanted, stored)
                    for _ in range(yields):
                        await anyio.lowlevel.checkpoint()
                    group.cancel_scope.cancel()
                now = await sink.checkpoint(shard)
            assert now in (stored, wanted)  # the page whole or not at all
            moved += now == wanted
            stored = now
        ids, written = await pg_ids(pg_url)
    finally:
        await asyncio.wait_for(sink.close(), WAIT)
    assert moved > 0
    assert sorted(ids) == sorted(item.id for item in items)
    assert written == moved * len(items)


async def test_postgres_keeps_typed_columns_and_the_object(
    config: ClientConfig, pg_url: str
) -> None:
    import asyncpg

    await ingest(config, "chats", pg_url, shards=2)
    conn = await asyncpg.connect(pg_url)
    try:
        row = await conn.fetchrow(
            "SELECT account_id, timestamp, data->>'id' AS id FROM chats WHERE timestamp IS NOT NULL LIMIT 1"
        )
    finally:
        await conn.close()
    assert row is not None
    assert row["account_id"].startswith("acc_")
    assert row["timestamp"].tzinfo is not None
    assert row["id"].startswith("chat_")


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


def _dask() -> Any:
    try:
        from postpress_async.ingest.engines.dask import DaskEngine

        __import__("distributed")
    except ImportError:
        missing("Dask distributed (the dask extra)")
    return DaskEngine


async def _store_ids(url: str) -> tuple[list[str], int]:
    if url.startswith("sqlite"):
        return sqlite_ids(Path(url.removeprefix("sqlite:///")))
    return await pg_ids(url)


async def test_dask_survives_a_worker_killed_mid_shard_into_sqlite(tmp_path: Path) -> None:
    await _kill_a_worker_mid_shard(f"sqlite:///{tmp_path}/m.db")


async def test_dask_survives_a_worker_killed_mid_shard_into_postgres(pg_url: str) -> None:
    await _kill_a_worker_mid_shard(pg_url)


async def _kill_a_worker_mid_shard(url: str) -> None:
    engine = _dask()(workers=2, retries=2)
    dataset = fake_dataset(seed=5, messages=3000)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.02)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=25, prefetch=1)
        export = asyncio.ensure_future(ingest(config, "messages", url, shards=4, engine=engine))

        async def some_pages_stored() -> bool:
            if export.done():
                return True
            try:
                _, written = await _store_ids(url)
            except Exception:  # the tables are not there yet
                return False
            return written > 200

        await wait_for(some_pages_stored, "some pages are stored")
        assert not export.done(), "the export ended before a worker could be killed"
        pids = await engine.dask_client.run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        result = await asyncio.wait_for(export, WAIT)
    ids, written = await _store_ids(url)
    truth = [dataset.message_id(i) for i in range(dataset.message_count)]
    assert sorted(ids) == sorted(truth)
    assert written == len(ids)
    assert all(r.done for r in result.results)


async def test_an_unreachable_scheduler_is_refused_before_any_request(
    config: ClientConfig, tmp_path: Path, server: FakePostpress
) -> None:
    engine_class = _dask()
    from ._servers import free_port

    engine = engine_class(scheduler=f"tcp://127.0.0.1:{free_port()}", connect_timeout=2.0)
    from postpress_async.ingest import EngineUnavailableError

    with pytest.raises(EngineUnavailableError, match="cannot reach the Dask scheduler"):
        await ingest(config, "messages", f"{tmp_path}/parts/", engine=engine)
    assert server.stats.requests == 0


EXPORTER = """
import asyncio, sys
from postpress_async.cli._fake import fake_dataset
from postpress_async.ingest import ClientConfig, ingest
from postpress_async.testing import FakePostpress, Faults

async def main():
    dataset = fake_dataset(seed=7, messages=3000)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.01)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=20, prefetch=1)
        print("started", flush=True)
        await ingest(config, "messages", sys.argv[1], shards=4)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_kill_9_of_the_exporting_process_then_a_rerun_stores_every_id_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    script = tmp_path / "export.py"
    script.write_text(EXPORTER)
    dataset = fake_dataset(seed=7, messages=3000)
    truth = sorted(dataset.message_id(i) for i in range(dataset.message_count))
    kills = 0
    for threshold in (300, 1200):
        process = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE)
        try:
            deadline = time.monotonic() + WAIT
            while True:
                try:
                    _, written = sqlite_ids(tmp_path / "m.db")
                except sqlite3.OperationalError:  # the tables are not there yet
                    written = 0
                if (written or 0) >= threshold or process.poll() is not None:
                    break
                assert time.monotonic() < deadline, "the export stored nothing"
                time.sleep(0.02)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
        finally:
            process.wait(timeout=WAIT)
            assert process.stdout is not None
            process.stdout.close()
    finished = subprocess.run([sys.executable, str(script), url], capture_output=True, timeout=WAIT)
    assert finished.returncode == 0, finished.stderr.decode()
    ids, written = sqlite_ids(tmp_path / "m.db")
    assert kills == 2
    assert sorted(ids) == truth
    assert written == len(ids)
