"""The follow decisions, as pure functions and small trackers: what is new, what to forget.

The API has no change feed, only listings with strict ``after``/``before`` bounds on a
millisecond timestamp. Following one keeps a small state (:class:`~._positions.WatchState`):

* ``watermark``: the newest timestamp handed out, but never past the server's own clock
  (the ``Date`` of the first response of the poll that listed it, its catch-up windows
  included, see :mod:`._page_body`): an item a provider dated in the future (a wrong
  clock: 2099) is handed out, yet the watermark stays at the server's time, so what is
  correctly dated after it is still found;
* ``floor``: nothing at or before it is handed out any more; it trails the watermark by
  an ``overlap``, so a message the server lists late (its timestamp older than the
  newest already seen, as providers sync late) is still found if it is listed within
  ``overlap`` of the watermark;
* ``seen``: the ids handed out with a timestamp after the floor, so the overlap and the
  strict ``after`` re-listing them (several messages in one millisecond, a message
  listed in the millisecond of the watermark after it moved) never hands one out twice.

The invariant: *every listed item with a timestamp after the floor that is not in
``seen`` is new.* So a poll hands out ``(found - seen)`` oldest first, then raises the
floor to ``watermark - overlap`` and forgets the ids at or below it: memory is bounded
by the items of one overlap window, and those dated past the server's clock (a
future-dated item stays above the floor, so in ``seen``, until the server's clock
passes it: handed out once, never again). Bounding the watermark only keeps the floor
lower; no item after it is forgotten, so the invariant holds. Without a server time
(a transport that sends no ``Date``) nothing is bounded. :func:`fresh`, :func:`settle`
and :func:`bounded` decide; :class:`FollowTracker` holds the mutable side;
:class:`ListFollower` records, while a ``list()`` is walked, where a watch continuing it
starts.

Catching up. A watch resumed after a long stop finds a backlog behind its floor: more
than it may hold at once. It then lists the backlog in time windows, oldest first, each
listed whole but never more than :data:`CAP_PAGES` pages of it held, and hands out each
window's new items before it lists the next one; :class:`CatchUp` decides the windows
(sized from the density of what was listed, about :data:`TARGET_PAGES` pages each,
narrower when one held too much, wider when one held little) and when the rest of the
listing, open up to now, fits at once. Nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, NamedTuple, TypeVar

from ._exceptions import UnreadableItem
from ._lazy import hashlib
from ._positions import WatchState

__all__ = [
    "CAP_PAGES",
    "DEFAULT_OVERLAP",
    "EARLIEST_MS",
    "GROWTH",
    "TARGET_PAGES",
    "CatchUp",
    "Entry",
    "FollowTracker",
    "ListFollower",
    "Stamp",
    "UnreadableLedger",
    "Window",
    "bounded",
    "density_span",
    "fresh",
    "gallop",
    "grown_span",
    "keep_oldest",
    "settle",
    "shrunk_span",
]

T = TypeVar("T")
#: ``(timestamp in ms, key)`` of an item, or ``None`` for an item that cannot be placed.
Stamp = Callable[[Any], "tuple[int, str] | None"]
#: ``(timestamp in ms, key, item)``: what a poll found, ready to sort.
Entry = tuple[int, str, T]

#: Seconds a follow re-scans behind its watermark unless told otherwise (``PollPolicy``'s
#: default overlap, and what a finished ``list()`` remembers ids for).
DEFAULT_OVERLAP: Final = 10.0


def fresh(
    floor_ms: int | None, seen: Mapping[str, int], found: Iterable[Entry[T]]
) -> list[Entry[T]]:
    """What a poll hands out: the entries after the floor not handed out before, oldest first.

    Ties in one millisecond are ordered by key; an entry listed twice in one poll (a
    page boundary moving under new arrivals) counts once.
    """
    picked: dict[str, Entry[T]] = {}
    for entry in found:
        stamp, key, _ = entry
        if (floor_ms is None or stamp > floor_ms) and key not in seen:
            picked.setdefault(key, entry)
    return sorted(picked.values(), key=lambda entry: (entry[0], entry[1]))


def settle(
    watermark_ms: int | None, floor_ms: int | None, seen: Mapping[str, int], overlap_ms: int
) -> tuple[int | None, dict[str, int]]:
    """The floor after a poll, and the ids still worth remembering.

    The floor rises to ``watermark - overlap - 1 ms`` (never falls), so the next poll's
    strict ``after=floor`` still lists the whole overlap window, its first millisecond
    included; ids at or below the new floor can never be listed again and are dropped.
    """
    if watermark_ms is not None:
        trailing = watermark_ms - overlap_ms - 1
        floor_ms = trailing if floor_ms is None else max(floor_ms, trailing)
    if floor_ms is None:
        return None, dict(seen)
    return floor_ms, {key: stamp for key, stamp in seen.items() if stamp > floor_ms}


class UnreadableLedger:
    """The unreadable items a watch has raised, so that each is raised once.

    An item that cannot be read has no place in time: it cannot be marked seen by its
    timestamp and id like the others, and the listings after the floor show it again
    each poll. So it is known by its bytes and the readable item listed right after it
    (two ``null`` items in different places are two; side by side, the first and the
    second). A listing taken whole raises those not raised before, before any of its
    items is handed out, so the floor never passes one unraised; a poll that listed
    everything after the floor forgets those it no longer showed (:meth:`end_poll`).
    Its neighbour can change (a late listing lands right after it, a catch-up window
    ends right after it): then it may be raised a second time, never not at all.
    """

    __slots__ = ("_keys", "reported")

    def __init__(self, reported: Iterable[str]) -> None:
        self.reported = set(reported)
        self._keys: set[str] = set()

    def new(self, found: Iterable[tuple[UnreadableItem, str]]) -> list[UnreadableItem]:
        """Of a listing's unreadable items, each with the key of the readable item listed
        next (``""``: none), those not raised before; recorded as raised now."""
        counts: dict[str, int] = {}
        fresh: list[UnreadableItem] = []
        for item, neighbour in found:
            digest = hashlib.sha256(neighbour.encode() + b"\0" + item.raw).hexdigest()[:16]
            occurrence = counts.get(digest, 0)
            counts[digest] = occurrence + 1
            key = f"{digest}#{occurrence}"
            self._keys.add(key)
            if key not in self.reported:
                self.reported.add(key)
                fresh.append(item)
        return fresh

    def end_poll(self, *, complete: bool) -> None:
        """A poll ended; ``complete``: it listed everything after the floor, so what it
        did not show is forgotten. The next poll starts afresh."""
        if complete:
            self.reported &= self._keys
        self._keys = set()


def bounded(stamp: int, server_ms: int | None) -> int:
    """Where an item stamped ``stamp`` may move a watermark: not past the server's time
    ``server_ms`` (``None``: unknown, no bound).

    ``server_ms`` is the end of a ``Date``'s second (:func:`~._page_body.server_time_ms`):
    an item stamped past it is dated in the future, and the watermark stops at the
    *start* of that second, since the listing may have begun anywhere in it: stopped at
    its end, a floor under a second behind (a small ``overlap``) would pass messages
    that arrive, correctly dated, in the rest of that second.
    """
    if server_ms is None or stamp <= server_ms:
        return stamp
    return server_ms - server_ms % 1000


class FollowTracker:
    """The mutable side of a :class:`WatchState`: what has been handed out so far.

    ``server_ms``: the server's time when the listing being handed out began
    (:meth:`saw`), which bounds the watermark; not part of the state (each run learns
    it afresh).
    """

    __slots__ = (
        "fingerprint",
        "floor_ms",
        "kind",
        "now",
        "seen",
        "server_ms",
        "unreadable",
        "watermark_ms",
    )

    def __init__(self, state: WatchState) -> None:
        self.now = state.now
        self.kind = state.kind
        self.fingerprint = state.fingerprint
        self.watermark_ms = state.watermark_ms
        self.floor_ms = state.floor_ms
        self.seen = {key: stamp for stamp, key in state.seen}
        self.unreadable = UnreadableLedger(state.unreadable)
        self.server_ms: int | None = None

    def saw(self, server_ms: int | None) -> None:
        """The poll (or listing) whose items are marked next began at the server's
        ``server_ms`` (:class:`~._page_body.ServerClock`; ``None``: not said, the last time
        known holds). A watch tells it once a poll, from the poll's first listing: its
        catch-up windows may lie past the server's clock (a future-dated item), and what
        arrives while they are listed must stay above the floor for the next poll."""
        if server_ms is not None:
            self.server_ms = server_ms

    def mark(self, stamp: int, key: str) -> None:
        """Record one item as handed out; the watermark moves to it, not past the server's time."""
        self.seen[key] = stamp
        top = bounded(stamp, self.server_ms)
        if self.watermark_ms is None or top > self.watermark_ms:
            self.watermark_ms = top

    def settle(self, overlap_ms: int) -> None:
        """Raise the floor behind the watermark and forget the ids below it."""
        self.floor_ms, self.seen = settle(self.watermark_ms, self.floor_ms, self.seen, overlap_ms)

    def state(self) -> WatchState:
        """A frozen snapshot."""
        seen = tuple(sorted((stamp, key) for key, stamp in self.seen.items()))
        return WatchState(
            kind=self.kind,
            fingerprint=self.fingerprint,
            watermark_ms=self.watermark_ms,
            floor_ms=self.floor_ms,
            seen=seen,
            now=self.now,
            unreadable=tuple(sorted(self.unreadable.reported)),
        )


