"""The export job by a peer SDK: unipile-node-sdk against ``postpress export``, whole processes.

The fake server runs in its own process over ``--messages`` messages (200,000 by
default), 250 a page, serving from its page cache (the listing is walked once first to
fill it). The fake is API-compatible with Unipile's messaging API, so the same job can be
written with Unipile's own Node SDK:

* peer: ``node benchmarks/peers/unipile_export.mjs``: ``unipile-node-sdk`` 1.9.3 walks every
  message with its own list call and cursor (``client.messaging.getAllMessages({limit,
  cursor})``) and writes ``JSON.stringify(message) + "\\n"`` for each through a buffered
  write stream (no fsync, no checkpoint);
* ours: ``python -m postpress_async export messages --out FILE --limit 250 --quiet``
  (with the same Python: every group of pages appended, fsynced and checkpointed).

Each job is timed as a whole process (wall clock, start-up included), best of
``--rounds`` interleaved rounds, each into a fresh file whose lines are counted after the
clock stops (both must hold every message). Target: peer seconds / our seconds >= 5.
For information: each side's start-up alone (the interpreter plus the import), and
the CPU seconds of each job's process.

The SDK is installed on demand into ``benchmarks/peers/node_modules`` (git-ignored) with
``npm install``; without Node, npm or the package the script prints why and exits 0
("skipped"). Run: ``python benchmarks/bench_peers.py`` (``--messages 50000`` for a short
run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _fake import RunningServer, fake_server, verdict

from postpress_async import AsyncPostpress

PEERS = Path(__file__).resolve().parent / "peers"
SDK, SDK_VERSION = "unipile-node-sdk", "1.9.3"
PEER_SCRIPT = PEERS / "unipile_export.mjs"
TARGET = 5.0


@dataclass
class Job:
    name: str
    best: float = float("inf")  # wall seconds of the fastest round
    cpu: float = 0.0  # CPU seconds (user + system) of that round's process
    error: str | None = None


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args, _unknown = parser.parse_known_args()  # nox passes its posargs to every script
    return args


def _run(
    command: list[str], timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def installed_version() -> str | None:
    manifest = PEERS / "node_modules" / SDK / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def prepare_node() -> tuple[str, str] | str:
    """(node, its version) once the SDK is installed, else why the peer cannot run."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        return "node is not on PATH"
    try:
        version = _run([node, "--version"], 30).stdout.strip()
        if int(version.lstrip("v").split(".")[0]) < 18:
            return f"{SDK} needs Node 18 or later, this is {version}"
        if installed_version() == SDK_VERSION:
            return node, version
        if npm is None:
            return f"npm is not on PATH (needed to install {SDK}@{SDK_VERSION})"
        view = _run([npm, "view", f"{SDK}@{SDK_VERSION}", "version"], 120, cwd=PEERS)
        if view.returncode != 0 or view.stdout.strip() != SDK_VERSION:
            return f"npm cannot find {SDK}@{SDK_VERSION}: {_tail(view.stderr or view.stdout, 3)}"
        print(f"installing {SDK}@{SDK_VERSION} into {PEERS / 'node_modules'}", flush=True)
        install = _run([npm, "install", "--no-audit", "--no-fund"], 600, cwd=PEERS)
        if install.returncode != 0:
            return f"npm install failed: {_tail(install.stderr or install.stdout, 5)}"
    except (OSError, ValueError, subprocess.TimeoutExpired) as error:
        return f"cannot run node/npm: {error}"
    if installed_version() != SDK_VERSION:
        return f"npm install did not leave {SDK}@{SDK_VERSION} in {PEERS / 'node_modules'}"
    return node, version


async def fill_cache(server: RunningServer) -> int:
    count = 0
    async with AsyncPostpress(api_key=server.api_key, base_url=server.url, prefetch=4) as client:
        async for page in client.messages.list(limit=250).pages():
            count += len(page.items)
    return count


def lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b""))


