"""Following into a database: how long a new message takes to be a committed row.

A fake server in its own process adds messages live (``--live-rate`` a second, 20 by
default; bursts of up to 3 in one millisecond; each listed at once, so its timestamp is
the moment it becomes listed). For each store (SQLite, PostgreSQL) a follower runs in a
process of its own: ``ingest(config, "messages", store, follow=True, backfill=False,
policy=PollPolicy(interval=1.0))``, the same job as ``postpress watch messages --to URL``.
This process polls the store every 20 ms and notes when each id first appears; the
latency of a message is that moment minus its timestamp (one machine, one clock): from
listing to committed row, the poll interval's wait, the request and the commit together.
Printed: p50, p99 and max for each store, and the rows seen. No target (the issue asks
for the figures); a follower that loses or repeats a message fails the run.

PostgreSQL: ``--pg DSN`` (a server whose databases this script may create), else a
throwaway cluster (the tests' helper). Run: ``python benchmarks/bench_follow.py
[--seconds 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

from _fake import RunningServer, fake_server
from bench_stores import optional_postgres

FOLLOWER = """
import asyncio, sys
from postpress_async import PollPolicy
from postpress_async.ingest import ClientConfig, ingest

config = ClientConfig(base_url=sys.argv[1], api_key=sys.argv[2], limit=250)
policy = PollPolicy(interval=float(sys.argv[4]), jitter=0.1, overlap=2.0)
asyncio.run(ingest(config, "messages", sys.argv[3], follow=True, backfill=False, policy=policy))
"""


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--live-rate", type=float, default=20.0)
    parser.add_argument("--pg", help="a PostgreSQL server DSN (default: a throwaway cluster)")
    args, _unknown = parser.parse_known_args()  # nox passes its posargs to every script
    return args


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


Rows = Callable[[], Awaitable[list[tuple[str, float]]]]


def sqlite_rows(path: Path) -> Rows:
    def read() -> list[tuple[str, float]]:
        if not path.exists():
            return []
        try:
            with sqlite3.connect(path, timeout=1.0) as db:
                found = db.execute(
                    "SELECT id, (julianday(timestamp) - 2440587.5) * 86400.0 FROM messages"
                ).fetchall()
            db.close()
        except sqlite3.OperationalError:  # the tables do not exist yet
            return []
        return [(str(i), float(t)) for i, t in found]

    async def in_thread() -> list[tuple[str, float]]:
        return await asyncio.to_thread(read)

    return in_thread


def postgres_rows(dsn: str) -> Rows:
    async def read() -> list[tuple[str, float]]:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            found = await conn.fetch("SELECT id, extract(epoch FROM timestamp) AS t FROM messages")
        except asyncpg.UndefinedTableError:
            return []
        finally:
            await conn.close()
        return [(r["id"], float(r["t"])) for r in found]

    return read


async def follow(
    server: RunningServer, store: str, rows: Rows, seconds: float, interval: float
) -> tuple[list[float], int]:
    """Run a follower into ``store`` for ``seconds``; each message's latency, and rows seen."""
    command = [sys.executable, "-c", FOLLOWER, server.url, server.api_key, store, str(interval)]
    follower = await asyncio.create_subprocess_exec(*command, stderr=subprocess.PIPE)
    first_seen: dict[str, float] = {}
    stamps: dict[str, float] = {}
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = time.time()
            for key, stamp in await rows():
                if key not in first_seen:
                    first_seen[key], stamps[key] = now, stamp
            await asyncio.sleep(0.02)
    finally:
        follower.terminate()
        _, err = await asyncio.wait_for(follower.communicate(), timeout=30)
    if follower.returncode not in (0, -15, 143, 130):
        raise RuntimeError(f"the follower failed ({follower.returncode}): {err.decode()[-2000:]}")
    started = min(first_seen.values(), default=0.0) + 2 * interval  # past the first poll
    delays = [first_seen[k] - stamps[k] for k in first_seen if stamps[k] >= started]
    rows_seen = await rows()
    if len(rows_seen) != len({key for key, _ in rows_seen}):
        raise RuntimeError(f"{store}: a message was stored twice")
    return delays, len(rows_seen)


async def fresh_database(server_dsn: str) -> str:
    import asyncpg

    base = server_dsn.rsplit("/", 1)[0]
    name = f"follow_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(base + "/postgres")
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return f"{base}/{name}"


async def main() -> int:
    args = parse()
    print(
        f"follow latency: {args.live_rate:g} messages/s arriving, polls every "
        f"{args.interval:g} s, {args.seconds:g} s a store ({load()})",
        flush=True,
    )
    results: list[tuple[str, list[float], int]] = []
    live = ["--messages", "1000", "--live-rate", str(args.live_rate)]
    with fake_server(*live) as server, tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "follow.db"
        delays, seen = await follow(
            server, f"sqlite:///{path}", sqlite_rows(path), args.seconds, args.interval
        )
        results.append(("SQLite", delays, seen))
        async with AsyncExitStack() as stack:
            pg = await optional_postgres(stack, args.pg)
            if pg is not None:
                dsn = await fresh_database(pg)
                delays, seen = await follow(
                    server, dsn, postgres_rows(dsn), args.seconds, args.interval
                )
                results.append(("PostgreSQL", delays, seen))
    print(
        "\n| store | p50 listing -> committed row | p99 | max | messages measured "
        "| rows stored |\n|---|---|---|---|---|---|"
    )
    for name, delays, seen in results:
        if not delays:
            print(f"| {name} | - | - | - | 0 | {seen} |")
            continue
        print(
            f"| {name} | {quantile(delays, 0.5) * 1000:.0f} ms | "
            f"{quantile(delays, 0.99) * 1000:.0f} ms | {max(delays) * 1000:.0f} ms "
            f"| {len(delays)} | {seen} |"
        )
    print(f"({load()})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
