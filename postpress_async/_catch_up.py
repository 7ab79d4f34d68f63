"""The catch-up of a backlog, as pure decisions: which time windows to list, oldest first.

A watch resumed after a long stop finds a backlog behind its floor: more
than it may hold at once. It then lists the backlog in time windows, oldest first, each
listed whole but never more than :data:`CAP_PAGES` pages of it held, and hands out each
window's new items before it lists the next one; :class:`CatchUp` decides the windows
(sized from the density of what was listed, about :data:`TARGET_PAGES` pages each,
narrower when one held too much, wider when one held little) and when the rest of the
listing, open up to now, fits at once. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final, NamedTuple

__all__ = [
    "CAP_PAGES",
    "CRAWL",
    "EARLIEST_MS",
    "GROWTH",
    "TARGET_PAGES",
    "CatchUp",
    "Window",
    "density_span",
    "gallop",
    "grown_span",
    "shrunk_span",
]

#: A catch-up holds at most this many pages of a window's items (the memory bound).
CAP_PAGES: Final = 8
#: Catch-up windows are sized to hold about this many pages.
TARGET_PAGES: Final = 2
#: A window that listed little lets the next one grow at most this many times wider; the
#: search for the oldest item steps back this many times further each probe.
GROWTH: Final = 8
#: Empty windows in a row while bisecting after which one item listed below the bound
#: tells whether anything lies there at all (:attr:`CatchUp.crawling`).
CRAWL: Final = 10
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
    empty, the upper half is halved in turn, until a window fits. After :data:`CRAWL` empty
    halves in a row the watch lists one item below the bound instead (:meth:`below`):
    when the items all lie in the bound's millisecond (a burst, items dated in the
    future) the windows move up to it at once, not in ``log2`` of the gap more listings.

    Every window starts where the last one ended and stays below the nearest bound, so
    the windows tile the time after ``lo`` exactly once, whatever order the server lists
    in; the listing order only decides how many listings that takes.

    ``stop``: the newest stamp that existed when the poll began (the watch's limit, see
    :meth:`~._follow.FollowTracker.saw`); once the windows pass it (:attr:`reached`) what
    they hand out stays remembered for the rest of the poll (the floor may not pass the
    limit), so the watch may end the poll and leave the rest to the next one, rather
    than chase a feed faster than its consumer for ever.
    """

    __slots__ = (
        "bisecting",
        "bounds",
        "ceiling",
        "done",
        "empties",
        "lo",
        "probing",
        "span",
        "stop",
        "target",
    )

    def __init__(
        self, lo: int, *, span: int, edge: int | None, target: int, stop: int | None = None
    ) -> None:
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
        self.stop = stop
        #: Half the width of the last window that overflowed: empty windows after it
        #: grow no wider (they would overflow again), until a window lists something.
        self.ceiling: int | None = None
        #: Whether the last window listed nothing: take only the first page of the next.
        self.probing = False
        #: Whether the items are known to lie within twice ``span`` after ``lo`` (a probe
        #: overflowed): each empty window halves the span instead of growing it.
        self.bisecting = False
        #: Empty windows in a row while bisecting.
        self.empties = 0
        self._drop_passed()

    def _drop_passed(self) -> None:
        while self.bounds and self.lo + 1 >= self.bounds[-1]:
            self.bounds.pop()

    @property
    def reached(self) -> bool:
        """Whether every item up to :attr:`stop` has been listed (never without one)."""
        return self.stop is not None and self.lo >= self.stop

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
        self.empties = self.empties + 1 if self.bisecting and not listed else 0
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

    @property
    def crawling(self) -> bool:
        """Whether the bisection has listed :data:`CRAWL` empty windows in a row: the items
        may all lie in the bound's millisecond (a burst, items dated in the future), which
        halving reaches only after about ``log2(span)`` more listings. The watch then lists
        one item below the bound instead (:meth:`below`)."""
        return self.bisecting and self.empties >= CRAWL and bool(self.bounds)

    def below(self, newest: int | None) -> None:
        """What one item listed after ``lo`` and before the nearest bound said: ``newest``
        is its stamp. ``None``: nothing lies below the bound, so the windows move up to it
        at once; otherwise the bound comes down to just past ``newest``.
        """
        self.empties = 0
        bound = self.bounds[-1]
        if newest is None:
            self.lo = bound - 1
            self._drop_passed()
        elif self.lo < newest < bound - 1:
            self.bounds.append(newest + 1)

    def overflows(self, held: Sequence[int]) -> None:
        """The window held too much before its listing ended; ``held`` are the stamps it held.

        An open window that held nothing placeable after ``lo`` cannot be narrowed by
        time: the catch-up ends (:attr:`done`).
        """
        after, before = self.window
        if before == after + 2:
            raise ValueError("a one-millisecond window cannot be narrowed")
        self.empties = 0
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
