"""The follow decisions, as pure functions and small trackers: what is new, what to forget.

The API has no change feed, only listings with strict ``after``/``before`` bounds on a
millisecond timestamp. Following one keeps a small state (:class:`~._positions.WatchState`):

* ``watermark``: the newest timestamp handed out, but never past the server's own clock
  (the ``Date`` of the first response of the poll that listed it, its catch-up windows
  included, see :mod:`._page_body`) less :data:`LAG_ALLOWANCE_MS`, nor, within a poll,
  past the newest item its first listing showed: an item a provider dated in the future
  (a wrong clock: 2099) is handed out, yet the watermark stays behind the server's
  time, so what is correctly dated after it (stamped behind that clock) is still found;
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
The catch-up of a backlog is :mod:`._catch_up`'s. Nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from ._exceptions import UnreadableItem
from ._lazy import hashlib
from ._positions import WatchState

__all__ = [
    "DEFAULT_OVERLAP",
    "LAG_ALLOWANCE_MS",
    "Entry",
    "FollowTracker",
    "ListFollower",
    "Stamp",
    "UnreadableLedger",
    "bounded",
    "fresh",
    "keep_oldest",
    "settle",
]

T = TypeVar("T")
#: ``(timestamp in ms, key)`` of an item, or ``None`` for an item that cannot be placed.
Stamp = Callable[[Any], "tuple[int, str] | None"]
#: ``(timestamp in ms, key, item)``: what a poll found, ready to sort.
Entry = tuple[int, str, T]

#: Seconds a follow re-scans behind its watermark unless told otherwise (``PollPolicy``'s
#: default overlap, and what a finished ``list()`` remembers ids for).
DEFAULT_OVERLAP: Final = 10.0
#: How far behind the server's clock (its ``Date``) a correctly dated message may be
#: stamped: a future-dated item moves a position no further than the server's time less
#: this (see :func:`bounded`); what lags more than this and the overlap together is missed.
LAG_ALLOWANCE_MS: Final = 15 * 60_000


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
    ``server_ms`` less :data:`LAG_ALLOWANCE_MS` (``None``: unknown, no bound).

    ``server_ms`` is the end of a ``Date``'s second (:func:`~._page_body.server_time_ms`):
    an item stamped past it is dated in the future. Correctly dated messages arrive
    stamped behind the server's clock (providers' clocks lag it by seconds to minutes),
    so a watermark moved up to the server's time would put the next of them below the
    floor; the future-dated item moves it to the *start* of that second (the listing may
    have begun anywhere in it) less the allowance, which a correctly dated item newer
    than that passes as usual. It still moves: a server whose clock runs behind every
    stamp keeps a floor that follows its clock, and ids remembered only for the gap.
    """
    if server_ms is None or stamp <= server_ms:
        return stamp
    return server_ms - server_ms % 1000 - LAG_ALLOWANCE_MS


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
        "limit_ms",
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
        self.limit_ms: int | None = None

    def saw(self, server_ms: int | None, listed: Iterable[int] | None = None) -> None:
        """The poll (or listing) whose items are marked next began at the server's
        ``server_ms`` (:class:`~._page_body.ServerClock`; ``None``: not said, the last time
        known holds). A watch tells it once a poll, from the poll's first listing: its
        catch-up windows may lie past the server's clock (a future-dated item), and what
        arrives while they are listed must stay above the floor for the next poll.

        ``listed``: the stamps that first listing showed (a timed poll). Until the next
        poll the watermark then moves no further than the newest of them not dated past
        the server's time: what a catch-up's later windows hand out past that arrived
        while the poll ran, stamped behind the server's clock, and a message arriving
        then into a window already listed is stamped no earlier than what existed when
        the poll began (less what the overlap covers). Past it, handed-out items stay in
        ``seen`` above the floor (:meth:`listed_all` moves on to them). If every stamp
        listed is dated in the future (more such items than the poll holds), none is set
        here: a watch about to catch up asks the server for its newest item up to its
        clock and sets :attr:`limit_ms` to it.
        """
        if server_ms is not None:
            self.server_ms = server_ms
        if listed is None:
            return
        known = self.server_ms
        limit = max((at for at in listed if known is None or at <= known), default=None)
        self.limit_ms = limit

    def listed_all(self) -> None:
        """The poll listed everything after its floor and all of it was handed out: the
        watermark moves on to what it handed out (or had, in an earlier poll) past an
        earlier limit, up to this poll's (those items existed when it began). Not while
        the poll runs: a catch-up hands out oldest first, and what it has not reached yet
        must stay above the floor."""
        limit = self.limit_ms
        if limit is None:
            return
        top = max((at for at in self.seen.values() if at <= limit), default=None)
        if top is not None and (self.watermark_ms is None or top > self.watermark_ms):
            self.watermark_ms = top

    def mark(self, stamp: int, key: str) -> None:
        """Record one item as handed out; the watermark moves to it, not past the server's
        time nor, in a poll, past the newest item its first listing showed (:meth:`saw`)."""
        self.seen[key] = stamp
        top = bounded(stamp, self.server_ms)
        if self.limit_ms is not None and top > self.limit_ms:
            top = self.limit_ms
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


def keep_oldest(entries: dict[str, Entry[T]], cap: int) -> tuple[dict[str, Entry[T]], bool]:
    """The ``cap`` oldest ``entries`` (by time, then key), in that order, and whether any
    were left out."""
    ordered = sorted(entries.values(), key=lambda entry: (entry[0], entry[1]))
    return {entry[1]: entry for entry in ordered[:cap]}, len(ordered) > cap
