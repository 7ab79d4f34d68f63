"""Fan-out: several list streams at once, merged into one.

:func:`merge` runs streams concurrently (each with its own prefetch) and hands out
their items as pages arrive. Order: the items of one stream keep their order; the
streams are interleaved page by page in arrival order. Every item is handed out
exactly once. All requests share the client's in-flight limit, so fan-out never
exceeds what a single client may have in flight; ``concurrency`` additionally caps
how many streams run at once. Memory follows the streams running, not the streams
given: ahead of a consumer that stops, each running stream holds its prefetch, one page
waiting to go in and about one in the merge's buffer (room for ``concurrency`` pages).

The sources run in an anyio task group inside one supervisor task, which the merged
stream owns and reaps the same way a :class:`ListStream` reaps its prefetch.

A source's error ends the merged stream (raised as itself, with that source's
checkpoint); :attr:`MergedStream.checkpoints` then holds one checkpoint a source, each
after the last page of it handed out, so the same sources resumed from them (e.g.
``list_windows(..., resume=merged.checkpoints)``) hand out the rest, nothing twice. With
``on_unreadable="raise"`` a page with unreadable items is handed out, then its
``UnreadableItemError`` ends the stream, and resuming goes on past that page.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import anyio
import msgspec

from ._exceptions import InvalidParameterError
from ._pagination import ListStream
from ._params import check_int
from ._positions import Checkpoint
from ._tasks import SingleUse, raise_crash, reap, start
from .models import Page

if TYPE_CHECKING:  # annotations only: asyncio and anyio's streams load when first used
    import asyncio

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["MergedStream", "SourcePage", "merge"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class SourcePage(Generic[T]):
    """A page from one of the merged streams, with that stream's checkpoint after it.

    Keeping ``checkpoint`` per ``source`` as pages are consumed lets a bulk job resume
    every source exactly after what it has written.
    """

    source: int
    page: Page[T]
    checkpoint: Checkpoint


class _SourceFailed:
    __slots__ = ("error", "index")

    def __init__(self, index: int, error: Exception) -> None:
        self.index = index
        self.error = error


#: A page as it arrives, with where its first item sits in the page as sent (past a
#: resumed offset or passed-over repeats), or a source's failure.
_Batch = tuple[SourcePage[T], int] | _SourceFailed


def merge(*streams: ListStream[T], concurrency: int | None = None) -> MergedStream[T]:
    """Merge list streams into one, running up to ``concurrency`` of them at once."""
    return MergedStream(streams, concurrency=concurrency)


class MergedStream(SingleUse[T]):
    """Items of several list streams, fetched concurrently; see the module docstring."""

    _ONCE = "a MergedStream can be iterated only once"
    _SEND_INSTEAD = (
        "send stream.checkpoints (one a source), and continue with "
        "list_windows(..., resume=checkpoints) or each source's list(..., resume=checkpoint)"
    )

    def __init__(self, streams: Sequence[ListStream[T]], *, concurrency: int | None = None) -> None:
        if not streams:
            raise InvalidParameterError("streams", "merge needs at least one stream")
        first: dict[int, int] = {}
        for index, stream in enumerate(streams):
            if not isinstance(stream, ListStream):
                raise InvalidParameterError(
                    "streams", f"expected ListStream objects, got {type(stream).__name__}"
                )
            # Refused here, not once a source runs: the other sources' requests would
            # have been made, and their items dropped, for an error known beforehand.
            if id(stream) in first:
                raise InvalidParameterError(
                    "streams",
                    f"the same stream is given twice (sources {first[id(stream)]} and {index}): "
                    "a stream can be iterated only once; call list(...) for each source",
                )
            first[id(stream)] = index
            if stream._started:
                raise InvalidParameterError(
                    "streams",
                    f"source {index} has already been iterated; call list(...) again, or "
                    "list(..., resume=stream.checkpoint) to continue it",
                )
        if concurrency is not None:
            check_int("concurrency", concurrency, minimum=1)
        self.streams: tuple[ListStream[T], ...] = tuple(streams)
        self._checkpoints = [stream.checkpoint for stream in self.streams]
        self._concurrency = min(concurrency or len(self.streams), len(self.streams))
        self._started = False
        self._handed_out = 0
        # The page an items walk is handing out, and how many of its items so far: the
        # checkpoints are exact to the item, not the page (derived on demand).
        self._reading: SourcePage[T] | None = None
        self._read = 0
        self._reading_from = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._ends: (
            tuple[MemoryObjectSendStream[_Batch[T]], MemoryObjectReceiveStream[_Batch[T]]] | None
        ) = None

    @property
    def items_handed_out(self) -> int:
        """How many items have been handed out so far."""
        return self._handed_out

    @property
    def checkpoints(self) -> list[Checkpoint]:
        """One checkpoint a source, in order: each resumes exactly after the last item
        (or page) of that source handed out (also after an error: the failing source's,
        as it reported)."""
        found = list(self._checkpoints)
        batch, read = self._reading, self._read
        if batch is not None and read:
            if read == len(batch.page.items):
                found[batch.source] = batch.checkpoint
            else:
                position = self._reading_from + read
                found[batch.source] = _within(found[batch.source], batch.checkpoint, position)
        return found

    def pages(self) -> AsyncIterator[SourcePage[T]]:
        """Iterate pages as they arrive, each tagged with its source and checkpoint."""
        self._claim()
        return self._pages()

    async def aclose(self) -> None:
        """End every source now; the stream hands out nothing more."""
        task, self._supervisor = self._supervisor, None
        try:
            await reap(task)
        finally:  # also when this close is cancelled: the loop ending as it runs
            if self._ends is not None:
                for end in self._ends:
                    end.close()

    async def _items(self) -> AsyncGenerator[T, None]:
        try:
            async with contextlib.aclosing(self._arrivals()) as arrivals:
                async for batch, begins in arrivals:
                    self._reading, self._read, self._reading_from = batch, 0, begins
                    for item in batch.page.items:
                        self._handed_out += 1
                        self._read += 1
                        yield item
                    self._checkpoints[batch.source] = batch.checkpoint
                    self._reading = None
        finally:
            await self.aclose()  # the sources, once the generator above is closed

    async def _pages(self) -> AsyncGenerator[SourcePage[T], None]:
        try:
            async with contextlib.aclosing(self._arrivals()) as arrivals:
                async for batch, _ in arrivals:
                    self._checkpoints[batch.source] = batch.checkpoint
                    yield batch
        finally:
            await self.aclose()  # the sources, once the generator above is closed

    async def _arrivals(self) -> AsyncGenerator[tuple[SourcePage[T], int], None]:
        # Room for a page a running source, not a page a source: merging thousands of
        # accounts at concurrency=8 buffers what 8 streams fetch ahead, no more.
        send, receive = self._ends = anyio.create_memory_object_stream[_Batch[T]](
            max_buffer_size=self._concurrency
        )
        self._supervisor = start(self._supervise(send))
        # No cleanup that awaits here: _items and _pages end the sources after it. A loop
        # that ends closes every open generator at once, this one too, and one still
        # closing when _items closes it would fail "already running".
        async for batch in receive:
            if isinstance(batch, _SourceFailed):
                checkpoint = getattr(batch.error, "checkpoint", None)
                if isinstance(checkpoint, Checkpoint):
                    self._checkpoints[batch.index] = checkpoint
                raise batch.error
            yield batch
        raise_crash(self._supervisor)  # a source killed by a BaseException: not an end

    async def _supervise(self, send: MemoryObjectSendStream[_Batch[T]]) -> None:
        # A source's task starts once it has a slot, not before: merging 20,000 accounts
        # at concurrency=8 keeps 8 tasks, not 20,000 waiting ones (about 6 kB each).
        slots = anyio.Semaphore(self._concurrency)
        async with send, anyio.create_task_group() as group:
            for index, stream in enumerate(self.streams):
                await slots.acquire()
                group.start_soon(self._pump, index, stream, send, slots)

    @staticmethod
    async def _pump(
        index: int,
        stream: ListStream[T],
        shared: MemoryObjectSendStream[_Batch[T]],
        slots: anyio.Semaphore,
    ) -> None:
        try:
            async with shared.clone() as send:
                try:
                    async with stream:
                        async for page in stream.pages():
                            batch = SourcePage(index, page, stream.checkpoint)
                            await send.send((batch, stream._page_start))
                except Exception as exc:  # handed to the consumer, never swallowed
                    await send.send(_SourceFailed(index, exc))
        finally:
            slots.release()


def _within(before: Checkpoint, after: Checkpoint, position: int) -> Checkpoint:
    """The checkpoint at ``position`` in the page a source hands out between ``before``
    and ``after``, as the source stream's own checkpoint there.

    That page is the one ``before`` resumes (see :meth:`ListStream.pages`): the checkpoint
    is its cursor and the position of the next item in the page as sent (items passed
    over, a resumed offset or repeats of the page before, count as positions). Its
    ``follow`` is ``after``'s: a source's follower notes a page as it takes it, whole.
    """
    return msgspec.structs.replace(after, cursor=before.cursor, offset=position, done=False)