def command(job: str, node: str, server: RunningServer, out: Path) -> list[str]:
    if job == "peer":
        return [node, str(PEER_SCRIPT), "--base-url", server.url, "--api-key", server.api_key,
                "--out", str(out), "--limit", "250"]  # fmt: skip
    return [sys.executable, "-m", "postpress_async", "export", "messages", "--out", str(out),
            "--limit", "250", "--quiet", "--api-key", server.api_key,
            "--base-url", server.url]  # fmt: skip


def time_once(job: Job, argv: list[str], out: Path, expected: int) -> None:
    """Run one round of `job` into the fresh file `out`; keep its best wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        done = _run(argv, 1800)
    except subprocess.TimeoutExpired:
        job.error = "did not finish within 30 minutes"
        return
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        job.error = f"exited {done.returncode}:\n{_tail(done.stderr or done.stdout, 20)}"
        return
    count = lines(out) if out.exists() else 0  # read back after the clock stops
    if count != expected:
        job.error = f"wrote {count:,} lines, expected {expected:,}"
        return
    if seconds < job.best:
        job.best = seconds
        job.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_startup(argv: list[str], runs: int = 3) -> float | None:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        if _run(argv, 120, cwd=PEERS).returncode != 0:
            return None
        best = min(best, time.perf_counter() - start)
    return best


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> int:
    args = parse()
    print(f"export job, peer SDK vs ours: {args.messages:,} messages, 250 a page ({load()})")
    ready = prepare_node()
    if isinstance(ready, str):
        print(f"  skipped: {ready}")
        return 0
    node, node_version = ready
    peer = Job(f"{SDK} {SDK_VERSION} (Node {node_version})")
    ours = Job("postpress export (Python {}.{})".format(*sys.version_info[:2]))
    with fake_server("--messages", str(args.messages), "--page-cache-mb", "512") as server:
        walked = asyncio.run(fill_cache(server))
        if walked != args.messages:
            raise SystemExit(f"the fake listed {walked:,} messages, expected {args.messages:,}")
        with tempfile.TemporaryDirectory(prefix="bench-peers-") as directory:
            for round_ in range(args.rounds):
                for key, job in (("peer", peer), ("ours", ours)):
                    if job.error is not None:
                        continue
                    out = Path(directory) / f"{key}-{round_}.jsonl"
                    time_once(job, command(key, node, server, out), out, args.messages)
                    for path in Path(directory).iterdir():  # the export's checkpoint too
                        path.unlink()
    startup = {
        "peer": best_startup([node, "--input-type=module", "-e", f"import '{SDK}'"]),
        "ours": best_startup([sys.executable, "-c", "import postpress_async.cli"]),
    }
    print("\n| job | best wall s | CPU s | messages/s | start-up alone s |\n|---|---|---|---|---|")
    for key, job in (("peer", peer), ("ours", ours)):
        up = startup[key]
        up_text = "?" if up is None else f"{up:.2f}"
        if job.error is not None:
            print(f"| {job.name} | n/a | | | {up_text} |")
        else:
            rate = args.messages / job.best
            print(f"| {job.name} | {job.best:.2f} | {job.cpu:.2f} | {rate:,.0f} | {up_text} |")
    for job in (peer, ours):
        if job.error is not None:
            print(f"\n{job.name} failed: {job.error}")
    print("\n| benchmark | measured | target | |\n|---|---|---|---|")
    code = 0
    if ours.error is not None:
        print(f"| peer s / our s | n/a (our export failed) | >= {TARGET:.0f}x | {verdict(False)} |")
        code = 1
    elif peer.error is not None:
        print(f"| peer s / our s | n/a (the peer job failed) | >= {TARGET:.0f}x | skipped |")
    else:
        ratio = peer.best / ours.best
        ok = ratio >= TARGET
        measured = f"{peer.best:.2f} s / {ours.best:.2f} s = {ratio:.2f}x"
        print(f"| peer s / our s | {measured} | >= {TARGET:.0f}x | {verdict(ok)} |")
        code = 0 if ok else 1
    print(f"({load()})")
    return code


if __name__ == "__main__":
    sys.exit(main())
