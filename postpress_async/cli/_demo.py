"""``postpress demo``: a real export from the embedded fake server, checked against ground truth.

It runs what ``postpress export messages --out FILE --shards N`` runs
(:func:`postpress_async.ingest.ingest` into a JSON lines file) against a fake with
latency and a few percent of retryable faults, stops it half-way (a cancellation, as
Ctrl-C), runs it again until done (every shard continues from its committed position),
once more (nothing new), then reads the file back and compares its ids with the
dataset's own list: every message exactly once.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TextIO

import anyio
import msgspec

from postpress_async.ingest import ClientConfig, IngestResult, ingest
from postpress_async.ingest._run import IngestProgress
from postpress_async.testing import fake_server

from ._errors import CommandError, UsageError
from ._progress import Line, format_rate, is_terminal

__all__ = ["Verdict", "faults_text", "run_demo", "verify_ids"]

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
    want = set(expected)
    return Verdict(
        expected=len(expected),
        lines=lines,
        missing=sum(1 for item in want if item not in seen),
        duplicated=sum(count - 1 for count in seen.values() if count > 1),
        unexpected=sum(1 for item in seen if item not in want),
        unreadable=unreadable,
    )


async def run_demo(
    *,
    seed: int,
    messages: int,
    shards: int,
    fault_rate: float,
    latency: float,
    out: Path | None = None,
    report: TextIO | None = None,
    err: TextIO | None = None,
) -> None:
    """Export a fake dataset through injected faults, stopped half-way and run again until
    done, then once more; check the file against the dataset and print what it took.

    ``report`` and ``err`` default to ``sys.stdout`` and ``sys.stderr`` as they are when
    it runs."""
    report = sys.stdout if report is None else report
    err = sys.stderr if err is None else err
    target = out
    if target is not None and target.exists() and target.stat().st_size:
        raise UsageError(f"{target} already exists and is not empty: choose another --out")
    server = fake_server(seed=seed, messages=messages, latency=latency, fault_rate=fault_rate)
    dataset = server.dataset
    with tempfile.TemporaryDirectory(prefix="postpress-demo-") as scratch:
        path = target or Path(scratch) / "messages.jsonl"
        async with server:
            config = ClientConfig(
                base_url=server.url, api_key=server.api_key, limit=_PAGE_SIZE, prefetch=2
            )

            async def export(progress: IngestProgress | None = None) -> IngestResult:
                return await ingest(
                    config, "messages", str(path), shards=shards, by="time", progress=progress
                )

            progress = IngestProgress(noun="messages")
            line = Line(err, progress.text, enabled=is_terminal(err))
            started = time.monotonic()
            try:
                first = await _stopped_at(export(progress), progress, messages // 2)
            finally:
                line.close()
            stopped = progress.items
            resumed = first if first is not None else await export(progress)
            elapsed = time.monotonic() - started
            # Each run counts from zero on the progress they share: the whole export is
            # what the stopped run stored and what the resumed one added.
            items = resumed.items if first is not None else stopped + resumed.items
            requests = server.stats.requests
            injected = sum(server.stats.faults.values())
            again = await export()
        verdict = verify_ids(path, dataset.expected_message_ids())
        size = path.stat().st_size
        kept = f"{path}" if target else "a temporary file, now deleted (keep it with --out FILE)"
        cfg = dataset.config
        lines = [
            "postpress demo: an export from the embedded fake server, through injected faults",
            "",
            f"  dataset    {cfg.messages:,} messages in {cfg.chats:,} chats of "
            f"{cfg.accounts} accounts (seed {cfg.seed})",
            f"  faults     {faults_text(fault_rate, latency)}",
            f"  export     {_shards(resumed)} shards at once, {_PAGE_SIZE} messages a page, "
            "each page committed with its shard's position",
        ]
        if first is None:
            lines += [
                f"  stopped    at {stopped:,} messages stored, as Ctrl-C or kill -9 would stop it",
                f"  resumed    the same export again: {resumed.items:,} more messages, from where "
                "each shard stopped",
            ]
        lines += [
            f"  items      {items:,} messages ({size / 1e6:.1f} MB of JSON lines)",
            f"  requests   {requests:,}, of which {injected:,} failed on purpose by the server "
            "and were retried",
            f"  elapsed    {elapsed:.2f} s ({format_rate(items, elapsed)})",
            f"  again      the same export once more: {again.new or 0:,} new messages "
            "(a re-run continues, it never repeats)",
            f"  verified   {_verdict_text(verdict)}",
            f"  output     {kept}",
        ]
        print("\n".join(lines), file=report)
    if not verdict.ok:
        raise CommandError(f"the export does not match the dataset: {_verdict_text(verdict)}")


async def _stopped_at(
    job: Coroutine[Any, Any, IngestResult], progress: IngestProgress, items: int
) -> IngestResult | None:
    """Run ``job``, cancelled once ``progress`` counts ``items`` stored; ``None`` if it was."""
    scope = anyio.CancelScope()

    async def stop() -> None:
        # The counters have no event to wait on; a poll every 5 ms costs nothing here.
        while progress.items < items:  # noqa: ASYNC110
            await anyio.sleep(0.005)
        scope.cancel()

    stopper = asyncio.get_running_loop().create_task(stop())
    try:
        with scope:
            return await job
        return None
    finally:
        stopper.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait([stopper])


def faults_text(fault_rate: float, latency: float) -> str:
    """The faults the demo's server injects, as given (``0.005`` is 0.5 %, not a rounded 0 %)."""
    faults = (
        f"{fault_rate * 100:g}% of requests fail with retryable 503/504/500/429"
        if fault_rate
        else "no faults injected"
    )
    return f"{faults}; {f'{latency * 1000:g} ms latency' if latency else 'no latency'}"


def _shards(result: IngestResult) -> int:
    return 0 if result.plan is None else len(result.plan.shards)


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
