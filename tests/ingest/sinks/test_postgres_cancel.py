"""A PostgreSQL sink whose open() is cancelled mid-connect (Ctrl-C at the start of an
export) leaves nothing behind: no connection, no future whose error nobody reads
(asyncpg cut off mid-handshake logs 'Future exception was never retrieved')."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from postpress_async.ingest.sinks.postgres import PostgresSink

from ._sql import asyncpg_or_skip


@pytest.mark.slow
async def test_an_open_cancelled_mid_connect_leaves_no_unread_error(pg_url: str) -> None:
    asyncpg_or_skip()
    ready = PostgresSink(pg_url)  # the schema made once: later opens only connect
    await ready.open()
    await ready.close()
    loop = asyncio.get_running_loop()
    unread: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unread.append(context))
    try:
        cancelled = 0
        for step in range(25):
            sink = PostgresSink(pg_url)
            task = asyncio.ensure_future(sink.open())
            await asyncio.sleep(step / 2000)  # 0 to 12 ms: inside the handshake, mostly
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled += 1
            else:
                await sink.close()
            gc.collect()
            await asyncio.sleep(0.005)
        gc.collect()
        await asyncio.sleep(0.05)
    finally:
        loop.set_exception_handler(previous)
    assert cancelled > 0
    assert [c.get("message") for c in unread] == []
