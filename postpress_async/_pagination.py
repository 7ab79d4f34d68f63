"""Cursor streams over list endpoints, with the next page prefetched.

A :class:`ListStream` is what every ``list(...)`` returns:

* ``await stream`` gives the first :class:`Page`;
* ``async for item in stream`` gives every item of every page;
* ``async for page in stream.pages()`` gives the pages;
* ``async with stream:`` ends any prefetch deterministically at exit;
* ``stream.checkpoint`` tells where to resume exactly after the last item handed out.

How prefetch is owned. With ``prefetch=N`` a producer task fetches pages ahead of
the caller and hands them over through an anyio memory stream with room for ``N - 1``
pages, so at most ``N`` pages are fetched, or in flight, beyond the one the caller
holds. The producer cannot live in an anyio task group: the items are handed out
from an async generator, and a task group must never span a ``yield`` there (anyio's
docs say why: the scope may be exited from another task). So the stream owns the
task itself and guarantees its end: the generator's ``finally`` cancels and awaits
it on exhaustion, error, cancellation, ``break`` (asyncio finalises an abandoned
async generator right away) and ``async with`` exit. No task outlives its stream.

After a page. ``after_page`` (the typed streams' ``on_unreadable="raise"``) is called
once a page has been handed out whole, before the next one is taken; an error it raises
is raised with the checkpoint after that page, so a resumed stream goes on past it.

How the walk is pipelined. The SDK's own list calls fetch a :class:`PageBody`: the
body read off the wire with only its cursor decoded. The producer sends the request
for the next page as soon as it has that cursor, and the caller's side decodes the
page while the next one is on its way, so decoding and the network overlap; the
bound above still holds (the page being decoded is the one the caller takes). A
page that fails to decode raises when the caller reaches it, like a failed request.

Under offset cursors (the reference's example cursor is ``{"skip":100}``), ``k`` items
arriving ahead of a walk between two pages make the next page open with the last ``k``
of the page before. Given ``repeats`` (every SDK listing, rows too), a stream hands each
item out once across such a boundary: a page's leading items that line up by id with the
end of the page before are passed over (:mod:`._repeats`: a few reads a page, not one an
item). They stay positions of their page: ``checkpoint`` offsets count them, ``max_items``
does not, ``pages()`` leaves them out, the follower, ``after_page`` and ``await stream``
see pages as sent. Still possible: a repeat after a shift of more than a page, and one at
the head of a resumed stream (it does not know the ids of the page before its checkpoint).
"""

from __future__ import annotations

import contextlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import anyio
import msgspec

from ._cursor_trail import CursorTrail, Stall
from ._exceptions import InvalidParameterError, PostpressError, with_checkpoint
from ._page_body import FetchPage, PageBody, ReadPage, ServerClock
from ._page_body import as_page as _as_page
from ._params import check_flag, check_int, check_plain, check_prefetch
from ._positions import Checkpoint, WatchState
from ._repeats import Repeats
from ._tasks import SingleUse, raise_crash, raise_unchained, reap, start
from .models import Page

if TYPE_CHECKING:  # annotations only: asyncio and anyio's streams load when first used
    import asyncio

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = [
    "AfterPage",
    "Checkpoint",
    "FetchPage",
    "Follower",
    "ListStream",
    "PageBody",
    "PageFetcher",
    "ReadPage",
    "ServerClock",
]

T = TypeVar("T")


class Follower(Protocol):
    """Records, page by page, where a watch continuing a listing would start.

    A list stream calls :meth:`note` with each page's items as the page is taken (before
    its items are handed out) and the server's time when the listing began (as its
    responses said so far; ``None``: none said), and :meth:`state` when its checkpoint
    is read; what the state means is the follower's business
    (:class:`~._follow.ListFollower`).
    """

    def note(self, items: Sequence[Any], server_ms: int | None) -> None: ...

    def state(self) -> WatchState: ...


#: Makes the follower of a stream from the follow state of the checkpoint it resumes
#: (``None``: a new listing).
MakeFollower = Callable[[WatchState | None], Follower]

#: Called with each page once it has been handed out whole; may raise a PostpressError.
AfterPage = Callable[[Page[Any]], None]


