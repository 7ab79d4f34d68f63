"""What streams cost and what they buy, against the fake server in its own process.

Measures, and checks against the targets of the streams issue:

1. prefetch: 20 ms server latency per page and 20 ms of (awaited) caller work per
   page, over 100 pages: wall time with prefetch <= 0.6 x without;
2. overhead: no latency, 250-message pages: SDK stream throughput >= 0.85 x a
   hand-written aiohttp + msgspec loop decoding the same pages into the same Structs;
3. memory: streaming 1,000,000 messages peaks at <= 1.5 x the RSS of streaming 100,000
   (each in a fresh process): memory is flat in the length of a stream;
4. fan-out: 20 ms latency, 8 time windows, and 8 accounts merged: >= 4 x faster than
   one sequential stream over the same messages; every message exactly once.

Run: ``nox -s bench`` or ``python benchmarks/bench_stream.py`` (about 2 minutes here).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

import aiohttp
import msgspec
from _fake import RunningServer, fake_server, verdict

from postpress_async import AsyncPostpress, merge
from postpress_async.models import MessageList
from postpress_async.testing import Dataset

ROWS: list[tuple[str, str, str, str]] = []


def row(name: str, measured: str, target: str, ok: bool) -> None:
    ROWS.append((name, measured, target, verdict(ok)))
    print(f"  {name}: {measured}  [{target}] {verdict(ok)}", flush=True)


def client(server: RunningServer, **kwargs: object) -> AsyncPostpress:
    return AsyncPostpress(api_key=server.api_key, base_url=server.url, **kwargs)  # type: ignore[arg-type]


def exactly_once(ids: list[str], expected: set[str]) -> None:
    if len(ids) != len(expected) or set(ids) != expected:
        raise SystemExit(
            f"not exactly once: {len(ids)} ids, {len(set(ids))} distinct, {len(expected)} expected"
        )


async def timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    start = time.perf_counter()
    count = await run()
    return time.perf_counter() - start, count


# -- 1. prefetch ---------------------------------------------------------------------


async def bench_prefetch() -> None:
    print("1. prefetch vs sequential (20 ms latency, 20 ms caller work, 100 pages)", flush=True)
    with fake_server("--messages", "5000", "--latency", "0.02") as server:

        async def run(prefetch: int) -> int:
            pages = 0
            async with client(server) as c:
                async for _page in c.messages.list(limit=50, prefetch=prefetch).pages():
                    pages += 1
                    await asyncio.sleep(0.02)  # the caller's work on this page
            return pages

        sequential, pages = await timed(lambda: run(0))
        prefetched, pages2 = await timed(lambda: run(1))
    assert pages == pages2 == 100, (pages, pages2)
    ratio = prefetched / sequential
    row(
        "prefetch wall / sequential wall",
        f"{prefetched:.2f}s / {sequential:.2f}s = {ratio:.2f}",
        "<= 0.60 (limit 0.50)",
        ratio <= 0.6,
    )


# -- 2. overhead ---------------------------------------------------------------------


async def hand_written(server: RunningServer) -> int:
    decoder = msgspec.json.Decoder(MessageList)
    headers = {"X-API-KEY": server.api_key, "accept": "application/json"}
    count = 0
    cursor: str | None = None
    async with aiohttp.ClientSession() as session:
        while True:
            params = {"limit": "250"} if cursor is None else {"limit": "250", "cursor": cursor}
            async with session.get(f"{server.url}/messages", params=params, headers=headers) as r:
                body = await r.read()
            page = decoder.decode(body)
            for _message in page.items:
                count += 1
            cursor = page.cursor
            if cursor is None:
                return count


async def sdk_stream(server: RunningServer, prefetch: int) -> int:
    count = 0
    async with client(server, prefetch=prefetch) as c:
        async for _message in c.messages.list(limit=250):
            count += 1
    return count


async def bench_overhead(messages: int) -> None:
    print(f"2. SDK stream vs hand-written loop ({messages:,} messages, 250 a page)", flush=True)
    # The pages are rendered once and then served from the fake's memory, so the run
    # measures the clients, not the fake's JSON rendering.
    with fake_server("--messages", str(messages), "--page-cache-mb", "512") as server:
        await hand_written(server)  # fill the server's page cache
        best: dict[str, float] = {"hand": 0.0, "sdk": 0.0, "sdk0": 0.0}
        for _ in range(3):
            for name, run in (
                ("hand", lambda: hand_written(server)),
                ("sdk", lambda: sdk_stream(server, 1)),
                ("sdk0", lambda: sdk_stream(server, 0)),
            ):
                seconds, count = await timed(run)
                assert count == messages, (name, count)
                best[name] = max(best[name], count / seconds)
    ratio = best["sdk"] / best["hand"]
    row(
        "SDK msgs/s / hand-written msgs/s",
        f"{best['sdk']:,.0f} / {best['hand']:,.0f} = {ratio:.2f} "
        f"(no prefetch: {best['sdk0'] / best['hand']:.2f})",
        ">= 0.85",
        ratio >= 0.85,
    )


# -- 3. memory -----------------------------------------------------------------------


async def child_stream(url: str, key: str, count: int) -> None:
    seen = 0
    async with AsyncPostpress(api_key=key, base_url=url) as c:
        async for _message in c.messages.list(limit=250, max_items=count):
            seen += 1
    assert seen == count, seen
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(peak_kib)


def rss_of_stream(server: RunningServer, count: int) -> tuple[int, float]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", server.url, server.api_key, str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.strip().splitlines()[-1]), time.perf_counter() - start


async def bench_memory(big: int) -> None:
    small = big // 10
    print(f"3. peak RSS streaming {big:,} vs {small:,} messages (fresh processes)", flush=True)
    with fake_server("--messages", str(big)) as server:
        small_kib, _ = rss_of_stream(server, small)
        big_kib, big_s = rss_of_stream(server, big)
    ratio = big_kib / small_kib
    row(
        f"peak RSS {big:,} / {small:,}",
        f"{big_kib / 1024:.1f} MiB / {small_kib / 1024:.1f} MiB = {ratio:.2f} "
        f"({big / big_s:,.0f} msgs/s end to end)",
        "<= 1.50",
        ratio <= 1.5,
    )


# -- 4. fan-out ----------------------------------------------------------------------


async def bench_fanout(messages: int) -> None:
    print(f"4. fan-out vs one stream (20 ms latency, {messages:,} messages)", flush=True)
    dataset = Dataset(messages=messages, chats=200)  # the server's dataset, for its bounds
    stamps = [dataset.message_timestamp_ms(i) for i in range(dataset.message_count)]
    after = datetime.fromtimestamp(min(stamps) / 1000, tz=timezone.utc) - timedelta(seconds=1)
    before = datetime.fromtimestamp(max(stamps) / 1000, tz=timezone.utc) + timedelta(seconds=1)
    expected = set(dataset.expected_message_ids())
    accounts = sorted({dataset.message_row(i).account_id for i in range(messages)})[:8]
    by_accounts = {i for a in accounts for i in dataset.expected_message_ids(account_id=a)}
    with fake_server("--messages", str(messages), "--latency", "0.02") as server:
        async with client(server) as c:

            async def one() -> int:
                ids = [m.id async for m in c.messages.list(limit=100)]
                exactly_once(ids, expected)
                return len(ids)

            async def windows() -> int:
                stream = c.messages.list_windows(after=after, before=before, windows=8, limit=100)
                ids = [m.id async for m in stream]
                exactly_once(ids, expected)
                return len(ids)

            async def accounts_sequential() -> int:
                ids = [
                    m.id for a in accounts async for m in c.messages.list(account_id=a, limit=100)
                ]
                exactly_once(ids, by_accounts)
                return len(ids)

            async def accounts_merged() -> int:
                streams = [c.messages.list(account_id=a, limit=100) for a in accounts]
                ids = [m.id async for m in merge(*streams)]
                exactly_once(ids, by_accounts)
                return len(ids)

            single, _ = await timed(one)
            fanned, _ = await timed(windows)
            seq_accounts, _ = await timed(accounts_sequential)
            merged_accounts, _ = await timed(accounts_merged)
    speedup = single / fanned
    row(
        "8 windows vs one stream",
        f"{single:.2f}s / {fanned:.2f}s = {speedup:.1f}x, exactly once",
        ">= 4x",
        speedup >= 4,
    )
    speedup = seq_accounts / merged_accounts
    row(
        "8 accounts merged vs one after another",
        f"{seq_accounts:.2f}s / {merged_accounts:.2f}s = {speedup:.1f}x, exactly once",
        ">= 4x",
        speedup >= 4,
    )


async def main(args: argparse.Namespace) -> int:
    await bench_prefetch()
    await bench_overhead(args.messages)
    await bench_memory(args.big)
    await bench_fanout(args.fanout_messages)
    print("\n| benchmark | measured | target | |\n|---|---|---|---|")
    for name, measured, target, ok in ROWS:
        print(f"| {name} | {measured} | {target} | {ok} |")
    return 0 if all(r[3] == "PASS" for r in ROWS) else 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        asyncio.run(child_stream(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="for the overhead run")
    parser.add_argument("--big", type=int, default=1_000_000, help="for the memory run")
    parser.add_argument("--fanout-messages", type=int, default=20_000)
    sys.exit(asyncio.run(main(parser.parse_args())))
