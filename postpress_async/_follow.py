"""The follow decisions, as pure functions and small trackers: what is new, what to forget.

The API has no change feed, only listings with strict ``after``/``before`` bounds on a
millisecond timestamp. Following one keeps a small state (:class:`~._positions.WatchState`):

* ``watermark``: the newest timestamp handed out;
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
by the items of one overlap window. :func:`fresh` and :func:`settle` decide;
:class:`FollowTracker` holds the mutable side; :class:`ListFollower` records, while a
``list()`` is walked, where a watch continuing it starts. Nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from ._positions import WatchState

__all__ = [
    "DEFAULT_OVERLAP",
    "Entry",
    "FollowTracker",
    "ListFollower",
    "Stamp",
    "fresh",
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


class FollowTracker:
    """The mutable side of a :class:`WatchState`: what has been handed out so far."""

    __slots__ = ("fingerprint", "floor_ms", "kind", "now", "seen", "watermark_ms")

    def __init__(self, state: WatchState) -> None:
        self.now = state.now
        self.kind = state.kind
        self.fingerprint = state.fingerprint
        self.watermark_ms = state.watermark_ms
        self.floor_ms = state.floor_ms
        self.seen = {key: stamp for stamp, key in state.seen}

    def mark(self, stamp: int, key: str) -> None:
        """Record one item as handed out."""
        self.seen[key] = stamp
        if self.watermark_ms is None or stamp > self.watermark_ms:
            self.watermark_ms = stamp

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

    def note(self, items: Sequence[Any]) -> None:
        """Record a page's items as handed out.

        Pages are ordered by timestamp (the API says so, in either direction), so a page
        whose two ends lie at or below the floor holds nothing worth remembering: a long
        backfill costs two look-ups a page, not one an item.
        """
        tracker = self._tracker
        stamp = self._stamp
        if items and tracker.floor_ms is not None:
            lowest = tracker.floor_ms
            ends = (stamp(items[0]), stamp(items[-1]))
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
