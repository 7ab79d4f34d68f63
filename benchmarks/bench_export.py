"""The export path against a plain walk: what writing, fsync and checkpoints cost.

The fake server runs in its own process serving cached 250-message pages. Over the same
messages this measures the items/s of

* a plain ``async for`` walk (``client.messages.list(limit=250)``, prefetch 4 as the
  export uses), the items dropped;
* the same walk encoding each page's JSON lines (``encode_json_lines``) and writing
  nothing: the export's ceiling on this machine, for reference (no target);
* ``postpress export messages --limit 250`` to a JSON lines file, run in this process
  through the CLI's ``main``: every page encoded and queued for the writer thread, which
  appends, fsyncs, then replaces the checkpoint atomically (temp file, fsync, rename,
  fsync of the directory), one fsync and one checkpoint a group when it falls behind.

Every export round writes a new file (the previous round's is removed before the clock
starts, so ``--force`` never pays for truncating it: that is a one-off cost of reusing a
path, not of the export's throughput), and its lines are counted after the clock stops. Check: export items/s >= 0.8 x the plain walk's.
Best of ``--rounds`` interleaved rounds. Run: ``python benchmarks/bench_export.py``.
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

from postpress_async import AsyncPostpress, encode_json_lines
from postpress_async.cli import main as postpress


async def walk(server: RunningServer) -> int:
    count = 0
    async with AsyncPostpress(api_key=server.api_key, base_url=server.url, prefetch=4) as client:
        async for _message in client.messages.list(limit=250):
            count += 1
    return count


async def walk_encoding(server: RunningServer) -> int:
    count = 0
    async with AsyncPostpress(api_key=server.api_key, base_url=server.url, prefetch=4) as client:
        async for page in client.messages.list(limit=250).pages():
            encode_json_lines(page.items)
            count += len(page.items)
    return count


def export(server: RunningServer, out: Path) -> None:
    argv = ["export", "messages", "--out", str(out), "--limit", "250", "--force", "--quiet"]
    argv += ["--api-key", server.api_key, "--base-url", server.url]
    code = postpress(argv)
    if code != 0:
        raise SystemExit(f"postpress export exited {code}")


def lines(out: Path) -> int:
    with out.open("rb") as file:
        return sum(1 for _ in file)


def main(args: argparse.Namespace) -> int:
    load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    print(f"export vs plain walk: {args.messages:,} messages, 250 a page ({load})", flush=True)
    best = {"walk": 0.0, "walk + encode": 0.0, "export": 0.0}
    with fake_server("--messages", str(args.messages), "--page-cache-mb", "512") as server:
        asyncio.run(walk(server))  # fill the fake's page cache
        with tempfile.TemporaryDirectory() as directory:
            for round_ in range(args.rounds):
                for name in best:
                    out = Path(directory) / f"messages-{round_}.jsonl"
                    start = time.perf_counter()
                    if name == "export":
                        export(server, out)
                    else:
                        count = asyncio.run((walk if name == "walk" else walk_encoding)(server))
                    seconds = time.perf_counter() - start
                    if name == "export":
                        count = lines(out)  # read back after the clock stops
                    if count != args.messages:
                        raise SystemExit(f"{name}: {count} items, expected {args.messages}")
                    best[name] = max(best[name], count / seconds)
                    out.unlink(missing_ok=True)
    per_page = {name: 250_000 / rate for name, rate in best.items()}
    print(
        "  ms a page: "
        + ", ".join(f"{name} {ms:.2f}" for name, ms in per_page.items())
        + f" (export - walk: {per_page['export'] - per_page['walk']:.2f})"
    )
    ceiling = best["walk + encode"] / best["walk"]
    print(f"  walk + encode (no writes) items/s / walk items/s: {ceiling:.2f}")
    ratio = best["export"] / best["walk"]
    ok = ratio >= 0.8
    measured = f"{best['export']:,.0f} / {best['walk']:,.0f} items/s = {ratio:.2f}"
    print(f"  export items/s / walk items/s: {measured}  [>= 0.80] {verdict(ok)}")
    print("\n| benchmark | measured | target | |\n|---|---|---|---|")
    print(f"| export items/s / walk items/s | {measured} | >= 0.80 | {verdict(ok)} |")
    print(f"| walk + encode (no writes) items/s / walk items/s | {ceiling:.2f} | | |")
    print("(load {:.2f} {:.2f} {:.2f})".format(*os.getloadavg()))
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    sys.exit(main(parser.parse_args()))
