"""Watch streams: follow a list endpoint as new items arrive, exactly once.

A watch polls ``list(after=floor)`` and hands out what it had not handed out before,
oldest first; the state it keeps, and the decisions about what is new and what to
forget, are :mod:`._follow`'s (the invariant is drawn there). This module holds the
stream that runs the polls (:class:`WatchStream`); the policy value it polls by and the
state it starts from are :mod:`._poll`'s, the call it lists through :mod:`._listing`'s.

``WatchState`` is the one token a caller stores (in the manner of Gmail's ``historyId``
or a Graph ``deltaLink``); ``watch(since=state)`` continues with nothing lost or repeated.

Memory stays bounded however long the watch was stopped. A poll holds at most
:data:`~._catch_up.CAP_PAGES` pages of what it lists; a listing longer than that is a
backlog, which the poll catches up on in time windows, oldest first (see
:class:`~._catch_up.CatchUp`), handing out batches of at most one page, each followed by a
state that covers it: a consumer that stores batch and state together loses at most the
batch in hand when it is killed, and repeats nothing.

Untimed listings. Chats under ``chat_time="created"`` are followed by their last
activity, but the server's ``after`` would bound their creation: a floor cannot be sent.
Such a watch (``timed=False``) lists everything its filters match each poll and hands
out, of what is new by the same rule, the oldest :attr:`WatchStream.cap` (at most twice
that held while listing: a listing without a time bound cannot be cut into windows); a
poll that found more hands those out and lists again.
"""

from __future__ import annotations

import contextlib
import random as _random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Final, TypeVar

import anyio

from ._catch_up import CAP_PAGES, TARGET_PAGES, CatchUp, density_span, gallop
from ._exceptions import InvalidParameterError, UnreadableItem, UnreadableItemError
from ._follow import Entry, FollowTracker, Stamp, fresh, keep_oldest
from ._listing import ListAfter, listing_pages, newest_stamp
from ._params import MAX_LIMIT, check_int
from ._poll import PollPolicy, poll_delay, warn_clock_behind
from ._positions import WatchState
from ._tasks import SingleUse
from ._time import from_ms
from ._watch_now import resolve_now

if TYPE_CHECKING:
    from .models import Page

__all__ = ["WatchStream"]

T = TypeVar("T")

#: The page size the server uses when a listing does not say (``limit`` unset).
DEFAULT_PAGE: Final = 100


