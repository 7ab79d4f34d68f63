"""The one way the SDK runs work in the background: a task its owner must reap.

Streams hand out items from async generators, and an anyio task group must never span
a ``yield`` there, so a stream owns its background task directly. These helpers keep
that ownership uniform: start the task in the running loop, and on close cancel it and
wait for its end, shielded, so a caller being cancelled still leaves nothing running.
"""

from __future__ import annotations

from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

import anyio

from ._lazy import asyncio

__all__ = ["AsyncClosing", "reap", "start"]

_Self = TypeVar("_Self", bound="AsyncClosing")


def start(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run ``work`` as a task of the running loop; the caller must :func:`reap` it."""
    return asyncio.get_running_loop().create_task(work)


async def reap(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    with anyio.CancelScope(shield=True):
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # background work hands its errors over; mark any stray one seen


class AsyncClosing:
    """``async with obj:`` calls ``await obj.aclose()`` at exit."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
