"""A watch catching up on 200,000 messages of backlog, in bounded memory (slow).

The fake server runs here; the watch runs in a child process that writes what it hands
out to a file as it goes, and its own peak RSS last: ``VmHWM`` of ``/proc/self/status``,
the high-water mark of the child's own memory since its ``exec``. (``ru_maxrss`` of the
child, from ``wait4``, would not do: Linux keeps in it the high-water mark of the memory
the child had before its ``exec``, a copy of this test runner's.) Messages added while it
catches up, newer than the backlog, must come out too. The bound checked is memory, not
time.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from postpress_async._time import from_ms
from postpress_async.testing import Dataset, FakePostpress

BACKLOG = 200_000
ARRIVING = 30
PEAK_RSS_MB = 150

#: The watcher: resumes from a moment before the backlog, hands out everything, writes
#: ``<ms> <id>`` a line, and one ``batch <n>`` line per batch, flushed as it goes.
CHILD = """
import asyncio, sys
from postpress_async import AsyncPostpress, PollPolicy
from postpress_async._time import to_ms

url, key, since, total, out = sys.argv[1:6]

async def main() -> None:
    policy = PollPolicy(interval=0.02, jitter=0.0, max_interval=0.05)
    async with AsyncPostpress(api_key=key, base_url=url) as client:
        stream = client.messages.watch(since=since, policy=policy, max_items=int(total))
        with open(out, "w") as lines:
            async for batch in stream.batches():
                lines.write(f"batch {len(batch)}\\n")
                lines.writelines(f"{to_ms(m.timestamp)} {m.id}\\n" for m in batch)

asyncio.run(main())
with open("/proc/self/status") as status, open(out, "a") as lines:
    lines.write(next(line for line in status if line.startswith("VmHWM:")))
"""


@pytest.mark.slow
async def test_a_watch_resumed_before_a_huge_backlog_hands_it_all_out_in_bounded_memory(
    tmp_path: Path,
) -> None:
    dataset = Dataset(seed=21, messages=BACKLOG)
    stamps = [dataset.message_row(i).timestamp_ms for i in range(BACKLOG)]
    oldest, newest = min(stamps), max(stamps)
    since = from_ms(oldest - 86_400_000).isoformat()  # a day before the backlog
    out = tmp_path / "handed.txt"
    async with FakePostpress(dataset=dataset) as server:
        total = str(BACKLOG + ARRIVING)
        command = [sys.executable, "-c", CHILD, server.url, server.api_key, since, total, str(out)]
        child = await anyio.to_thread.run_sync(subprocess.Popen, command)
        try:
            with anyio.fail_after(600):
                while server.stats.by_route["messages.list"] < 300:
                    assert child.poll() is None, "the watcher ended before it caught up"
                    await anyio.sleep(0.01)
                arrived = server.add_messages(
                    ARRIVING, timestamp=from_ms(newest) + timedelta(minutes=1)
                )
                await anyio.to_thread.run_sync(child.wait)
        finally:
            if child.returncode is None:
                child.kill()
                child.wait()
        truth = server.truth("messages")
    assert child.returncode == 0
    *lines, peak = out.read_text().splitlines()
    batches = [int(line.split()[1]) for line in lines if line.startswith("batch ")]
    handed = [line.split() for line in lines if not line.startswith("batch ")]
    assert max(batches) <= 100  # the default page
    places = [(int(at), key) for at, key in handed]
    assert places == sorted(places)  # oldest first, across every batch
    ids = [key for _, key in handed]
    assert len(ids) == BACKLOG + ARRIVING
    assert Counter(ids) == Counter(truth)  # every message once, the arrivals included
    assert set(arrived) <= set(ids)
    assert peak.startswith("VmHWM:") and peak.endswith(" kB")
    peak_mb = int(peak.split()[1]) / 1024
    assert peak_mb < PEAK_RSS_MB, f"the watcher peaked at {peak_mb:.0f} MB"
