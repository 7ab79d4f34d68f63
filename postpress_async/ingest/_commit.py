"""The Committer: the one writer of a sink in a process, committing pages in groups.

Every run of a shard, and the follow, hands its pages to a :class:`Committer` with the
position right after each page (:meth:`Committer.put`). One writer task takes every
page queued and commits them as ONE :class:`~.sinks._base.Batch`: the rows of all the
pages (of several shards, too) and their rejects in one transaction, with one
:class:`~.sinks._base.Move` a name (the previous position of its first page, the new
one of its last, items and pages summed). A position is therefore never stored ahead
of its rows, and a slow store commits more pages at once instead of falling behind.

The guarantees are those of the export's group-commit writer (``cli/_export.py``):

* the queue holds at most ``max_pages`` pages: a slow store holds the walks back
  (:meth:`put` waits) instead of filling memory;
* leaving ``async with`` normally or with an error commits every page queued first;
* leaving it cancelled lets only the group being written finish (shielded: a commit is
  never cut in the middle); the pages still queued are dropped: that is work, not data,
  since the stored positions cover only committed rows, so a re-run fetches them again;
* the writer's error (a :class:`~postpress_async.ShardConflictError`, a
  :class:`~postpress_async.SinkFailedError`...) is raised from :meth:`put` and from the
  exit of the block; the writer task itself is never cancelled (it is awaited), so
  nothing outlives the block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple

import anyio

from postpress_async._exceptions import ShardConflictError
from postpress_async._lazy import asyncio
from postpress_async._rows import Reject, Row, RowPage
from postpress_async._tasks import start

from ._shards import Endpoint
from .sinks._base import Batch, Move, Sink

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["Committer", "Position", "group_batch"]


class Position(NamedTuple):
    """A named position a page moves: from ``previous`` (as read) to ``new``."""

    name: str
    new: bytes
    previous: bytes | None


class _Queued(NamedTuple):
    page: RowPage
    positions: tuple[Position, ...]


def group_batch(endpoint: Endpoint, group: Sequence[_Queued]) -> Batch:
    """The one batch that stores ``group`` (pages in the order they were put).

    Each name moves once: from the ``previous`` of its first page to the ``new`` of its
    last. A page whose ``previous`` is not the ``new`` of the page before it under the
    same name means two writers of one name in this process: refused.
    """
    rows: list[Row] = []
    rejects: list[Reject] = []
    moves: dict[str, Move] = {}
    line_breaks = False
    for page, positions in group:
        line_breaks = line_breaks or page.line_breaks
        rows.extend(page.items)
        rejects.extend(page.rejects)
        covered = len(page.items) + len(page.rejects)
        for name, new, previous in positions:
            move = moves.get(name)
            if move is None:
                moves[name] = Move(name, previous, new, covered, 1)
                continue
            if move.new != previous:
                raise ShardConflictError(
                    f"{name}: two writers in one process: a page continues from a position "
                    "other than the one queued before it"
                )
            moves[name] = move._replace(new=new, items=move.items + covered, pages=move.pages + 1)
    return Batch(
        endpoint=endpoint,
        rows=rows,
        rejects=rejects,
        moves=list(moves.values()),
        line_breaks=line_breaks,
    )


class Committer:
    """One writer task a sink a process: queued pages committed in groups.

    ::

        async with Committer(sink, "messages", on_commit=count) as committer:
            await committer.put("t000", page, new=encoded, previous=stored)

    ``on_commit(rows, rejects)`` is called after each commit with what it STORED (a
    progress line counts stored rows, never fetched ones; a reject the store already
    held is not counted). ``max_pages`` bounds the
    queue. See the module docstring for what exit and cancellation do.
    """

    def __init__(
        self,
        sink: Sink,
        endpoint: Endpoint,
        *,
        on_commit: Callable[[int, int], None] | None = None,
        max_pages: int = 16,
    ) -> None:
        if max_pages < 1:
            raise ValueError(f"max_pages must be >= 1, got {max_pages!r}")
        self.sink = sink
        self.endpoint = endpoint
        self.max_pages = max_pages
        self._on_commit = on_commit
        #: Commits made, and rows and rejects they stored (this committer's life).
        self.commits: int = 0
        self.rows: int = 0
        self.rejects: int = 0
        self._send: MemoryObjectSendStream[_Queued] | None = None
        self._receive: MemoryObjectReceiveStream[_Queued] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._stop = False

    def __repr__(self) -> str:
        return f"Committer({self.sink.url!r}, {self.endpoint!r}, commits={self.commits})"

    async def __aenter__(self) -> Committer:
        if self._writer is not None:
            raise RuntimeError("a Committer runs once; make a new one")
        self._send, self._receive = anyio.create_memory_object_stream[_Queued](self.max_pages)
        self._writer = start(self._write(self._receive))
        return self

    async def _write(self, receive: MemoryObjectReceiveStream[_Queued]) -> None:
        with receive:
            async for first in receive:
                group = [first]
                with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
                    while True:
                        group.append(receive.receive_nowait())
                batch = group_batch(self.endpoint, group)
                stored = await self.sink.commit(batch)
                rejects = len(batch.rejects) if stored is None else stored
                self.commits += 1
                self.rows += len(batch.rows)
                self.rejects += rejects
                if self._on_commit is not None:
                    self._on_commit(len(batch.rows), rejects)
                if self._stop:
                    return

    async def put(
        self,
        name: str,
        page: RowPage,
        new: bytes,
        previous: bytes | None,
        *,
        also: Sequence[Position] = (),
    ) -> None:
        """Queue ``page`` with the position ``name`` moves to (from ``previous``).

        ``also``: more positions the same page moves in the same commit (the accounts
        backfill moves its shard and the accounts' follow position together). Waits
        while ``max_pages`` pages are queued; raises the writer's error if it failed.
        """
        send, writer = self._send, self._writer
        if send is None or writer is None:
            raise RuntimeError("use the Committer inside `async with`")
        queued = _Queued(page, (Position(name, new, previous), *also))
        try:
            try:
                send.send_nowait(queued)
            except anyio.WouldBlock:
                await send.send(queued)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            with anyio.CancelScope(shield=True):
                await _wait(writer)
            if not writer.cancelled() and writer.exception() is not None:
                writer.result()  # it stopped on an error: raise that one
            raise RuntimeError("this Committer has stopped: put() after its block ended") from None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        send, writer = self._send, self._writer
        assert send is not None
        assert writer is not None
        cancelled = anyio.get_cancelled_exc_class()
        if exc_type is not None and issubclass(exc_type, cancelled):
            self._stop = True  # only the group in hand; the queued pages are dropped
        send.close()
        try:
            if self._stop:
                with anyio.CancelScope(shield=True):
                    await _wait(writer)
            else:
                await _wait(writer)
        except cancelled:  # cancelled while draining: stop after the group in hand
            self._stop = True
            with anyio.CancelScope(shield=True):
                await _wait(writer)
            _seen(writer)
            raise
        if exc_type is not None:
            _seen(writer)  # the body's own error is the one raised
            return
        writer.result()


async def _wait(task: asyncio.Task[None]) -> None:
    await asyncio.wait([task])


def _seen(task: asyncio.Task[None]) -> None:
    if task.done() and not task.cancelled():
        task.exception()
