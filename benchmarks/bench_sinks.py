"""The sinks at wire speed: an export into each store against a bare load of the same rows.

One run, one dataset (``--messages``, 200,000 by default, 250 a page, zero latency; the
fake in its own process serving from its page cache, filled by a first walk). In
interleaved rounds, best of ``--rounds`` by wall time:

* ``typed walk``: ``async for`` over ``client.messages.list(limit=250)`` (prefetch 4),
  the reference every export is held against;
* ``jsonl sink``: ``ingest(config, "messages", FILE, shards=1)`` into a fresh JSON lines
  file (one stream, the raw path, group commit + fsync);
* ``sqlite sink`` / ``sqlite bare``: ``ingest`` into a fresh SQLite file, and the same
  messages loaded with no SDK around them (``bench_stores.sqlite_bare``: ``executemany``
  upserts in 5,000-row transactions, WAL, the same indexes);
* ``postgres sink`` / ``postgres bare``: ``ingest`` into a fresh PostgreSQL database, and
  ``bench_stores.postgres_bare_binary`` (binary COPY into a temporary table, then one
  upsert, 5,000 rows a transaction) into the same cluster;
* ``duckdb sink``: ``ingest`` into a fresh DuckDB file (no target; the fifth store).

Printed: rows/s, wall, and the client's CPU per stored row beside the walk's CPU per item
(the whole process: the event loop and the sinks' worker threads). Targets (issue #19):
each database sink >= 0.8x its bare load's rows/s, measured in this run. Every store is
checked to hold every message exactly once after each round.

PostgreSQL: ``--pg DSN`` (a server whose databases this script may create and drop),
else a throwaway cluster (the tests' helper; ``initdb`` needed). Run:
``python benchmarks/bench_sinks.py`` (``--messages 50000`` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from _fake import RunningServer, fake_server, verdict, walk
from bench_stores import (
    load_rows,
    optional_postgres,
    postgres_bare_binary,
    sqlite_bare,
)

from postpress_async.ingest import ClientConfig, ingest

TARGET = 0.8


@dataclass(frozen=True)
class Run:
    name: str
    rows: int
    wall: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.rows / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.rows * 1e6


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", help="a PostgreSQL server DSN (default: a throwaway cluster)")
    args, _unknown = parser.parse_known_args()  # nox passes its posargs to every script
    return args


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


async def timed(name: str, work: Callable[[], Awaitable[int]]) -> Run:
    wall, cpu = time.perf_counter(), time.process_time()
    rows = await work()
    return Run(name, rows, time.perf_counter() - wall, time.process_time() - cpu)


def config_for(server: RunningServer) -> ClientConfig:
    return ClientConfig(base_url=server.url, api_key=server.api_key, limit=250, prefetch=4)


async def export(server: RunningServer, sink: str) -> int:
    result = await ingest(config_for(server), "messages", sink, shards=1)
    return result.items


def sqlite_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute("SELECT count(DISTINCT id) FROM messages").fetchone()[0]
    db.close()
    return count


async def postgres_count(dsn: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(DISTINCT id) FROM messages"))
    finally:
        await conn.close()


def duckdb_count(path: Path) -> int:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as db:
        found = db.execute("SELECT count(DISTINCT id) FROM messages").fetchone()
    return int(found[0]) if found else 0


async def fresh_database(server_dsn: str) -> str:
    import asyncpg

    name = f"sink_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server_dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return server_dsn.rsplit("/", 1)[0] + "/" + name


def check(name: str, stored: int, expected: int) -> None:
    if stored != expected:
        raise RuntimeError(f"{name}: {stored:,} distinct ids stored, expected {expected:,}")


async def main() -> int:
    args = parse()
    print(
        f"sinks vs bare loads: {args.messages:,} messages, 250 a page, zero latency ({load()})",
        flush=True,
    )
    best: dict[str, Run] = {}

    def keep(run: Run) -> None:
        if run.name not in best or run.wall < best[run.name].wall:
            best[run.name] = run

    with fake_server("--messages", str(args.messages), "--page-cache-mb", "512") as server:
        await walk(server)  # fill the fake's page cache
        rows = await load_rows(server.url, server.api_key)
        n = args.messages
        async with AsyncExitStack() as stack:
            pg = await optional_postgres(stack, args.pg)
            with tempfile.TemporaryDirectory(prefix="bench-sinks-") as directory:
                here = Path(directory)
                for index in range(args.rounds):
                    keep(await timed("typed walk", partial(walk, server)))
                    out = here / f"m{index}.jsonl"
                    keep(await timed("jsonl sink", partial(export, server, str(out))))
                    check("jsonl", sum(1 for _ in out.open("rb")), n)
                    db = here / f"m{index}.db"
                    keep(await timed("sqlite sink", partial(export, server, f"sqlite:///{db}")))
                    check("sqlite", sqlite_count(db), n)
                    bare = sqlite_bare(rows.sqlite, here / "bare.db")
                    keep(Run("sqlite bare", bare.rows, bare.wall, bare.cpu))
                    duck = here / f"m{index}.duckdb"
                    keep(await timed("duckdb sink", partial(export, server, f"duckdb:///{duck}")))
                    check("duckdb", duckdb_count(duck), n)
                    if pg is not None:
                        target = await fresh_database(pg)
                        keep(await timed("postgres sink", partial(export, server, target)))
                        check("postgres", await postgres_count(target), n)
                        result = await postgres_bare_binary(rows.postgres, pg)
                        keep(Run("postgres bare", result.rows, result.wall, result.cpu))
    walk_run = best["typed walk"]
    print(
        "\n| run | rows/s | wall s | client CPU µs a row | vs typed walk |\n|---|---|---|---|---|"
    )
    for run in best.values():
        print(
            f"| {run.name} | {run.rate:,.0f} | {run.wall:.2f} | {run.cpu_us:.2f} "
            f"| {run.rate / walk_run.rate:.2f}x |"
        )
    print("\n| benchmark | measured | target | |\n|---|---|---|---|")
    ok = True
    for store in ("sqlite", "postgres"):
        sink, bare = best.get(f"{store} sink"), best.get(f"{store} bare")
        if sink is None or bare is None:
            continue
        ratio = sink.rate / bare.rate
        ok = ok and ratio >= TARGET
        print(
            f"| {store} sink rows/s / bare load rows/s | {sink.rate:,.0f} / {bare.rate:,.0f} "
            f"= {ratio:.2f} | >= {TARGET} | {verdict(ratio >= TARGET)} |"
        )
    print(f"({load()})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
