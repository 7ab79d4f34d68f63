"""Awaiting what must not be cut off halfway (a Dask cluster starting or closing)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import anyio

__all__ = ["GaveUp", "to_the_end"]

T = TypeVar("T")


class GaveUp(TimeoutError):
    """:func:`to_the_end` gave up waiting (told apart from a timeout of what it awaited)."""


async def to_the_end(aw: Awaitable[T], *, timeout: float) -> T:
    """Await ``aw`` to its end, even if this task is cancelled meanwhile (the
    cancellation is raised after it); give up (cancel it) after ``timeout`` seconds."""
    task: asyncio.Future[T] = asyncio.ensure_future(aw)
    cancelled = False
    with anyio.CancelScope(shield=True):  # anyio's cancellation waits outside
        deadline = anyio.current_time() + timeout
        while not task.done() and (left := deadline - anyio.current_time()) > 0:
            cancelled |= await _cancelled_while_waiting(task, left)
    if not task.done():
        task.cancel()
        raise GaveUp(f"gave up after {timeout:.0f} s")
    if cancelled:
        task.exception()  # retrieved: the cancellation wins
        raise asyncio.CancelledError
    return task.result()


async def _cancelled_while_waiting(task: asyncio.Future[Any], timeout: float) -> bool:
    """Wait for ``task`` (at most ``timeout`` s); True if this task was cancelled meanwhile
    (asyncio's own ``task.cancel()``: anyio's waits outside the shield)."""
    try:
        await asyncio.wait([task], timeout=timeout)
    except asyncio.CancelledError:
        return True
    return False
