"""The database sinks against the bare loads of ``bench_stores.py``, on the same rows, same run.

Issue 19's target: a sink stores rows at no less than 0.8x the rate of a bare load of
the same rows. The rows come from the fake server's real pages read by the raw path
(``client.messages.rows(limit=250)``: ``(id, *columns, data)``, ``data`` the item's exact
bytes as ``msgspec.Raw``); the fake runs in its own process and is stopped before any
load. The bare loads get the same messages pre-built in their own forms (time as text
for SQLite, ``data`` as ``str``; that preparation is outside their clock), the sinks get
the raw rows as a runner hands them over: batches of 5,000 rows (``bench_stores.BATCH``,
the bare loads' transaction) with one move each, ``await sink.commit(batch)`` in turn.

* ``sqlite sink`` vs ``sqlite executemany upsert``;
* ``postgres sink binary`` / ``postgres sink text`` (``PostgresSink(copy=...)``) vs
  ``postgres binary COPY + upsert`` / ``postgres text COPY + upsert``; the backend's CPU
  read from /proc when the server runs here;
* ``duckdb sink`` vs ``duckdb unnest upsert``: the sink's own statement on pre-built
  column lists (DuckDB's ``executemany`` runs a statement a row: about 400 rows/s).

Printed: ``bench_stores``'s table (best of ``--rounds`` interleaved rounds by wall time),
then each sink over its bare load: rows/s and CPU µs a row (this process, all its
threads, plus the PostgreSQL backend). No targets enforced: exit 0.
PostgreSQL: ``--pg DSN`` (a database the script may create and drop tables in), else a
throwaway cluster like the tests' (skipped without ``initdb``); DuckDB skipped without
``duckdb``. Run: ``python benchmarks/bench_db_sinks.py`` (``--messages 50000`` for a
short run; ``--only sqlite,duckdb``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import msgspec
from _fake import fake_server
from bench_stores import (
    BATCH,
    Result,
    Rows,
    _backend_cpu,
    _pg_text,
    api_time,
    optional_postgres,
    postgres_bare_binary,
    postgres_bare_text,
    sqlite_bare,
    table,
)

from postpress_async import AsyncPostpress
from postpress_async._positions import Checkpoint
from postpress_async._rows import Row
from postpress_async.ingest.sinks._base import Batch, Move, Sink

SINK_TABLES = "messages, chats, accounts, positions, plans, rejects, meta"


async def fetch_rows(url: str, api_key: str, limit: int = 250) -> list[Row]:
    """Every message the server lists, as the raw path reads it."""
    rows: list[Row] = []
    async with AsyncPostpress(api_key=api_key, base_url=url, prefetch=4) as client:
        async for page in client.messages.rows(limit=limit).pages():
            rows.extend(page.items)
    return rows


def bare_rows(rows: list[Row]) -> Rows:
    """The same messages in the bare loads' forms (``bench_stores.load_rows``'s)."""
    sqlite_rows: list[Row] = []
    pg_rows: list[Row] = []
    for id_, account, chat, sender, moment, text, is_sender, raw in rows:
        data = bytes(raw).decode()
        sqlite_rows.append((id_, account, chat, sender, api_time(moment), text, is_sender, data))
        pg_rows.append(
            (
                *(_pg_text(value) for value in (id_, account, chat, sender)),
                moment,
                _pg_text(text),
                is_sender,
                data,
            )
        )
    return Rows(sqlite=sqlite_rows, postgres=pg_rows)


def batches(rows: list[Row]) -> list[Batch]:
    """``BATCH`` rows a batch, each moving shard ``s0`` one position on."""
    out: list[Batch] = []
    previous = None
    for k, start in enumerate(range(0, len(rows), BATCH)):
        chunk = rows[start : start + BATCH]
        new = msgspec.json.encode(Checkpoint(cursor=f"c{k}"))
        out.append(Batch("messages", chunk, [], [Move("s0", previous, new, len(chunk), 20)]))
        previous = new
    return out


async def sink_load(
    name: str, sink: Sink, work: list[Batch], rows: int, server: Callable[[], float | None]
) -> Result:
    """Commit every batch into a fresh store; the clock covers the commits only."""
    await sink.open()
    before = server()
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in work:
        await sink.commit(batch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = server()
    stored = await sink.count("messages")
    await sink.close()
    if stored != rows:
        raise RuntimeError(f"{name}: {stored:,} rows stored, expected {rows:,}")
    server_cpu = None if before is None or after is None else after - before
    return Result(name, rows, wall, cpu, server_cpu)


def fresh(path: Path) -> Path:
    """``path`` with no file of an earlier round (nor its -wal, -shm, .wal, .lock)."""
    for stale in path.parent.glob(f"{path.name}*"):
        stale.unlink()
    return path


def no_server() -> float | None:
    return None


async def postgres_sink(dsn: str, copy: Any, work: list[Batch], rows: int) -> Result:
    import asyncpg

    from postpress_async.ingest.sinks.postgres import PostgresSink

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {SINK_TABLES}")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    sink = PostgresSink(dsn, copy=copy)

    def server() -> float | None:
        conn = sink._conn  # the backend that runs the commits
        return None if conn is None else _backend_cpu(dsn, conn.get_server_pid())

    return await sink_load(f"postgres sink {copy}", sink, work, rows, server)


def duckdb_bare(rows: list[Row], path: Path) -> Result:
    """The DuckDB sink's statement alone: pre-built column lists, 5,000 rows a transaction."""
    import duckdb

    from postpress_async.ingest.sinks import duckdb as sink_module
    from postpress_async.ingest.sinks._sql import schema

    for stale in (path, Path(f"{path}.wal")):
        stale.unlink(missing_ok=True)
    chunks = []
    for start in range(0, len(rows), BATCH):
        columns: list[Any] = [list(c) for c in zip(*rows[start : start + BATCH], strict=True)]
        columns[-1] = [str(data, "utf-8") for data in columns[-1]]
        chunks.append(columns)
    db = duckdb.connect(str(path))
    for statement in schema(sink_module.TYPES):
        db.execute(statement)
    wall, cpu = time.perf_counter(), time.process_time()
    for columns in chunks:
        db.begin()
        db.execute(sink_module._UPSERTS["messages"], columns)
        db.commit()
    db.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Result("duckdb unnest upsert", len(rows), wall, cpu)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="sqlite,postgres,duckdb")
    parser.add_argument("--pg", help="a PostgreSQL DSN to use (default: start a throwaway one)")
    parser.add_argument("--dir", help="where the SQLite/DuckDB files go (default: a temp dir)")
    args, _unknown = parser.parse_known_args()  # nox passes its posargs to every script
    return args


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


