"""What a process that runs for days does to a watch and a follow: nothing grows (slow).

A bot's watch and a store's follow poll the fake server thousands of times with no
wait between polls, while messages trickle in and the server restarts once on the same
port (a deploy). Between an early sample and the last one, neither the SDK's own
memory (tracemalloc, the allocations made by ``postpress_async`` outside its fake
server, which grows with every message added), nor the asyncio tasks, nor the open
file descriptors may grow; every message added is handed out (or stored) once. The
bounds are memory and counts, never time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from postpress_async import APIConnectionError, AsyncPostpress, PollPolicy
from postpress_async.ingest import ClientConfig, ingest, verify
from postpress_async.testing import Dataset, FakePostpress

#: No wait between polls: what days of a default policy do, in a minute.
BUSY = PollPolicy(interval=0.0001, jitter=0.0, idle_backoff=1.0, max_interval=0.0001, overlap=1.0)
#: The SDK's own allocations may differ by this much between the two samples: what
#: bounded caches hold (yarl's of URLs, a new one each time the floor moves) and what is
#: in flight. A leak of 50 bytes a poll is 150 KiB over the polls between them.
GROWTH_BYTES = 128 * 1024
#: Tasks and descriptors that may be in flight at a sample (the fake's request handler
#: and its connection run in this loop too).
IN_FLIGHT = 2
SDK = [
    tracemalloc.Filter(True, "*/postpress_async/*"),
    tracemalloc.Filter(False, "*/postpress_async/testing/*"),
]


class Sample:
    """The SDK's traced bytes, the tasks and the file descriptors at one moment."""

    def __init__(self) -> None:
        gc.collect()
        traces = tracemalloc.take_snapshot().filter_traces(SDK)
        self.sdk_bytes = sum(stat.size for stat in traces.statistics("filename"))
        self.tasks = len(asyncio.all_tasks())
        self.fds = len(os.listdir("/proc/self/fd"))

    def __repr__(self) -> str:
        return f"Sample(sdk_bytes={self.sdk_bytes}, tasks={self.tasks}, fds={self.fds})"


async def drive(
    server: FakePostpress, requests: int, *, restart_at: int, every: int
) -> tuple[list[str], Sample, Sample]:
    """Add a message every ``every`` listings, restart the server once, and sample the
    process early and after ``requests`` listings; the ids added."""
    added: list[str] = []
    early: Sample | None = None
    restarted = False
    last = 0
    with anyio.fail_after(600):
        while True:
            await anyio.sleep(0.001)
            done = server.stats.by_route["messages.list"]
            if done // every > last // every:
                added += server.add_messages(1)
            last = done
            if early is None and done >= requests // 5:
                early = Sample()
            if not restarted and done >= restart_at:
                restarted = True
                await server.aclose()  # a deploy: refused connections for a moment
                await anyio.sleep(0.2)
                await server.start()
            if done >= requests:
                break
    assert early is not None
    return added, early, Sample()


def assert_nothing_grew(early: Sample, late: Sample) -> None:
    assert late.tasks <= early.tasks + IN_FLIGHT, (early, late)
    assert late.fds <= early.fds + IN_FLIGHT, (early, late)
    assert late.sdk_bytes - early.sdk_bytes < GROWTH_BYTES, (early, late)


async def run_until(
    work: Callable[[], Awaitable[object]], drive_it: Callable[[], Awaitable[None]]
) -> None:
    async with anyio.create_task_group() as group:
        group.start_soon(work)
        await drive_it()
        group.cancel_scope.cancel()


@pytest.mark.slow
async def test_a_watch_polled_for_days_grows_nothing_and_loses_nothing() -> None:
    """A bot's loop: a failure that outlived the retries (the restart) resumes from
    ``stream.state``, as the README says."""
    tracemalloc.start()
    try:
        async with FakePostpress(dataset=Dataset(seed=31, messages=200)) as server:
            async with AsyncPostpress(api_key=server.api_key, base_url=server.url) as client:
                streams = [client.messages.watch(policy=BUSY)]
                got: list[str] = []
                result: dict[str, tuple[list[str], Sample, Sample]] = {}

                async def watch() -> None:
                    while True:
                        stream = streams[-1]
                        try:
                            async with stream:
                                async for message in stream:
                                    got.append(message.id)
                        except APIConnectionError:
                            streams.append(client.messages.watch(policy=BUSY, since=stream.state))

                async def drive_it() -> None:
                    with anyio.fail_after(60):
                        while not streams[0].polls:  # noqa: ASYNC110 - "now" resolved first
                            await anyio.sleep(0.001)
                    result["run"] = added, _, _ = await drive(
                        server, 5_000, restart_at=2_500, every=50
                    )
                    with anyio.fail_after(60):  # the last ones added are handed out
                        while not set(added) <= set(got):  # noqa: ASYNC110 - bounded
                            await anyio.sleep(0.001)

                await run_until(watch, drive_it)
    finally:
        tracemalloc.stop()
    added, early, late = result["run"]
    assert Counter(got) == Counter(added)
    assert_nothing_grew(early, late)
    assert len(streams[-1].state.seen) < 10  # the ids of one overlap window


@pytest.mark.slow
async def test_a_follow_into_sqlite_polled_for_days_grows_nothing_and_loses_nothing(
    tmp_path: Path,
) -> None:
    """A service's loop: an ingest that ended on the restart is called again, and
    continues from the store."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    tracemalloc.start()
    try:
        async with FakePostpress(dataset=Dataset(seed=32, messages=300)) as server:
            config = ClientConfig(base_url=server.url, api_key=server.api_key)
            result: dict[str, tuple[list[str], Sample, Sample]] = {}

            async def follow() -> None:
                while True:
                    with contextlib.suppress(APIConnectionError):
                        await ingest(config, "messages", url, follow=True, policy=BUSY)

            async def drive_it() -> None:
                result["run"] = await drive(server, 3_000, restart_at=1_500, every=40)

            await run_until(follow, drive_it)
            await ingest(config, "messages", url)  # what the cancel left: none, or a batch
            report = await verify(config, "messages", url)
    finally:
        tracemalloc.stop()
    added, early, late = result["run"]
    assert added
    assert report.ok, report.text()  # the backfill and every message added, once
    assert_nothing_grew(early, late)