class ListFollower:
    """Follows a ``list()`` as it is walked, so its end can start a watch.

    Every page fetched is noted (before its items are handed out: the state is only
    read once the listing is done). Only what lies within ``overlap`` of the newest
    timestamp is kept, whatever order the server pages in.
    """

    __slots__ = ("_overlap_ms", "_stamp", "_tracker")

    def __init__(self, state: WatchState, stamp: Stamp, *, overlap: float) -> None:
        self._tracker = FollowTracker(state)
        self._stamp = stamp
        self._overlap_ms = math.ceil(overlap * 1000)

    def note(self, items: Sequence[Any], server_ms: int | None = None) -> None:
        """Record a page's items as handed out (``server_ms``: the server's time when the
        listing began, as its responses said so far; it bounds the watermark).

        Pages are ordered by timestamp (the API says so, in either direction), so a page
        whose two placed ends lie at or below the floor holds nothing worth remembering:
        a long backfill costs two look-ups a page, not one an item. An end that cannot be
        placed (an unreadable item) says nothing of the items next to it: the nearest
        placed one stands in for it.
        """
        tracker = self._tracker
        tracker.saw(server_ms)
        stamp = self._stamp
        if items and tracker.floor_ms is not None:
            lowest = tracker.floor_ms
            ends = (_first_placed(stamp, items), _first_placed(stamp, reversed(items)))
            if all(end is None or end[0] <= lowest for end in ends):
                return
        for item in items:
            placed = stamp(item)
            if placed is None:
                continue
            at, key = placed
            floor = tracker.floor_ms
            if floor is None or at > floor:
                tracker.mark(at, key)
        tracker.settle(self._overlap_ms)

    def state(self) -> WatchState:
        """The state a watch continuing this listing starts from."""
        return self._tracker.state()


