"""Catching up: a watch resumed before a backlog of 200,000 messages, and its peak memory.

A fake server in its own process (``benchmarks/_fake.py``) serves ``--messages`` messages
(default 200,000, about five months of them). This process starts
``client.messages.watch(since=<before the oldest>, max_items=<all of them>)`` and walks
``stream.batches()`` to the end: every message is a backlog the watch must catch up on,
in time windows, oldest first, holding at most 8 pages of items at once (see
``postpress_async._catch_up.CatchUp``). It measures:

* catch-up throughput: messages handed out per second of wall clock, from the first
  request to the last batch (client and server share this machine's cores);
* requests: how many the catch-up made, against the ``messages / limit`` a plain walk
  of the listing needs (the windows' partial last pages and the listings they retry);
* peak RSS of this process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``; the server
  is another process), with the RSS before the watch for reference. Holding the backlog
  would cost gigabytes of ``Message`` objects; the bound asked for is **< 150 MB**,
  printed as PASS/FAIL.

It also checks what it measures: the batches are at most a page, and the messages come
strictly oldest first by ``(timestamp, id)`` and number exactly ``--messages``, so every
one was handed out once.

Then the same backlog caught up into a store: a process of its own runs
``ingest(config, "messages", "sqlite:///...", backfill=False, since=<before the oldest>)``
(what ``postpress watch messages --to URL --since ...`` runs after a long stop): every
batch committed with its position as it goes. Rows/s and that process's peak RSS (from
the kernel's accounting of the child, ``os.wait4``), the same < 150 MB bound, and the
rows stored checked against ``--messages``.

Run: ``python benchmarks/bench_catchup.py [--messages N] [--limit L]`` (about 20 s here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from _fake import fake_server, verdict
from _rss import run_measured

from postpress_async import AsyncPostpress, PollPolicy
from postpress_async._time import to_ms

BOUND_MB = 150.0
#: Before the oldest message of the fake's dataset (its messages end in May 2026).
SINCE = datetime(2024, 1, 1, tzinfo=timezone.utc)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def catch_up(url: str, key: str, messages: int, limit: int | None) -> int:
    async with AsyncPostpress(api_key=key, base_url=url) as client:
        before = peak_rss_mb()
        stream = client.messages.watch(
            since=SINCE, policy=PollPolicy(interval=0.05), limit=limit, max_items=messages
        )
        page = stream.limit
        last: tuple[int, str] | None = None
        handed = 0
        ordered = True
        largest = 0
        started = time.perf_counter()
        async for batch in stream.batches():
            largest = max(largest, len(batch))
            for message in batch:
                assert message.timestamp is not None
                place = (to_ms(message.timestamp), message.id)
                ordered = ordered and (last is None or place > last)
                last = place
            handed += len(batch)
        elapsed = time.perf_counter() - started
        requests = client.stats().requests
    peak = peak_rss_mb()
    print(
        f"messages handed out   {handed:>12,}  (of {messages:,}; strictly oldest first: {ordered})"
    )
    print(f"largest batch         {largest:>12,}  (limit {page})")
    print(f"catch-up rate         {handed / elapsed:>12,.0f}  messages/s ({elapsed:.1f} s)")
    print(
        f"requests              {requests:>12,}  ({requests / max(1, -(-messages // page)):.2f}x "
        f"a plain walk's {-(-messages // page):,}; {stream.catch_up_listings:,} catch-up listings)"
    )
    print(f"RSS before the watch  {before:>12.1f}  MB")
    ok = peak < BOUND_MB
    print(f"peak RSS              {peak:>12.1f}  MB  {verdict(ok)} (< {BOUND_MB:.0f} MB)")
    complete = handed == messages and ordered and largest <= page
    print(f"every message once    {verdict(complete):>12}")
    return 0 if ok and complete else 1


INTO_STORE = """
import asyncio, sys
from postpress_async.ingest import ClientConfig, ingest
config = ClientConfig(base_url=sys.argv[1], api_key=sys.argv[2], limit=250)
result = asyncio.run(ingest(config, "messages", sys.argv[3], backfill=False, since=sys.argv[4]))
print(result.items, flush=True)
"""


def into_store(url: str, key: str, messages: int) -> int:
    """The backlog caught up into SQLite by a process of its own: rows/s and its peak RSS."""
    with tempfile.TemporaryDirectory() as directory:
        store = Path(directory) / "catchup.db"
        started = time.perf_counter()
        child = run_measured("-c", INTO_STORE, url, key, f"sqlite:///{store}", SINCE.isoformat())
        elapsed = time.perf_counter() - started
        if child.returncode != 0:
            print(f"into a store: the process failed: {child.stderr[-2000:]}")
            return 1
        with sqlite3.connect(store) as db:
            stored = db.execute("SELECT count(DISTINCT id) FROM messages").fetchone()[0]
        db.close()
    peak = child.peak_mb
    ok = peak < BOUND_MB and stored == messages
    print(
        f"into SQLite           {stored:>12,}  rows ({child.stdout.strip()} this run) in {elapsed:.1f} s"
    )
    print(f"catch-up into a store {stored / elapsed:>12,.0f}  rows/s (the process's whole life)")
    print(
        f"its peak RSS          {peak:>12.1f}  MB  {verdict(peak < BOUND_MB)} (< {BOUND_MB:.0f} MB)"
    )
    print(f"every row once        {verdict(stored == messages):>12}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--limit", type=int, default=None, help="page size (default: 100)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"bench_catchup: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load {load:.2f}")
    with fake_server("--messages", str(args.messages), "--seed", "1") as server:
        watched = asyncio.run(catch_up(server.url, server.api_key, args.messages, args.limit))
        stored = into_store(server.url, server.api_key, args.messages)
    return watched or stored


if __name__ == "__main__":
    sys.exit(main())
