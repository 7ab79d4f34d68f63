"""What logging and event hooks cost on the 50,000-message walk, against the fake server.

Walks all 50,000 messages of the fake (its own process, no latency, no faults) with:

* ``off``: the default (the ``postpress_async`` logger at WARNING, no hooks);
* ``debug log``: DEBUG on, every attempt formatted by a real ``StreamHandler`` into
  ``os.devnull`` (the string is built and written, only the disk is spared);
* ``hooks``: an async ``request`` and ``response`` hook that count events;
* ``both``: the two together.

Prints each walk's median over ``--repeats`` runs (modes interleaved, so drift in machine
load hits them alike) and its ratio to ``off``. Target: ``both`` <= 1.05 x ``off`` with
250-message pages. ``--limit 25`` shows a request-heavy walk (2,000 requests).

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

MODES = ("off", "debug log", "hooks", "both")
TARGET = 1.05


async def walk(server: RunningServer, mode: str, limit: int) -> tuple[float, int, int]:
    """One full walk; returns (seconds, messages, hook events)."""
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
        started = time.perf_counter()
        messages = 0
        async for _message in client.messages.list(limit=limit):
            messages += 1
        elapsed = time.perf_counter() - started
    return elapsed, messages, events


async def main(messages: int, limit: int, repeats: int) -> int:
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    print(f"walk of {messages:,} messages, {limit}-message pages, {repeats} runs a mode")
    with fake_server("--messages", str(messages)) as server:
        await walk(server, "off", limit)  # warm the server's page cache and the imports
        for _ in range(repeats):
            for mode in MODES:
                elapsed, count, events = await walk(server, mode, limit)
                if count != messages:
                    raise SystemExit(f"{mode}: walked {count:,} messages, not {messages:,}")
                if mode in ("hooks", "both") and events != 2 * (-(-messages // limit)):
                    raise SystemExit(f"{mode}: {events} hook events")
                times[mode].append(elapsed)
    base = statistics.median(times["off"])
    ok = True
    for mode in MODES:
        median = statistics.median(times[mode])
        ratio = median / base
        line = (
            f"  {mode:>9}: {median:.3f} s median ({messages / median:,.0f} msg/s), {ratio:.3f}x off"
        )
        if mode == "both":
            ok = ratio <= TARGET
            line += f"  [<= {TARGET}x] {verdict(ok)}"
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