def _first_placed(stamp: Stamp, items: Iterable[Any]) -> tuple[int, str] | None:
    """The place of the first of ``items`` that has one."""
    return next((placed for placed in map(stamp, items) if placed is not None), None)


# -- catching up a backlog ------------------------------------------------------------------

#: A catch-up holds at most this many pages of a window's items (the memory bound).
CAP_PAGES: Final = 8
#: Catch-up windows are sized to hold about this many pages.
TARGET_PAGES: Final = 2
#: A window that listed little lets the next one grow at most this many times wider; the
#: search for the oldest item steps back this many times further each probe.
GROWTH: Final = 8
#: The earliest bound a catch-up lists from: 1000-01-01T00:00:00.000Z, the first moment
#: whose year has four digits (the API's timestamps have four).
EARLIEST_MS: Final = -30_610_224_000_000


class Window(NamedTuple):
    """A catch-up window in epoch ms: listed strictly ``after`` and strictly ``before``."""

    after: int
    #: ``None``: open, up to whatever the server lists now.
    before: int | None


def density_span(count: int, covered_ms: int, target: int) -> int:
    """Milliseconds that hold about ``target`` items where ``count`` items lay in ``covered_ms``.

    At least 1 ms (one millisecond is the narrowest window); ``count`` must be > 0.
    """
    if count <= 0:
        raise ValueError(f"count must be > 0, got {count!r}")
    return max(1, max(1, covered_ms) * target // count)


def grown_span(span: int, listed: int, *, target: int) -> int:
    """The span of the next window, after one of ``span`` ms listed ``listed`` items.

    The listing's density sizes it to about ``target`` items, but it grows at most
    :data:`GROWTH` times a window (an empty window: exactly that), so a long empty gap
    is crossed in a few listings and a dense spot after it costs one narrower retry.
    """
    if listed <= 0:
        return span * GROWTH
    return min(span * GROWTH, density_span(listed, span, target))


def shrunk_span(span: int, held: Sequence[int], *, target: int) -> int:
    """The span to list again after a window of ``span`` ms held more than it may.

    Sized to about ``target`` items at the density of the stamps ``held`` (what the
    listing gave before it was cut off, in whatever order the server pages), but at
    most half and at least an eighth (:data:`GROWTH`) of ``span``: a burst among the
    items held does not make the next windows needlessly narrow. At least 1 ms.
    """
    half = max(1, span // 2)
    if not held:
        return half
    wanted = density_span(len(held), max(held) - min(held) + 1, target)
    return max(1, span // GROWTH, min(half, wanted))


def gallop(edge: int, span: int) -> Iterator[int]:
    """Where to look for the oldest item, older than ``edge``: ``edge - span * GROWTH**k``.

    A catch-up without a floor lists ``before=`` each point (one item at most) until one
    lists nothing: every item is then at or after that point. Ends at :data:`EARLIEST_MS`.
    """
    step = max(1, span)
    while edge - step > EARLIEST_MS:
        yield edge - step
        step *= GROWTH
    yield EARLIEST_MS


class CatchUp:
    """Where a catch-up stands: the window to list next, sized from what was listed so far.

    Pure decisions, no I/O. The watch lists :attr:`window` whole, holding at most a cap
    of its items (one page only while :attr:`probing`), and reports how it went:

    * :meth:`fits` (the listing ended within the cap): its new items are handed out,
      oldest first, and the next window starts where this one ended (its last
      millisecond, exclusive), sized from this one's density (:func:`grown_span`);
      once an *open* window (up to now) fits, the catch-up is :attr:`done`;
    * :meth:`overflows` (the cap was reached first): nothing is handed out; the oldest
      stamp the window held becomes a *bound*, below which the next windows stay (the
      API lists the newest first, so what was held lies above it and gets a window of
      its own once the windows below reach it), and the span narrows
      (:func:`shrunk_span`). Held items that reach down to the window's first
      millisecond make that millisecond a window of its own (:attr:`single`), which the
      watch hands out as it lists it: one millisecond cannot be narrowed.

    Gaps. After an empty window the next is eight times wider (:data:`GROWTH`) and only
    its first page is taken (:attr:`probing`): a gap of months is crossed in a few
    listings, and where the backlog starts is then found by bisection, one request a
    step: a probe that holds more than a page is halved, and once its lower half is
    empty, the upper half is halved in turn, until a window fits.

    Every window starts where the last one ended and stays below the nearest bound, so
    the windows tile the time after ``lo`` exactly once, whatever order the server lists
    in; the listing order only decides how many listings that takes.
    """

    __slots__ = ("bisecting", "bounds", "ceiling", "done", "lo", "probing", "span", "target")

    def __init__(self, lo: int, *, span: int, edge: int | None, target: int) -> None:
        if span < 1 or target < 1:
            raise ValueError(f"span and target must be >= 1, got {span!r}, {target!r}")
        #: Every item at or before ``lo`` (ms) has been handed out, or was never new.
        self.lo = lo
        #: The width of the next window, in ms (when no bound is nearer).
        self.span = span
        self.target = target
        self.done = False
        #: Upper bounds (exclusive, ms) of the windows to come, nearest last; past the
        #: last one, the listing is open. ``edge``: the first, the oldest item of the
        #: listing that found the backlog (the newest ones: they fit the open window).
        self.bounds: list[int] = [] if edge is None else [edge]
        #: Half the width of the last window that overflowed: empty windows after it
        #: grow no wider (they would overflow again), until a window lists something.
        self.ceiling: int | None = None
        #: Whether the last window listed nothing: take only the first page of the next.
        self.probing = False
        #: Whether the items are known to lie within twice ``span`` after ``lo`` (a probe
        #: overflowed): each empty window halves the span instead of growing it.
        self.bisecting = False
        self._drop_passed()

    def _drop_passed(self) -> None:
        while self.bounds and self.lo + 1 >= self.bounds[-1]:
            self.bounds.pop()

    @property
    def window(self) -> Window:
        """The window to list next: ``span`` ms after ``lo``, not past the nearest bound."""
        if not self.bounds:
            return Window(self.lo, None)
        return Window(self.lo, min(self.lo + self.span + 1, self.bounds[-1]))

    @property
    def single(self) -> bool:
        """Whether the window to list next is one bounded millisecond (cannot be narrowed)."""
        after, before = self.window
        return before == after + 2

    def fits(self, listed: int) -> None:
        """The window was listed whole: ``listed`` items (new or not) with a time."""
        after, before = self.window
        if before is None:
            self.done = True
            return
        width = before - 1 - after
        self.lo = before - 1
        if listed:
            self.span = grown_span(width, listed, target=self.target)
            self.ceiling = None
            self.bisecting = False
        elif self.bisecting:
            self.span = max(1, width // 2)
        else:
            self.span = grown_span(width, 0, target=self.target)
            if self.ceiling is not None:
                self.span = min(self.span, self.ceiling)
        self.probing = not listed
        self._drop_passed()

    def overflows(self, held: Sequence[int]) -> None:
        """The window held too much before its listing ended; ``held`` are the stamps it held.

        An open window that held nothing placeable after ``lo`` cannot be narrowed by
        time: the catch-up ends (:attr:`done`).
        """
        after, before = self.window
        if before == after + 2:
            raise ValueError("a one-millisecond window cannot be narrowed")
        oldest = min((stamp for stamp in held if stamp > after), default=None)
        if oldest is None:
            if before is None:
                self.done = True
            else:
                self.span = max(1, (before - 1 - after) // 2)
            return
        width = (before if before is not None else max(held) + 1) - 1 - after
        self.ceiling = max(1, width // 2)
        if self.probing:  # the one page held says little about the density below it
            self.span, self.bisecting = self.ceiling, True
        else:
            self.span = shrunk_span(width, held, target=self.target)
        self.bounds.append(max(oldest, after + 2))


def keep_oldest(entries: dict[str, Entry[T]], cap: int) -> tuple[dict[str, Entry[T]], bool]:
    """The ``cap`` oldest ``entries`` (by time, then key), in that order, and whether any
    were left out."""
    ordered = sorted(entries.values(), key=lambda entry: (entry[0], entry[1]))
    return {entry[1]: entry for entry in ordered[:cap]}, len(ordered) > cap
