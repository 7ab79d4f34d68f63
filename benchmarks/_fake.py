"""Run the embedded fake server in a separate process, so it never shares the
benchmarked client's event loop or core accounting."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

READY_PREFIX = "postpress fake server listening on "


@dataclass(frozen=True)
class RunningServer:
    url: str
    api_key: str


@contextlib.contextmanager
def fake_server(*args: str) -> Iterator[RunningServer]:
    """``python -m postpress_async.testing --port 0 ARGS``; yields its URL and key."""
    process = subprocess.Popen(
        [sys.executable, "-m", "postpress_async.testing", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith(READY_PREFIX):
            raise RuntimeError(f"fake server did not start: {line!r}")
        url, _, rest = line[len(READY_PREFIX) :].partition(" (api key: ")
        yield RunningServer(url=url.strip(), api_key=rest.rstrip(")\n"))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def walk(server: RunningServer) -> int:
    """The typed walk the exports are measured against: ``async for`` over every message
    (250 a page, prefetch 4), each decoded into a full ``Message``, then dropped."""
    from postpress_async import AsyncPostpress

    count = 0
    async with AsyncPostpress(api_key=server.api_key, base_url=server.url, prefetch=4) as client:
        async for _message in client.messages.list(limit=250):
            count += 1
    return count
