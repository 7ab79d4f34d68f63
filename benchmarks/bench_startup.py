"""Start-up: what ``import postpress_async`` and ``postpress --help`` cost a fresh process.

Each figure is the best of ``--runs`` fresh interpreters (noise only ever slows a run):

1. ``import postpress_async``, timed inside the interpreter around the import: <= 150 ms;
2. ``postpress --help``, the whole process, wall clock: <= 0.3 s.

For information: the same import with aiohttp imported first (what the SDK's import
cost while it imported aiohttp eagerly), and the largest imports by ``-X importtime``.
Run: ``python benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from _fake import verdict

TIMED_IMPORT = (
    "import time; start = time.perf_counter(); {before}import postpress_async; "
    "print(time.perf_counter() - start)"
)


def best_import(runs: int, before: str = "") -> float:
    code = TIMED_IMPORT.format(before=before)
    return min(
        float(
            subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(runs)
    )


def best_help(runs: int) -> float:
    script = os.path.join(os.path.dirname(sys.executable), "postpress")
    command = [script] if os.path.exists(script) else [sys.executable, "-m", "postpress_async"]
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*command, "--help"], check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def largest_imports(count: int) -> list[str]:
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import postpress_async"],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    rows = []
    for line in err.splitlines()[1:]:
        _, _self, cumulative, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
        rows.append((int(cumulative), name))
    return [f"{name} {us / 1000:.1f} ms" for us, name in sorted(rows, reverse=True)[:count]]


def main(args: argparse.Namespace) -> int:
    load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    print(f"start-up, best of {args.runs} fresh processes ({load})", flush=True)
    sdk = best_import(args.runs)
    eager = best_import(args.runs, before="import aiohttp; ")
    cli = best_help(args.runs)
    rows = [
        ("import postpress_async", f"{sdk * 1000:.0f} ms", "<= 150 ms", sdk <= 0.15),
        ("postpress --help (whole process)", f"{cli:.2f} s", "<= 0.30 s", cli <= 0.3),
    ]
    for name, measured, target, ok in rows:
        print(f"  {name}: {measured}  [{target}] {verdict(ok)}")
    print(f"  (aiohttp imported first, as 0.1 did: {eager * 1000:.0f} ms)")
    print("  largest imports: " + ", ".join(largest_imports(4)))
    print("\n| benchmark | measured | target | |\n|---|---|---|---|")
    for name, measured, target, ok in rows:
        print(f"| {name} | {measured} | {target} | {verdict(ok)} |")
    print("(load {:.2f} {:.2f} {:.2f})".format(*os.getloadavg()))
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    sys.exit(main(parser.parse_args()))
