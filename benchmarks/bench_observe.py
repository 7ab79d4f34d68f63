"""What logging and event hooks cost on the 50,000-message walk, against the fake server.

Walks all 50,000 messages of the fake (its own process, no latency, no faults) with:

* ``off``: the default (the ``postpress_async`` logger at WARNING, no hooks);
* ``debug log``: DEBUG on, every attempt formatted by a real ``StreamHandler`` into
  ``os.devnull`` (the string is built and written, only the disk is spared);
* ``hooks``: an async ``request`` and ``response`` hook that count events;
* ``both``: the two together.

Prints each walk's median over ``--repeats`` runs (modes interleaved, so drift in machine
load hits them alike) and its ratio to ``off``, in wall time and in the client process's CPU
time (the fake runs in its own process, so that is the SDK's own cost, and less noisy on a
shared machine). Then the cost a call with no network at all (``MockTransport``, 5,000
calls, client CPU): what each mode adds to every request, projected onto the walk's
requests. Target: logging and hooks together add <= 5 % to the walk's client CPU. (The
walk's own ratios are printed too, but on a loaded 2-core machine their noise, about
+-10 %, is larger than the effect.) ``--limit 25`` shows a request-heavy walk (2,000 requests).

Run: ``nox -s bench`` or ``python benchmarks/bench_observe.py`` (about a minute here).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
from typing import Any

from _fake import RunningServer, fake_server, verdict

from postpress_async import AsyncPostpress
from postpress_async.transports import MockTransport, Request, Response

MODES = ("off", "debug log", "hooks", "both")
TARGET = 0.05


async def walk(server: RunningServer, mode: str, limit: int) -> tuple[float, float, int, int]:
    """One full walk; returns (wall seconds, client CPU seconds, messages, hook events)."""
    events = 0

    async def count(event: Any) -> None:
        nonlocal events
        events += 1

    hooks = {"request": [count], "response": [count]} if mode in ("hooks", "both") else None
    logger = logging.getLogger("postpress_async")
    logger.setLevel(logging.DEBUG if mode in ("debug log", "both") else logging.WARNING)
    async with AsyncPostpress(
        api_key=server.api_key,
        base_url=server.url,
        event_hooks=hooks,  # type: ignore[arg-type]
    ) as client:
        started, cpu_started = time.perf_counter(), time.process_time()
        messages = 0
        async for _message in client.messages.list(limit=limit):
            messages += 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return elapsed, cpu, messages, events


_EMPTY = Response(
    status=200,
    headers={"content-type": "application/json", "x-request-id": "req_1"},
    content=b'{"object":"AccountList","items":[],"cursor":null}',
)


async def per_call_cpu(mode: str, calls: int) -> float:
    """Client CPU seconds a call, with no network: what the mode adds to each request."""
    events = 0

    async def count(event: Any) -> None:
        nonlocal events
        events += 1

    def answer(request: Request) -> Response:
        return _EMPTY

    hooks = {"request": [count], "response": [count]} if mode in ("hooks", "both") else None
    logging.getLogger("postpress_async").setLevel(
        logging.DEBUG if mode in ("debug log", "both") else logging.WARNING
    )
    async with AsyncPostpress(
        api_key="k",
        transport=MockTransport(answer),
        event_hooks=hooks,  # type: ignore[arg-type]
    ) as client:
        started = time.process_time()
        for _ in range(calls):
            await client.accounts.list(limit=1)
        return (time.process_time() - started) / calls


async def main(messages: int, limit: int, repeats: int) -> int:
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu_times: dict[str, list[float]] = {mode: [] for mode in MODES}
    print(f"walk of {messages:,} messages, {limit}-message pages, {repeats} runs a mode")
    with fake_server("--messages", str(messages)) as server:
        await walk(server, "off", limit)  # warm the server's page cache and the imports
        for _ in range(repeats):
            for mode in MODES:
                elapsed, cpu, count, events = await walk(server, mode, limit)
                if count != messages:
                    raise SystemExit(f"{mode}: walked {count:,} messages, not {messages:,}")
                if mode in ("hooks", "both") and events != 2 * (-(-messages // limit)):
                    raise SystemExit(f"{mode}: {events} hook events")
                times[mode].append(elapsed)
                cpu_times[mode].append(cpu)
    base = statistics.median(times["off"])
    cpu_base = statistics.median(cpu_times["off"])
    ok = True
    for mode in MODES:
        median = statistics.median(times[mode])
        cpu = statistics.median(cpu_times[mode])
        ratio = median / base
        line = (
            f"  {mode:>9}: {median:.3f} s median ({messages / median:,.0f} msg/s), {ratio:.3f}x off;"
            f" client CPU {cpu:.3f} s, {cpu / cpu_base:.3f}x off"
        )
        print(line, flush=True)
    calls = 5_000
    cost = {mode: min([await per_call_cpu(mode, calls) for _ in range(3)]) for mode in MODES}
    requests = -(-messages // limit)
    print(f"per call, no network ({calls:,} calls, best of 3): client CPU and what it adds")
    for mode in MODES:
        added = cost[mode] - cost["off"]
        share = added * requests / cpu_base
        line = (
            f"  {mode:>9}: {cost[mode] * 1e6:.1f} us a call, +{added * 1e6:.1f} us;"
            f" x {requests} requests = +{share:.1%} of the walk's client CPU"
        )
        if mode == "both":
            ok = share <= TARGET
            line += f"  [<= {TARGET:.0%}] {verdict(ok)}"
        print(line, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--limit", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with open(os.devnull, "w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("postpress_async").addHandler(handler)
        code = asyncio.run(main(args.messages, args.limit, args.repeats))
    raise SystemExit(code)
