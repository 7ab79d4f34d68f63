"""Ingestion at scale: one stream vs the planner's shards, locally and on Dask, into three sinks.

The fake server runs in its own process with ``--latency`` per request (20 ms by
default) over ``--messages`` messages (1,000,000 by default; its hot chats make the
accounts' volumes skewed). For each sink (JSON lines, SQLite, PostgreSQL) it runs

* ``stream``: one shard, one list stream (``ingest(..., shards=1)``);
* ``local``: ``--shards`` planned shards, concurrently in this process (LocalEngine);
* ``dask``: the same shards as tasks on a Dask ``LocalCluster`` of ``--workers`` processes

and prints rows/s, wall time (planning included), and the largest-to-median ratio of
the rows the shards really held. JSON lines runs as one file for ``stream``/``local``
and as part files for ``dask`` (one file takes one writer process).

PostgreSQL: ``--pg DSN`` (a database the script may fill and empty), else a throwaway
cluster started like the tests start theirs (needs ``initdb``). ``--pg-methods`` also
times the PostgreSQL sink's two COPY formats (binary vs text, each into a staging table + upsert).
The machine's load average is printed with the table: figures on a shared machine
are noisy. Run: ``python benchmarks/bench_ingest.py --messages 200000``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from _fake import fake_server

from postpress_async.ingest import ClientConfig, Engine, LocalEngine, ingest

ROOT = Path(__file__).resolve().parent.parent


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--by", choices=("auto", "time", "account"), default="auto")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sinks", default="jsonl,sqlite,postgres")
    parser.add_argument("--engines", default="stream,local,dask")
    parser.add_argument("--pg", help="a PostgreSQL DSN to use (default: start a throwaway one)")
    parser.add_argument("--pg-methods", action="store_true", help="COPY binary vs text")
    args, _unknown = parser.parse_known_args()  # nox passes its posargs to every script
    return args


@contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    if dsn is not None:
        yield dsn
        return
    sys.path.insert(0, str(ROOT))
    from tests.ingest._servers import postgres_cluster  # the tests' throwaway cluster

    with postgres_cluster() as superuser:
        yield superuser + "/postgres"


async def _reset_pg(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "DROP TABLE IF EXISTS messages, chats, accounts, positions, plans, rejects, meta CASCADE"
        )
    finally:
        await conn.close()


def _target(sink: str, engine: str, work: Path, pg: str | None) -> str:
    if sink == "jsonl":
        return f"{work}/parts/" if engine == "dask" else str(work / "messages.jsonl")
    if sink == "sqlite":
        return f"sqlite:///{work}/messages.db"
    assert pg is not None
    return pg


def _engine(name: str, workers: int) -> Engine:
    if name == "dask":
        from postpress_async.ingest.engines.dask import DaskEngine

        return DaskEngine(workers=workers)
    return LocalEngine()


async def one_run(
    config: ClientConfig, args: argparse.Namespace, sink: str, engine: str, pg: str | None
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        if sink == "postgres" and pg is not None:
            await _reset_pg(pg)
        target = _target(sink, engine, work, pg)
        shards = 1 if engine == "stream" else args.shards
        started = time.perf_counter()
        result = await ingest(
            config,
            "messages",
            target,
            shards=shards,
            by=args.by,
            engine=_engine(engine, args.workers),
            force=True,
        )
        wall = time.perf_counter() - started
        sizes = [r.items for r in result.results]
        median = statistics.median(sizes)
        return {
            "sink": sink,
            "engine": engine,
            "rows": result.items,
            "wall": wall,
            "rate": result.items / wall,
            "shards": len(sizes),
            "ratio": max(sizes) / median if median else float("nan"),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def pg_methods(config: ClientConfig, pg: str, shards: int) -> None:
    from postpress_async.ingest.sinks.postgres import PostgresSink

    print("\nPostgreSQL sink, the same local run two ways in (COPY binary vs text):")
    for method in ("binary", "text"):
        await _reset_pg(pg)
        started = time.perf_counter()
        result = await ingest(
            config, "messages", PostgresSink(pg, copy=method), shards=shards, force=True
        )
        wall = time.perf_counter() - started
        print(
            f"  {method:<12} {result.items:>9,} rows  {wall:7.1f} s  {result.items / wall:9,.0f} rows/s"
        )


async def main() -> int:
    args = parse()
    sinks = args.sinks.split(",")
    engines = args.engines.split(",")
    chats = max(40, args.messages // 100)
    print(
        f"bench_ingest: {args.messages:,} fake messages, {args.latency * 1000:.0f} ms latency, "
        f"{args.shards} shards (by {args.by}), Dask {args.workers} workers; "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    fake = fake_server(
        "--seed", "1", "--messages", str(args.messages), "--chats", str(chats),
        "--latency", str(args.latency), "--page-cache-mb", "64",
    )  # fmt: skip
    needs_pg = "postgres" in sinks or args.pg_methods
    with fake as server, postgres(args.pg) if needs_pg else nullcontext() as pg:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=250)
        rows = []
        for sink in sinks:
            for engine in engines:
                row = await one_run(config, args, sink, engine, pg)
                rows.append(row)
                print(
                    f"  {row['sink']:<9} {row['engine']:<7} {row['rows']:>10,} rows "
                    f"{row['wall']:8.1f} s {row['rate']:10,.0f} rows/s  "
                    f"{row['shards']:>3} shards, largest/median {row['ratio']:.2f}",
                    flush=True,
                )
        if args.pg_methods and pg is not None:
            await pg_methods(config, pg, args.shards)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ok = all(row["rows"] == args.messages for row in rows)
    print("every run stored every message:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