async def main() -> int:
    args = parse()
    only = set(args.only.split(","))
    with fake_server("--messages", str(args.messages)) as server:
        rows = await fetch_rows(server.url, server.api_key)
    forms, work = bare_rows(rows), batches(rows)
    print(f"{len(rows):,} messages, {len(work)} batches of {BATCH:,} rows ({load()})")
    best: dict[str, Result] = {}

    def keep(result: Result) -> None:
        if result.name not in best or result.wall < best[result.name].wall:
            best[result.name] = result

    try:
        import duckdb  # noqa: F401
    except ImportError:
        only.discard("duckdb")
        print("  DuckDB skipped: duckdb is not installed")
    async with AsyncExitStack() as stack:
        pg = await optional_postgres(stack, args.pg) if "postgres" in only else None
        with tempfile.TemporaryDirectory(prefix="bench-db-sinks-", dir=args.dir) as directory:
            folder = Path(directory)
            for _round in range(args.rounds):
                if "sqlite" in only:
                    from postpress_async.ingest.sinks.sqlite import SQLiteSink

                    keep(sqlite_bare(forms.sqlite, folder / "bare.db"))
                    sink = SQLiteSink(fresh(folder / "sink.db"))
                    keep(await sink_load("sqlite sink", sink, work, len(rows), no_server))
                if pg is not None:
                    keep(await postgres_bare_binary(forms.postgres, pg))
                    keep(await postgres_bare_text(forms.postgres, pg))
                    keep(await postgres_sink(pg, "binary", work, len(rows)))
                    keep(await postgres_sink(pg, "text", work, len(rows)))
                if "duckdb" in only:
                    from postpress_async.ingest.sinks.duckdb import DuckDBSink

                    keep(duckdb_bare(rows, folder / "bare.duckdb"))
                    sink = DuckDBSink(fresh(folder / "sink.duckdb"))
                    keep(await sink_load("duckdb sink", sink, work, len(rows), no_server))
    table(list(best.values()))
    print()
    for sink_name, bare_name in (
        ("sqlite sink", "sqlite executemany upsert"),
        ("postgres sink binary", "postgres binary COPY + upsert"),
        ("postgres sink text", "postgres text COPY + upsert"),
        ("postgres sink text", "postgres sink binary"),
        ("duckdb sink", "duckdb unnest upsert"),
    ):
        if sink_name in best and bare_name in best:
            a, b = best[sink_name], best[bare_name]
            print(
                f"{sink_name} / {bare_name}: {a.rate / b.rate:.2f}x rows/s; "
                f"CPU µs a row {a.cpu_us_a_row:.1f} vs {b.cpu_us_a_row:.1f}"
            )
    print(f"({load()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
