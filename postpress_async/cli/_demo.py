"""``postpress demo``: a real export from the embedded fake server, checked against ground truth.

It runs the same code as ``postpress export messages --windows N`` against a fake
with latency and a few percent of retryable faults, then reads the file back and
compares its ids with the dataset's own list: every message exactly once.
"""

from __future__ import annotations

import collections
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TextIO

import msgspec

from postpress_async import AsyncPostpress
from postpress_async.testing import Dataset, fake_identity, fake_server

from ._errors import CommandError, UsageError
from ._export import ExportOptions, run_export
from ._progress import format_rate, format_retries

__all__ = ["Verdict", "run_demo", "verify_ids"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_PAGE_SIZE = 200


class _Id(msgspec.Struct):
    id: str


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """How an exported file compares with the ids it should hold."""

    expected: int
    lines: int
    missing: int
    duplicated: int
    unexpected: int
    unreadable: int

    @property
    def ok(self) -> bool:
        """Every expected id exactly once, and nothing else."""
        return self.lines == self.expected and not (
            self.missing or self.duplicated or self.unexpected or self.unreadable
        )


def verify_ids(path: Path, expected: list[str]) -> Verdict:
    """Read ``path`` (JSON lines) and compare its ids with ``expected``."""
    decoder = msgspec.json.Decoder(_Id)
    seen: collections.Counter[str] = collections.Counter()
    lines = unreadable = 0
    with open(path, "rb") as file:
        for line in file:
            lines += 1
            try:
                seen[decoder.decode(line).id] += 1
            except msgspec.DecodeError:
                unreadable += 1
    return _compare(seen, expected, lines, unreadable)


def _compare(
    seen: collections.Counter[str], expected: list[str], lines: int, unreadable: int
) -> Verdict:
    want = set(expected)
    return Verdict(
        expected=len(expected),
        lines=lines,
        missing=sum(1 for item in want if item not in seen),
        duplicated=sum(count - 1 for count in seen.values() if count > 1),
        unexpected=sum(1 for item in seen if item not in want),
        unreadable=unreadable,
    )


def _moment(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _span(dataset: Dataset) -> tuple[datetime, datetime]:
    """Strict bounds just outside the oldest and newest message."""
    oldest = dataset.message_timestamp_ms(dataset.message_count - 1)
    newest = dataset.message_timestamp_ms(0)
    return _moment(oldest - 1), _moment(newest + 1)


async def run_demo(
    *,
    seed: int,
    messages: int,
    windows: int,
    fault_rate: float,
    latency: float,
    out: Path | None = None,
    report: TextIO = sys.stdout,
) -> None:
    """Export a fake dataset through injected faults and print what it took."""
    target = out
    if target is not None and target.exists() and target.stat().st_size:
        raise UsageError(f"{target} already exists and is not empty: choose another --out")
    server = fake_server(
        seed=seed,
        messages=messages,
        latency=latency,
        fault_rate=fault_rate,
    )
    dataset = server.dataset
    after, before = _span(dataset)
    with tempfile.TemporaryDirectory(prefix="postpress-demo-") as scratch:
        path = target or Path(scratch) / "messages.jsonl"
        async with (
            server,
            AsyncPostpress(api_key=server.api_key, base_url=server.url) as client,
        ):
            options = ExportOptions(
                resource="messages",
                out=path,
                filters={"after": after, "before": before},
                source=fake_identity(dataset),
                windows=windows,
                limit=_PAGE_SIZE,
                prefetch=2,
                progress=None,
                summary=False,
            )
            started = time.monotonic()
            result = await run_export(client, options, sys.stderr)
            elapsed = time.monotonic() - started
            stats = client.stats()
            injected = sum(server.stats.faults.values())
        verdict = verify_ids(path, dataset.expected_message_ids())
        size = path.stat().st_size
        kept = f"{path}" if target else "a temporary file, now deleted (keep it with --out FILE)"
        cfg = dataset.config
        lines = [
            "postpress demo: an export from the embedded fake server, through injected faults",
            "",
            f"  dataset    {cfg.messages:,} messages in {cfg.chats:,} chats of "
            f"{cfg.accounts} accounts (seed {cfg.seed})",
            f"  faults     {fault_rate:.0%} of requests fail with retryable 503/504/500/429; "
            f"{latency * 1000:.0f} ms latency",
            f"  export     {windows} time windows at once, {_PAGE_SIZE} messages a page",
            f"  items      {result.items:,} messages ({size / 1e6:.1f} MB of JSON lines)",
            f"  pages      {result.pages:,}",
            f"  requests   {stats.requests:,} ({injected:,} failed on purpose by the server)",
            f"  retries    {format_retries(stats.retries)}",
            f"  elapsed    {elapsed:.2f} s ({format_rate(result.items, elapsed)})",
            f"  verified   {_verdict_text(verdict)}",
            f"  output     {kept}",
        ]
        print("\n".join(lines), file=report)
    if not verdict.ok:
        raise CommandError(f"the export does not match the dataset: {_verdict_text(verdict)}")


def _verdict_text(verdict: Verdict) -> str:
    if verdict.ok:
        return (
            f"OK: every message arrived exactly once ({verdict.lines:,} lines = "
            f"{verdict.expected:,} ids of the dataset; 0 missing, 0 duplicated, 0 unexpected)"
        )
    return (
        f"FAILED: {verdict.lines:,} lines for {verdict.expected:,} ids; {verdict.missing:,} "
        f"missing, {verdict.duplicated:,} duplicated, {verdict.unexpected:,} unexpected, "
        f"{verdict.unreadable:,} unreadable"
    )