class _Failure:
    """A page request that failed: raised when the caller reaches that page."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class PageFetcher(Generic[T]):
    """Yields pages in order from ``start``, keeping up to ``prefetch`` pages ahead.

    ``limit_items`` stops fetching once that many items were fetched, so no request
    is made for pages the caller will not read; ``lead`` (see :class:`~._repeats.Repeats`)
    tells how many items of each page repeat the page before: those do not count.
    Call :meth:`aclose` when done.
    """

    def __init__(
        self,
        fetch: FetchPage[T],
        start: str | None,
        *,
        prefetch: int,
        limit_items: int | None,
        lead: Callable[[Sequence[T]], int] | None = None,
    ) -> None:
        self._fetch = fetch
        self._lead = lead
        self._next_cursor: str | None = start
        self._trail = CursorTrail(start)
        self._prefetch = prefetch
        self._limit_items = limit_items
        self._fetched_items = 0
        self._finished = False
        self._task: asyncio.Task[None] | None = None
        self._send: MemoryObjectSendStream[Page[T] | PageBody[T] | _Failure] | None = None
        self._receive: MemoryObjectReceiveStream[Page[T] | PageBody[T] | _Failure] | None = None

    def _more_wanted(self, page: Page[T] | PageBody[T]) -> bool:
        """Whether to fetch the page after ``page``; CursorLoopError if its cursor repeats.

        Called as soon as a page (or its cursor) arrives and before the page is handed
        over, so a looping page is replaced by the error and the stream's checkpoint
        stays before it.
        """
        cursor = page.cursor
        if cursor is None:
            return False
        if isinstance(page, PageBody):
            more = True  # a PageBody comes only without a limit: see _produce
        else:
            self._fetched_items += len(page.items)
            if self._lead is not None:
                self._fetched_items -= self._lead(page.items)
            more = self._limit_items is None or self._fetched_items < self._limit_items
        if more:
            self._trail.follow(cursor)
        return more

    async def next(self) -> tuple[str | None, Page[T]] | None:
        """The next ``(cursor it was fetched with, page)``, or None after the last page."""
        if self._finished:
            return None
        if self._prefetch == 0:
            return await self._next_inline()
        if self._receive is None:
            self._send, self._receive = anyio.create_memory_object_stream[
                Page[T] | PageBody[T] | _Failure
            ](max_buffer_size=self._prefetch - 1)
            self._task = start(self._produce(self._send, self._next_cursor))
        try:
            try:  # a page already waiting is taken without a pass through the event loop
                outcome = self._receive.receive_nowait()
            except anyio.WouldBlock:
                outcome = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise_crash(self._task)  # never a silent end for a producer that died
            return None
        if isinstance(outcome, _Failure):
            raise outcome.error
        cursor, self._next_cursor = self._next_cursor, outcome.cursor
        return cursor, _as_page(outcome)

    async def _next_inline(self) -> tuple[str | None, Page[T]]:
        cursor = self._next_cursor
        page = _as_page(await self._fetch(cursor))
        more = self._more_wanted(page)
        self._finished = not more
        self._next_cursor = page.cursor
        return cursor, page

    async def _produce(
        self, send: MemoryObjectSendStream[Page[T] | PageBody[T] | _Failure], cursor: str | None
    ) -> None:
        async with send:
            while True:
                try:
                    page = await self._fetch(cursor)
                    if self._limit_items is not None or (
                        isinstance(page, PageBody) and not page.cursor_known
                    ):
                        # Counting items, or finding an unreadable cursor, takes the page.
                        page = _as_page(page)
                    more = self._more_wanted(page)
                except Exception as exc:  # handed to the caller in order, never swallowed
                    await send.send(_Failure(exc))
                    return
                try:
                    send.send_nowait(page)
                except anyio.WouldBlock:
                    await send.send(page)
                if not more:
                    return
                cursor = page.cursor

    async def aclose(self) -> None:
        """Cancel any prefetch and wait until it has ended."""
        self._finished = True
        task, self._task = self._task, None
        try:
            await reap(task)
        finally:  # also when this close is cancelled: the loop ending as it runs
            for end in (self._send, self._receive):
                if end is not None:
                    end.close()


class ListStream(SingleUse[T]):
    """An async stream over every item of a list endpoint; see the module docstring."""

    _ONCE = "a ListStream can be iterated only once; call list(...) again"
    _SEND_INSTEAD = "send stream.checkpoint, and continue with list(..., resume=checkpoint)"

    def __init__(
        self,
        fetch: FetchPage[T],
        *,
        cursor: str | None = None,
        resume: Checkpoint | None = None,
        prefetch: int = 1,
        max_items: int | None = None,
        follower: MakeFollower | None = None,
        after_page: AfterPage | None = None,
        repeats: Repeats[T] | None = None,
        clock: ServerClock | None = None,
    ) -> None:
        check_prefetch(prefetch)
        if max_items is not None:
            check_int("max_items", max_items, minimum=0)
        if cursor is not None:
            _check_cursor("cursor", cursor)
            if not cursor:  # a resume= checkpoint's may be: older versions kept a page's ""
                raise InvalidParameterError(
                    "cursor", "must not be empty: give a cursor a page sent, or none"
                )
        if resume is not None:
            if cursor is not None:
                raise InvalidParameterError("resume", "give either cursor= or resume=, not both")
            if not isinstance(resume, Checkpoint):
                raise InvalidParameterError(
                    "resume", f"must be a Checkpoint, got {type(resume).__name__}"
                )
            # A Checkpoint built by hand or read from a damaged store is not validated.
            if resume.cursor is not None:
                _check_cursor("resume.cursor", resume.cursor)
            check_int("resume.offset", resume.offset, minimum=0)
            check_flag("resume.done", resume.done)  # a truthy "no" would end the stream
            if resume.follow is not None and not isinstance(resume.follow, WatchState):
                raise InvalidParameterError(
                    "resume.follow", f"must be a WatchState, got {type(resume.follow).__name__}"
                )
        # The server's time, as each PageBody fetched tells it (a caller whose fetch
        # returns a Page gives its own clock, and tells it).
        self._clock = clock = ServerClock() if clock is None else clock

        async def timed(cursor: str | None) -> Page[T] | PageBody[T]:
            got = await fetch(cursor)
            if isinstance(got, PageBody):
                clock.saw(got.server_ms)
            return got

        self._fetch: FetchPage[T] = timed
        self._prefetch = prefetch
        self._max_items = max_items
        self._after_page = after_page
        self._repeats = repeats
        # Where the stream stands: `_checkpoint` at a page boundary, or, while items of
        # `_page` are handed out, `_offset` of them (the Checkpoint is built on demand,
        # not once an item).
        self._checkpoint = resume or Checkpoint(cursor=cursor)
        self._follower = None if follower is None else follower(self._checkpoint.follow)
        self._page: Page[T] | None = None
        self._page_cursor: str | None = None
        self._offset = 0
        self._started = False
        # Items handed out before `_page`, where in `_page` (pages(): as sent) it started.
        self._handed_out = 0
        self._page_start = 0
        # The fetcher, not the generator, is kept: a generator that refers back to its
        # stream would form a cycle, and an abandoned one could then wait for the
        # garbage collector instead of being finalised at once.
        self._fetcher: PageFetcher[T] | None = None

    @property
    def checkpoint(self) -> Checkpoint:
        """Resumes exactly after the last item (or page) handed out."""
        page = self._page
        if page is None:
            found = self._checkpoint
        elif self._offset >= len(page.items):
            found = _after_page(page)
        else:
            found = Checkpoint(cursor=self._page_cursor, offset=self._offset)
        if self._follower is None:
            return found
        return msgspec.structs.replace(found, follow=self._follower.state())

    @property
    def server_ms(self) -> int | None:
        """The server's time (epoch ms) when this listing began: the earliest ``Date``
        header of the pages fetched so far, at the end of its second; ``None``: none
        said (a transport that sends no ``Date``)."""
        return self._clock.ms

    @property
    def resume_cursor(self) -> str | None:
        """The cursor of the page the next item comes from (page-granular resume)."""
        return self.checkpoint.cursor

    @property
    def items_handed_out(self) -> int:
        """How many items this stream has handed out so far."""
        if self._page is None:
            return self._handed_out
        return self._handed_out + self._offset - self._page_start

    def __await__(self) -> Generator[object, None, Page[T]]:
        """``await stream``: fetch and return the first page only (no prefetch).

        The first page :meth:`pages` would hand out: a resumed stream's starts at the
        checkpoint's offset, ``max_items`` cuts it, and a stream resumed from a done
        checkpoint (or with ``max_items=0``) gives an empty last page without a request.
        """
        return self._first_page().__await__()

    async def _first_page(self) -> Page[T]:
        start = self._checkpoint
        if start.done or self._max_items == 0:
            return Page(items=[], cursor=None)
        page = _as_page(await self._fetch(start.cursor))
        last = len(page.items)
        stop = last if self._max_items is None else min(last, start.offset + self._max_items)
        if self._after_page is not None and stop == last:
            self._check_whole(self._after_page, page)
        if (start.offset, stop) != (0, last):
            page = msgspec.structs.replace(page, items=page.items[start.offset : stop])
        return page

    @staticmethod
    def _check_whole(after_page: AfterPage, page: Page[T]) -> None:
        """``after_page`` on a page handed out to its end; its error resumes past it."""
        try:
            after_page(page)
        except PostpressError as exc:
            failed = with_checkpoint(exc, _after_page(page))
        else:
            return
        raise_unchained(failed)  # outside the handler: see _pages

    def pages(self) -> AsyncIterator[Page[T]]:
        """Iterate pages instead of items (a resumed first page starts at its offset)."""
        self._claim()
        return self._pages()

    async def aclose(self) -> None:
        """End any prefetch now; the stream hands out nothing more."""
        if self._fetcher is not None:
            await self._fetcher.aclose()

    def _open_fetcher(self) -> PageFetcher[T] | None:
        start = self._checkpoint
        if start.done or self._max_items == 0:
            # Nothing to hand out. Only an ended listing is done: a budget of nothing
            # leaves the checkpoint where it was, so resuming it hands out the rest.
            return None
        limit = None if self._max_items is None else self._max_items + start.offset
        repeats = self._repeats  # max_items counts items handed out: repeats do not count
        self._fetcher = PageFetcher(
            self._fetch,
            start.cursor,
            prefetch=self._prefetch,
            limit_items=limit,
            lead=None if repeats is None or limit is None else repeats.tracker(),
        )
        return self._fetcher

    async def _slices(self) -> AsyncGenerator[tuple[str | None, Page[T], int, int], None]:
        """``(cursor, page, start, stop)``: the part of each page to hand out, in order."""
        fetcher = self._open_fetcher()
        if fetcher is None:
            return
        start = self._checkpoint.offset
        remaining = self._max_items
        lead = None if self._repeats is None else self._repeats.tracker()
        stall = Stall()
        # No cleanup that awaits here: _items and _pages close the fetcher after it. A
        # loop that ends closes every open generator at once, this one too, and one
        # still closing when _items closes it would fail "already running".
        while remaining != 0:
            got = await fetcher.next()
            if got is None:
                return
            cursor, page = got
            if self._follower is not None:
                self._follower.note(page.items, self._clock.ms)
            if lead is not None:  # the repeats of the page before: positions, not items
                start = max(start, lead(page.items))
            stop = len(page.items)
            # A resumed page may have lost items since its checkpoint (deleted):
            # an offset past its end hands out none of it, and counts none.
            start = min(start, stop)
            if remaining is not None:
                stop = min(stop, start + remaining)
                remaining -= stop - start
            stall.page(page.cursor, stop - start)
            yield cursor, page, start, stop
            if self._after_page is not None and stop == len(page.items):
                self._after_page(page)
            start = 0

    async def _items(self) -> AsyncGenerator[T, None]:
        try:
            async with contextlib.aclosing(self._slices()) as slices:
                try:
                    async for cursor, page, start, stop in slices:
                        if self._page is not None:
                            self._handed_out += self._offset - self._page_start
                        self._page_cursor, self._page, self._offset = cursor, page, start
                        self._page_start = start
                        for self._offset, item in enumerate(page.items[start:stop], start + 1):
                            yield item
                except PostpressError as exc:
                    failed = with_checkpoint(exc, self.checkpoint)
                else:
                    return
                raise_unchained(failed)  # a complete copy, outside the handler: see _pages
        finally:
            await self.aclose()  # the fetcher, once the generator above is closed

    async def _pages(self) -> AsyncGenerator[Page[T], None]:
        try:
            async with contextlib.aclosing(self._slices()) as slices:
                try:
                    async for cursor, page, start, stop in slices:
                        last = len(page.items)
                        self._page = None
                        if stop == last:
                            self._checkpoint = _after_page(page)
                        else:
                            self._checkpoint = Checkpoint(cursor=cursor, offset=stop)
                        self._handed_out += stop - start
                        self._page_start = start
                        if (start, stop) != (0, last):
                            page = msgspec.structs.replace(page, items=page.items[start:stop])
                        yield page
                except PostpressError as exc:
                    failed = with_checkpoint(exc, self.checkpoint)
                else:
                    return
                # Raised outside the handler: a new error of the same class with the
                # stream's checkpoint and the original's own chaining (none added: an
                # unchained transport error stays so); the original is untouched.
                raise_unchained(failed)
        finally:
            await self.aclose()  # the fetcher, once the generator above is closed


def _check_cursor(name: str, cursor: object) -> None:
    """A cursor a caller gives: a str that can go on the wire (a page's, models.Cursor, is
    also never empty; a saved checkpoint's may be: see ListStream)."""
    if not isinstance(cursor, str):
        raise InvalidParameterError(name, f"must be a str, got {type(cursor).__name__}")
    check_plain(name, cursor)


def _after_page(page: Page[Any]) -> Checkpoint:
    return Checkpoint(cursor=page.cursor, done=page.cursor is None)
