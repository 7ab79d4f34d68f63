"""The one way the SDK runs work in the background: a task its owner must reap.

Streams hand out items from async generators, and an anyio task group must never span
a ``yield`` there, so a stream owns its background task directly. These helpers keep
that ownership uniform: start the task in the running loop, and on close cancel it and
wait for its end, shielded, so a caller being cancelled still leaves nothing running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any, ClassVar, Generic, NoReturn, TypeVar

import anyio

from ._exceptions import EventLoopError
from ._lazy import asyncio

__all__ = [
    "AsyncClosing",
    "SingleUse",
    "first_error",
    "gather",
    "raise_crash",
    "raise_unchained",
    "reap",
    "running_loop",
    "start",
]

_Self = TypeVar("_Self", bound="AsyncClosing")
T = TypeVar("T")


def running_loop() -> asyncio.AbstractEventLoop:
    """The running asyncio loop; under another async library (trio), an
    :class:`EventLoopError` saying the SDK runs on asyncio, not ``no running event loop``."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise EventLoopError(
            "postpress-async runs on asyncio (aiohttp), and no asyncio event loop is "
            "running here: under trio, run this code on asyncio (anyio.run(main, "
            "backend='asyncio'); with anyio's pytest plugin, an anyio_backend fixture "
            "that returns 'asyncio')"
        ) from None


def start(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run ``work`` as a task of the running loop; the caller must :func:`reap` it."""
    try:
        loop = running_loop()
    except EventLoopError:
        work.close()  # never to run: no "coroutine was never awaited" besides the error
        raise
    return loop.create_task(work)


async def reap(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    with anyio.CancelScope(shield=True):
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # background work hands its errors over; mark any stray one seen


def raise_crash(task: asyncio.Task[None] | None) -> None:
    """Raise what ``task`` ended with, if it ended by an error it could not hand over.

    Background work hands its ``Exception``s over in order; a ``BaseException`` that is
    not a cancellation kills it instead. A stream it fed then sees its end, and must
    raise that error rather than end as if complete (a ``prefetch=0`` walk raises it).
    """
    if task is not None and task.done() and not task.cancelled():
        error = task.exception()
        if error is not None:
            raise first_error(error)


def raise_unchained(error: BaseException) -> NoReturn:
    """Raise ``error`` with the ``__context__`` it has, none gained on the way.

    An error raised after its handler ended gains no context under asyncio's C Task; but
    the pure-Python Task (pytest-asyncio's runner on Python 3.10, a loop whose task
    factory makes one) resumes a coroutine inside its own ``except``, so what it was
    handling was chained: aiohttp's error, which can hold the request's headers and with
    them the API key. The ``finally`` puts the context back as it was.
    """
    context = error.__context__
    try:
        raise error
    finally:
        error.__context__ = context


def first_error(error: BaseException) -> BaseException:
    """The first error inside (nested) exception groups, or ``error`` itself.

    A task group raises an ``ExceptionGroup`` even for one failed task; the SDK's callers
    get the typed error that failed (a ``ServiceUnavailableError``...), never the group.
    """
    while True:  # duck-typed: BaseExceptionGroup is a builtin only from Python 3.11
        inner = getattr(error, "exceptions", None)
        if not isinstance(inner, tuple) or not inner:
            return error
        error = inner[0]


async def gather(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run ``calls`` concurrently in a task group; their results in order.

    The first failure cancels the others and is raised as itself (:func:`first_error`),
    never wrapped in an exception group; cancellation from outside stays cancellation.
    """
    results: list[Any] = [None] * len(calls)

    async def one(index: int) -> None:
        results[index] = await calls[index]()

    try:
        async with anyio.create_task_group() as group:
            for index in range(len(calls)):
                group.start_soon(one, index)
    except Exception as exc:  # an ExceptionGroup of the tasks' errors
        raise first_error(exc) from None
    return results


class AsyncClosing:
    """``async with obj:`` calls ``await obj.aclose()`` at exit."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class SingleUse(AsyncClosing, Generic[T]):
    """A stream walked once: ``async for`` (or another walk, through :meth:`_claim`) claims it.

    A second walk raises ``RuntimeError`` with the subclass's :attr:`_ONCE`, which says
    how to get a new stream; ``async with`` closes it.
    """

    #: The message of a second walk.
    _ONCE: ClassVar[str]
    #: What to send to another process instead of the stream: its position.
    _SEND_INSTEAD: ClassVar[str]
    _started: bool

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"a {type(self).__name__} cannot be pickled (it runs in this process's event "
            f"loop): {self._SEND_INSTEAD}"
        )

    def _claim(self) -> None:
        if self._started:
            raise RuntimeError(self._ONCE)
        self._started = True

    def __aiter__(self) -> AsyncIterator[T]:
        self._claim()
        return self._items()

    def _items(self) -> AsyncIterator[T]:
        raise NotImplementedError