class WatchStream(SingleUse[T]):
    """An async stream of items as they arrive; what ``messages.watch(...)`` returns.

    ``async for item in stream`` hands out every new item once, oldest first;
    ``async for batch in stream.batches()`` hands them out in lists of at most one page
    (``limit`` items), each poll's news in one list when it fits; ``max_items`` ends the
    stream after that many. ``stream.state`` resumes exactly after what was handed out,
    also after an error: a failure that survives the client's retries is raised, and
    ``watch(since=stream.state)`` continues. The stream polls until the caller stops
    (``break``, cancellation, or :meth:`aclose` / ``async with`` exit); nothing runs in
    the background between items, so stopping leaves no task and no request behind.

    A backlog (more than :data:`~._catch_up.CAP_PAGES` pages after the floor, say after a
    long stop) is caught up on in time windows, oldest first, in bounded memory; see the
    module docstring. ``limit`` is the page size the listings use (``None``: the
    server's default, 100): the batch size and the unit of that bound.

    ``timed=False``: the listing's ``after``/``before`` do not bound the stamps (chats
    under ``chat_time="created"``); every poll lists with neither, see the module
    docstring.
    """

    _ONCE = "a WatchStream can be iterated only once; call watch(...) again"
    _SEND_INSTEAD = "send stream.state, and continue with watch(..., since=state)"

    def __init__(
        self,
        list_after: ListAfter[T],
        stamp: Stamp,
        state: WatchState,
        *,
        policy: PollPolicy,
        max_items: int | None = None,
        limit: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        random: Callable[[], float] = _random.random,
        timed: bool = True,
    ) -> None:
        if not isinstance(policy, PollPolicy):
            raise InvalidParameterError(
                "policy", f"must be a PollPolicy, got {type(policy).__name__}"
            )
        if max_items is not None:
            check_int("max_items", max_items, minimum=1)
        if limit is not None:
            check_int("limit", limit, minimum=1)
            if limit > MAX_LIMIT:
                raise InvalidParameterError(
                    "limit", f"must be between 1 and {MAX_LIMIT}, got {limit}"
                )
        self._max_items = max_items
        self._timed = timed
        self._list_after = list_after
        self._stamp = stamp
        self._tracker = FollowTracker(state)
        self._policy = policy
        self._sleep = sleep
        self._random = random
        self._page = DEFAULT_PAGE if limit is None else limit
        self._largest_page = self._page  # a server may send more than asked: the bound follows
        self._started = False
        self._closed = False
        self.polls: int = 0
        self.idle_polls: int = 0
        self.items_handed_out: int = 0
        #: Listings made to catch up on a backlog (windows, retries, probes), over all polls.
        self.catch_up_listings: int = 0
        # The listing's unreadable items, and the key listed after each: see _placed.
        self._unread: list[UnreadableItem] = []
        self._neighbours: list[str] = []
        self._open = 0
        self._caught_up = self._again = self._clock_behind = False

    @property
    def policy(self) -> PollPolicy:
        """The polling policy in force."""
        return self._policy

    @property
    def limit(self) -> int:
        """The page size: the most items a batch holds."""
        return self._page

    @property
    def cap(self) -> int:
        """The most listed items the stream holds at once (:data:`~._catch_up.CAP_PAGES` pages)."""
        return CAP_PAGES * self._page

    @property
    def state(self) -> WatchState:
        """Resumes exactly after the last item (or batch) handed out."""
        self._tracker.settle(self._policy.overlap_ms)  # idempotent; keeps the state small
        return self._tracker.state()

    def batches(self) -> AsyncIterator[list[T]]:
        """Iterate the new items in lists of at most one page (``limit`` items), oldest first.

        Each poll's news come as one list when they fit in a page; polls that found
        nothing are skipped. ``stream.state`` read after a list covers exactly the lists
        handed out so far: store each list with it.
        """
        self._claim()
        return self._batches()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called: the stream polls no more."""
        return self._closed

    def _stopped(self) -> bool:
        return self._closed  # a call, so a check after an await is not narrowed away

    async def aclose(self) -> None:
        """Stop: the stream polls no more (a poll in progress ends with its caller)."""
        self._closed = True

    async def _found(self) -> AsyncGenerator[list[Entry[T]], None]:
        """The new entries, oldest first, in lists of at most a page; ``[]`` ends an idle poll.

        The consumer marks what it hands out before it asks for more: the next list is
        decided against that.
        """
        policy = self._policy
        tracker = self._tracker
        while True:
            if self.polls and not self._again:
                await self._sleep(poll_delay(policy, self.idle_polls, self._random))
            if self._stopped():
                return
            if tracker.now:
                await resolve_now(
                    self._list_after,
                    self._stamp,
                    tracker,
                    overlap_ms=policy.overlap_ms,
                    timed=self._timed,
                    cap=self.cap,
                )
            found = False
            async with contextlib.aclosing(self._poll()) as batches:
                async for batch in batches:
                    if not found:
                        found = True
                        self.idle_polls = 0
                    yield batch
            if self._stopped():  # closed from elsewhere while the poll was in flight
                return
            if not found:
                self.idle_polls += 1
                yield []

    async def _poll(self) -> AsyncGenerator[list[Entry[T]], None]:
        """One poll: list after the floor; hand out what is new, or catch up on a backlog."""
        tracker = self._tracker
        tracker.settle(self._policy.overlap_ms)
        self._caught_up = False
        tracker.unreadable.end_poll(complete=False)  # a poll counts its listings afresh
        if not self._timed:
            async with contextlib.aclosing(self._poll_untimed()) as batches:
                async for batch in batches:
                    yield batch
            return
        floor = tracker.floor_ms
        listing = self._list_after(after=None if floor is None else from_ms(floor))
        held: list[Entry[T]] = []
        async with listing_pages(listing) as pages:
            complete = await self._hold(pages, held)
        # The poll, its catch-up windows included, is dated by this listing: a window may
        # lie past the server's clock (a future-dated item), so what arrives meanwhile is
        # below it and left for the next poll, which lists after a floor bounded by this
        # and by the newest item this listing showed.
        self._saw(listing.server_ms, [at for at, _, _ in held])
        self.polls += not self._again  # a poll continued past its limit (see _catch_up)
        self.catch_up_listings += self._again
        self._again = False
        if not complete and held and tracker.limit_ms is None:
            await self._limit_in_time()
        if self._stopped():
            return
        if complete:
            self._keep_unread(True)
            for batch in self._new_batches(held):
                yield batch
        else:
            self._keep_unread(False)  # the catch-up lists it all again
            async with contextlib.aclosing(self._catch_up(held)) as batches:
                async for batch in batches:
                    yield batch
        listed_all = (complete or self._caught_up) and not self._stopped()
        if listed_all:
            tracker.listed_all()
        tracker.unreadable.end_poll(complete=listed_all)

    async def _hold(
        self,
        pages: AsyncIterator[Page[T]],
        held: list[Entry[T]],
        *,
        cap: int | None = None,
        before: int | None = None,
    ) -> bool:
        """Take a listing's placed items into ``held`` while the next page still fits ``cap``.

        True when the listing ended (``held`` is all of it), False when it was cut off.
        ``cap``: the stream's unless a smaller one is given. ``before``: the listing's
        upper bound; an item the server lists at or past it is left for a later window.
        """
        if cap is None:
            cap = self.cap
        async for page in pages:
            items = page.items
            if len(items) > self._largest_page:
                self._largest_page = len(items)
            held += self._placed(items, before)
            if page.cursor is None:
                continue  # the walk ends itself: its check of the last page runs too
            if len(held) + self._largest_page > cap:
                return False
        return True

    async def _poll_untimed(self) -> AsyncGenerator[list[Entry[T]], None]:
        """One poll of a listing time cannot bound: all of it, each time, oldest news first.

        Of what is new (after the floor, not in ``seen``) the oldest :attr:`cap` are
        held; when more were new, those are handed out (and marked by the consumer), the
        floor settles and the listing is made again for the rest.
        """
        tracker = self._tracker
        listings = 0
        while True:
            held: dict[str, Entry[T]] = {}
            cut = False
            listing = self._list_after(after=None)
            async with listing_pages(listing) as pages:
                async for page in pages:
                    for entry in fresh(tracker.floor_ms, tracker.seen, self._placed(page.items)):
                        held.setdefault(entry[1], entry)
                    if len(held) > 2 * self.cap:  # keep the oldest: a sort every cap items
                        held, dropped = keep_oldest(held, self.cap)
                        cut = cut or dropped
            if not listings:  # a poll is dated by its first listing (see _poll)
                self._saw(listing.server_ms)
            self._keep_unread(not listings)  # each listing of the poll shows them all
            if listings:
                self.catch_up_listings += 1
            else:
                self.polls += 1
            listings += 1
            if self._stopped():
                return
            held, dropped = keep_oldest(held, self.cap)
            new = list(held.values())
            del held
            size = self._page
            for start in range(0, len(new), size):
                yield new[start : start + size]
            if self._stopped() or not (cut or dropped):
                tracker.unreadable.end_poll(complete=not self._stopped())
                return
            tracker.settle(self._policy.overlap_ms)

    def _saw(self, server_ms: int | None, listed: list[int] | None = None) -> None:
        """The poll began at the server's ``server_ms`` (``listed``: see
        :meth:`~._follow.FollowTracker.saw`); a server clock behind the floor
        is said once (a WARNING) until it passes the floor again.

        The floor trails a watermark that never passed the server's clock, so a server
        whose clock is now behind it went back (a clock stepped back by more than the
        overlap), or the watch started ahead of it (``since=`` this machine's time): what
        it stamps now lies at or before the floor, is never listed after it, and is missed.
        """
        self._tracker.saw(server_ms, listed)
        floor = self._tracker.floor_ms
        behind = server_ms is not None and floor is not None and server_ms < floor
        if behind and not self._clock_behind and server_ms is not None and floor is not None:
            warn_clock_behind(server_ms, floor, self._policy.overlap)
        self._clock_behind = behind

    async def _limit_in_time(self) -> None:
        """A catch-up whose first listing held only items dated past the server's clock
        (more than the poll holds) takes its limit (:meth:`~._follow.FollowTracker.saw`)
        from the newest item after the floor that is not: one item, listed up to that
        clock (none: the server's time bounds the watermark alone)."""
        tracker = self._tracker
        server_ms, floor = tracker.server_ms, tracker.floor_ms
        if server_ms is None:
            return
        self.catch_up_listings += 1
        newest = newest_stamp(self._list_after, self._stamp, after=floor, before=server_ms + 1)
        tracker.limit_ms, _ = await newest

    def _new_batches(self, entries: list[Entry[T]]) -> Iterator[list[Entry[T]]]:
        """What is new among ``entries``, oldest first, in lists of at most a page."""
        tracker = self._tracker
        new = fresh(tracker.floor_ms, tracker.seen, entries)
        entries.clear()  # the listing is no longer needed: only what is new is kept
        size = self._page
        for start in range(0, len(new), size):
            yield new[start : start + size]

    async def _catch_up(self, held: list[Entry[T]]) -> AsyncGenerator[list[Entry[T]], None]:
        """Hand out a backlog in time windows, oldest first, holding at most ``cap`` items.

        ``held`` is what the poll's listing held before it was cut off (the newest items,
        as the API lists them): it sizes the first window and marks the ``edge`` from
        which the open listing is believed to fit. Each window is listed whole (see
        :class:`~._catch_up.CatchUp`); the catch-up ends once an open window fits.
        """
        target = TARGET_PAGES * self._page
        stamps = [at for at, _, _ in held]
        held.clear()
        edge = min(stamps) if stamps else None
        span = density_span(len(stamps), max(stamps) - min(stamps) + 1, target) if stamps else 1
        del stamps
        lo = self._tracker.floor_ms
        if lo is None:
            if edge is None:
                return  # nothing listed can be placed in time
            lo = await self._before_oldest(edge, span)
        plan = CatchUp(lo, span=span, edge=edge, target=target, stop=self._tracker.limit_ms)
        past: int | None = None  # items handed out when the windows passed the limit
        while not plan.done and not self._stopped():
            if plan.reached and past is None:
                past = self.items_handed_out
            elif past is not None and self.items_handed_out - past > self.cap:
                # Kept since (the floor stops at the limit): a poll at once lets it rise.
                self._again = True
                return
            # What was handed out lies at or before the window's start, so the floor may
            # rise behind it: the ids remembered stay those of one overlap window.
            self._tracker.settle(self._policy.overlap_ms)
            self.catch_up_listings += 1
            if plan.crawling:  # bisecting up through nothing: is anything below the bound?
                after, before = plan.lo, plan.bounds[-1]
                found = newest_stamp(self._list_after, self._stamp, after=after, before=before)
                plan.below((await found)[0])
                continue
            window = plan.window
            single = plan.single
            listing = self._list_after(
                after=from_ms(window.after),
                before=None if window.before is None else from_ms(window.before),
            )
            entries: list[Entry[T]] = []
            async with listing_pages(listing) as pages:
                cap = self._page if plan.probing and not single else None
                complete = await self._hold(pages, entries, cap=cap, before=window.before)
                if not complete and single:
                    # One millisecond holds more than the cap: any order is oldest first
                    # there, so it is handed out as it is listed, a page at a time.
                    listed = len(entries)
                    for batch in self._new_batches(entries):
                        yield batch
                    async for page in pages:
                        entries = self._placed(page.items, window.before)
                        listed += len(entries)
                        for batch in self._new_batches(entries):
                            yield batch
                    self._keep_unread(True)
                    plan.fits(listed)
                    continue
            self._keep_unread(complete)
            if not complete:
                plan.overflows([at for at, _, _ in entries])
                continue
            listed = len(entries)
            for batch in self._new_batches(entries):
                yield batch
            plan.fits(listed)
        self._caught_up = plan.done

    def _keep_unread(self, whole: bool) -> None:
        """Raise the unreadable items of a listing taken ``whole`` not raised before (first)."""
        found = list(zip(self._unread, self._neighbours + [""] * self._open, strict=True))
        self._unread, self._neighbours, self._open = [], [], 0
        new = self._tracker.unreadable.new(found) if whole else []
        if new:
            raise UnreadableItemError(new, endpoint=new[0].error.endpoint or "")

    def _placed(self, items: list[T], before: int | None = None) -> list[Entry[T]]:
        """``items`` with their place in time, those without one (or past ``before``) left out;
        an unreadable one is kept aside with the key of the next readable one (``_open``: none yet)."""
        stamp = self._stamp
        entries: list[Entry[T]] = []
        for item in items:
            placed = stamp(item)
            if placed is None:
                if isinstance(item, UnreadableItem):
                    self._unread.append(item)
                    self._open += 1
                continue
            if self._open:
                self._neighbours += [placed[1]] * self._open
                self._open = 0
            if before is None or placed[0] < before:
                entries.append((placed[0], placed[1], item))
        return entries

    async def _before_oldest(self, edge: int, span: int) -> int:
        """A moment before every item listed (for a catch-up without a floor), in ms.

        Steps back from ``edge`` ever further (:func:`~._catch_up.gallop`), one item at most
        a listing, until nothing is listed before the point reached.
        """
        point = edge
        for point in gallop(edge, span):
            self.catch_up_listings += 1
            older, _ = await newest_stamp(self._list_after, self._stamp, before=point)
            if older is None:
                break
        return point - 1

    def _room(self) -> int | None:
        """How many more items may be handed out (``None``: no limit)."""
        return None if self._max_items is None else self._max_items - self.items_handed_out

    async def _batches(self) -> AsyncGenerator[list[T], None]:
        tracker = self._tracker
        async with contextlib.aclosing(self._found()) as found:
            async for batch in found:
                room = self._room()
                new = batch if room is None else batch[:room]  # oldest first: a prefix
                if not new:
                    continue
                for stamp, key, _ in new:
                    tracker.mark(stamp, key)
                self.items_handed_out += len(new)
                yield [item for _, _, item in new]
                if self._room() == 0:
                    return

    async def _items(self) -> AsyncGenerator[T, None]:
        tracker = self._tracker
        async with contextlib.aclosing(self._found()) as found:
            async for batch in found:
                for stamp, key, item in batch:
                    if self._room() == 0:
                        return
                    tracker.mark(stamp, key)
                    self.items_handed_out += 1
                    yield item
                if self._room() == 0:
                    return
