"""``postpress demo``: export a fake dataset through injected faults, run it again, verify it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from postpress_async._params import MAX_SHARDS
from postpress_async.cli._parser import CommandTable
from postpress_async.cli._values import positive, rate, seconds

if TYPE_CHECKING:
    from postpress_async.cli._context import Context

__all__ = ["register", "run"]


def register(table: CommandTable) -> None:
    """``demo``: it runs its own fake server, so it takes no connection or ``--fake`` options."""
    parser = table.add(
        "demo",
        run,
        "export a fake dataset with injected faults, and check every message arrived once",
        takes=(),
        examples=(
            "postpress demo",
            "postpress demo --messages 100000 --fault-rate 0.1 --out demo.jsonl",
        ),
    )
    parser.add_argument(
        "--messages",
        type=positive,
        default=20_000,
        metavar="N",
        help="messages in the fake dataset (default: 20000)",
    )
    parser.add_argument(
        "--seed", "--fake-seed", type=int, default=1, metavar="N", help="dataset seed (default: 1)"
    )
    parser.add_argument("--out", metavar="FILE", help="keep the export here (default: a temp file)")
    parser.add_argument(
        "--shards",
        "--windows",
        type=positive,
        default=4,
        metavar="N",
        help=f"shards fetched at once, at most {MAX_SHARDS:,} (default: 4; --windows is its "
        "old name)",
    )
    parser.add_argument(
        "--fault-rate",
        type=rate,
        default=0.03,
        metavar="RATE",
        help="share of requests the fake fails with a retryable 503/504/500/429 (default: 0.03)",
    )
    parser.add_argument(
        "--latency",
        type=seconds,
        default=0.005,
        metavar="SECONDS",
        help="delay the fake adds to every request (default: 0.005)",
    )


async def run(args: argparse.Namespace, ctx: Context) -> None:
    """Run the demo with the options given."""
    from postpress_async.cli._demo import run_demo  # the fake server: only when demo runs

    await run_demo(
        seed=args.seed,
        messages=args.messages,
        shards=args.shards,
        fault_rate=args.fault_rate,
        latency=args.latency,
        out=None if args.out is None else Path(args.out),
    )
