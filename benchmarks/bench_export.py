"""The export path against a plain walk: what writing, fsync and checkpoints cost.

The fake server runs in its own process serving cached 250-message pages. Over the same
messages this measures the items/s of

* a plain ``async for`` walk (``client.messages.list(limit=250)``, prefetch 4 as the
  export uses), the items dropped;
* ``postpress export messages --limit 250`` to a JSON lines file, run in this process
  through the CLI's ``main``: every page encoded, appended, fsynced, then the
  checkpoint replaced atomically (temp file, fsync, rename, fsync of the directory).

Check: export items/s >= 0.8 x the plain walk's. Best of ``--rounds`` interleaved
rounds. Run: ``python benchmarks/bench_export.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from _fake import RunningServer, fake_server, verdict

from postpress_async import AsyncPostpress
from postpress_async.cli import main as postpress


async def walk(server: RunningServer) -> int:
    count = 0
    async with AsyncPostpress(api_key=server.api_key, base_url=server.url, prefetch=4) as client:
        async for _message in client.messages.list(limit=250):
            count += 1
    return count


def export(server: RunningServer, out: Path) -> int:
    argv = ["export", "messages", "--out", str(out), "--limit", "250", "--force", "--quiet"]
    argv += ["--api-key", server.api_key, "--base-url", server.url]
    code = postpress(argv)
    if code != 0:
        raise SystemExit(f"postpress export exited {code}")
    with out.open("rb") as file:
        return sum(1 for _ in file)


def main(args: argparse.Namespace) -> int:
    load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    print(f"export vs plain walk: {args.messages:,} messages, 250 a page ({load})", flush=True)
    best = {"walk": 0.0, "export": 0.0}
    with fake_server("--messages", str(args.messages), "--page-cache-mb", "512") as server:
        asyncio.run(walk(server))  # fill the fake's page cache
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "messages.jsonl"
            for _ in range(args.rounds):
                for name in best:
                    start = time.perf_counter()
                    count = asyncio.run(walk(server)) if name == "walk" else export(server, out)
                    seconds = time.perf_counter() - start
                    if count != args.messages:
                        raise SystemExit(f"{name}: {count} items, expected {args.messages}")
                    best[name] = max(best[name], count / seconds)
    ratio = best["export"] / best["walk"]
    ok = ratio >= 0.8
    measured = f"{best['export']:,.0f} / {best['walk']:,.0f} items/s = {ratio:.2f}"
    print(f"  export items/s / walk items/s: {measured}  [>= 0.80] {verdict(ok)}")
    print("\n| benchmark | measured | target | |\n|---|---|---|---|")
    print(f"| export items/s / walk items/s | {measured} | >= 0.80 | {verdict(ok)} |")
    print("(load {:.2f} {:.2f} {:.2f})".format(*os.getloadavg()))
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    sys.exit(main(parser.parse_args()))
