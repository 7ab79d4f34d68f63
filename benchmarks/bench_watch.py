"""Watching: delivery latency against the poll interval, and what an idle watcher costs.

1. Latency. A fake server in its own process adds messages live (``--live-rate 20``,
   bursts of up to 3 in one millisecond, each listed at once, so its timestamp is the
   moment it is listed). ``client.messages.watch(policy=PollPolicy(interval=I))`` follows
   it for a few seconds per interval ``I``; the latency of a message is the wall clock at
   its delivery minus its timestamp (one machine, one clock). Reports p50, p99 and max,
   and the requests a minute the watcher made while messages flowed.
2. Idle cost. A watcher of a server where nothing arrives, with the default policy
   (interval 2 s, back-off x2 up to 30 s) and with back-off off (``idle_backoff=1``):
   the requests it sends in its first minute and per minute once settled. The polls are
   real requests to the fake; only the waits between them run on a virtual clock, so
   ten minutes take a second.

Run: ``nox -s bench`` or ``python benchmarks/bench_watch.py [--seconds S]`` (about 40 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from typing import Any

from _fake import fake_server

from postpress_async import AsyncPostpress, PollPolicy, RetryPolicy

INTERVALS = (0.1, 0.25, 0.5, 1.0, 2.0)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latencies(url: str, key: str, interval: float, seconds: float) -> tuple[list[float], int]:
    """Follow the live server for ``seconds``; each message's delay, and the requests made."""
    policy = PollPolicy(interval=interval, jitter=0.1, overlap=2.0)
    delays: list[float] = []
    async with AsyncPostpress(api_key=key, base_url=url, retry=RetryPolicy()) as client:
        stream = client.messages.watch(policy=policy)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds), stream:
                async for message in stream:
                    assert message.timestamp is not None
                    delays.append(time.time() - message.timestamp.timestamp())
        requests = client.stats().requests
    return delays, requests


class _VirtualTime(Exception):
    """The virtual clock reached its end."""


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per interval (default 6)")
    args, _ = parser.parse_known_args()
    load = os.getloadavg()[0]
    print(f"bench_watch: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load {load:.2f}")
    print("\n1. delivery latency (listing -> delivery), live feed 20 msg/s, bursts <= 3")
    print(f"{'interval':>9} {'messages':>9} {'p50':>8} {'p99':>8} {'max':>8} {'req/min':>8}")
    with fake_server("--messages", "100", "--live-rate", "20", "--live-burst", "3") as server:
        for interval in INTERVALS:
            delays, requests = await latencies(server.url, server.api_key, interval, args.seconds)
            if not delays:
                print(f"{interval:>8}s   no message arrived")
                continue
            print(
                f"{interval:>8}s {len(delays):>9} {quantile(delays, 0.5) * 1000:>6.0f}ms "
                f"{quantile(delays, 0.99) * 1000:>6.0f}ms {max(delays) * 1000:>6.0f}ms "
                f"{requests * 60 / args.seconds:>8.0f}"
            )
    print("\n2. an idle watcher: requests a minute (real polls, virtual waits)")
    print(f"{'policy':<44} {'1st min':>8} {'settled':>8}")
    with fake_server("--messages", "100") as server:
        for name, policy in (
            ("default (2 s, x2 when idle, max 30 s)", PollPolicy()),
            ("no back-off (idle_backoff=1)", PollPolicy(idle_backoff=1.0)),
        ):
            minutes = await idle_cost(server.url, server.api_key, policy, 10)
            settled = statistics.mean(minutes[5:])
            print(f"{name:<44} {minutes[0]:>8} {settled:>8.1f}")
    return 0


async def idle_cost(url: str, key: str, policy: PollPolicy, minutes: int) -> list[int]:
    """Requests in each virtual minute by a watcher that never finds anything."""
    clock = 0.0
    starts: list[float] = []
    async with AsyncPostpress(api_key=key, base_url=url) as client:
        stream = client.messages.watch(policy=policy)
        original_list = stream._list_after

        def counted(**window: Any) -> object:
            starts.append(clock)  # the two listings that read where "now" is count too
            return original_list(**window)

        async def virtual_sleep(delay: float) -> None:
            nonlocal clock
            clock += delay
            if clock >= 60 * minutes:
                raise _VirtualTime

        stream._list_after = counted  # type: ignore[assignment]
        stream._sleep = virtual_sleep
        try:
            async for _ in stream:
                raise AssertionError("nothing should arrive")
        except _VirtualTime:
            pass
        assert client.stats().requests == len(starts)
    per_minute = [0] * minutes
    for moment in starts:
        per_minute[int(moment // 60)] += 1
    return per_minute


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
