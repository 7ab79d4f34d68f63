"""The export path against the typed walk: what a JSON lines export of the API's bytes costs.

The fake server runs in its own process serving cached 250-message pages. Over the same
messages (``--messages``, 200,000 by default) this measures the items/s of

* the typed walk: ``async for`` over ``client.messages.list(limit=250)`` (prefetch 4), every
  message decoded into a full ``Message``, then dropped;
* ``postpress export messages --out FILE --limit 250 --quiet``, run in this process through
  the CLI's ``main``: the raw path (each page cut into its items' exact bytes plus a light
  decode of the columns a follow needs), one writer committing the pages queued behind it
  as a group (``writev``, one fsync, one sidecar write).

Every export round writes a new file (the previous round's is removed before the clock
starts) and its lines are counted after the clock stops. Best of ``--rounds``
interleaved rounds. Target (issue #19): export items/s >= 1.3x the typed walk's.

Then the export's peak memory: the same command as a process of its own against fakes of
``--small`` (100,000) and ``--large`` (1,000,000) messages, its peak RSS (``VmHWM``, read
by the child itself: see ``_rss.py``). Target: the large export's peak within
10 % of the small one's (memory flat in the size of the export).

Run: ``python benchmarks/bench_export.py`` (``--messages 50000 --large 200000`` for a short
run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from _fake import RunningServer, fake_server, verdict, walk
from _rss import run_measured

from postpress_async.cli import main as postpress

SPEED_TARGET = 1.3
MEMORY_TARGET = 1.10


def command(server: RunningServer, out: Path) -> list[str]:
    return [
        "export",
        "messages",
        "--out",
        str(out),
        "--limit",
        "250",
        "--quiet",
        "--api-key",
        server.api_key,
        "--base-url",
        server.url,
    ]


def export(server: RunningServer, out: Path) -> None:
    code = postpress(command(server, out))
    if code != 0:
        raise SystemExit(f"postpress export exited {code}")


def lines(out: Path) -> int:
    with out.open("rb") as file:
        return sum(1 for _ in file)


def peak_rss_mb(messages: int, directory: Path) -> float:
    """Peak RSS (MB) of ``postpress export`` as a process of its own over ``messages``."""
    out = directory / f"rss-{messages}.jsonl"
    with fake_server("--messages", str(messages), "--page-cache-mb", "64") as server:
        child = run_measured("-m", "postpress_async", *command(server, out))
    if child.returncode != 0:
        raise SystemExit(f"postpress export exited {child.returncode}: {child.stderr[-2000:]}")
    count = lines(out)
    out.unlink()
    for sidecar in directory.glob(f"{out.name}.*"):  # so a second measure starts afresh
        sidecar.unlink()
    if count != messages:
        raise SystemExit(f"export of {messages:,}: {count:,} lines")
    return child.peak_mb


def main(args: argparse.Namespace) -> int:
    load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    print(f"export vs typed walk: {args.messages:,} messages, 250 a page ({load})", flush=True)
    best = {"walk": 0.0, "export": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with fake_server("--messages", str(args.messages), "--page-cache-mb", "512") as server:
            asyncio.run(walk(server))  # fill the fake's page cache
            for round_ in range(args.rounds):
                for name in best:
                    out = directory / f"messages-{round_}.jsonl"
                    start = time.perf_counter()
                    if name == "export":
                        export(server, out)
                    else:
                        count = asyncio.run(walk(server))
                    seconds = time.perf_counter() - start
                    if name == "export":
                        count = lines(out)  # read back after the clock stops
                    if count != args.messages:
                        raise SystemExit(f"{name}: {count} items, expected {args.messages}")
                    best[name] = max(best[name], count / seconds)
                    out.unlink(missing_ok=True)
                    for sidecar in directory.glob(f"{out.name}.*"):
                        sidecar.unlink()
        small = peak_rss_mb(args.small, directory)
        large = peak_rss_mb(args.large, directory)
    per_page = {name: 250_000 / rate for name, rate in best.items()}
    print("  ms a page: " + ", ".join(f"{name} {ms:.2f}" for name, ms in per_page.items()))
    ratio = best["export"] / best["walk"]
    fast = ratio >= SPEED_TARGET
    flat = large / small <= MEMORY_TARGET
    speed = f"{best['export']:,.0f} / {best['walk']:,.0f} items/s = {ratio:.2f}"
    memory = f"{large:.1f} MB / {small:.1f} MB = {large / small:.2f}"
    print("\n| benchmark | measured | target | |\n|---|---|---|---|")
    print(
        f"| export items/s / typed walk items/s | {speed} | >= {SPEED_TARGET} | {verdict(fast)} |"
    )
    print(
        f"| export peak RSS, {args.large:,} / {args.small:,} messages | {memory} "
        f"| <= {MEMORY_TARGET:.2f} | {verdict(flat)} |"
    )
    print("(load {:.2f} {:.2f} {:.2f})".format(*os.getloadavg()))
    return 0 if fast and flat else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args, _unknown = parser.parse_known_args()  # nox passes its posargs to every script
    sys.exit(main(args))
