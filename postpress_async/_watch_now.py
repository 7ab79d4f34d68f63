"""Where "now" is for a watch started with ``since="now"``: read from the server, never
from the local clock.

"Now" is the newest item the server lists, or, if that one is dated past the server's
own time (the ``Date`` of the response that listed it), that time less the lag allowance
(:func:`~._follow.bounded`): an item a provider dated in the future (2099) would otherwise
be "now", and nothing correctly dated would ever come after it. The
ids listed within ``overlap`` before it, and those dated after it up to the newest
listed (the future-dated ones), are marked seen; the floor is set ``overlap`` behind
it. "Now" is read by two requests (the newest item, then the ids near it): an item
dated between the two responses' times may have arrived between them, so it is not
marked seen but handed out by the first poll. So the first poll hands out exactly what
the server lists after that moment, late listings within the overlap included. An
empty listing makes everything that ever appears new. :class:`~._watch.WatchStream`
calls :func:`resolve_now` before its first poll.
"""

from __future__ import annotations

from typing import Any

from ._follow import FollowTracker, Stamp, bounded
from ._listing import ListAfter, newest_stamp
from ._time import from_ms

__all__ = ["resolve_now"]


async def resolve_now(
    list_after: ListAfter[Any],
    stamp: Stamp,
    tracker: FollowTracker,
    *,
    overlap_ms: int,
    timed: bool,
    cap: int,
) -> None:
    """Turn ``tracker``, marked ``now``, into where the server is now (see the module
    docstring). ``timed=False``: the listing's ``after`` does not bound the stamps (see
    :func:`_untimed`); ``cap``: the most items the watch holds at once."""
    if not timed:
        await _untimed(list_after, stamp, tracker, overlap_ms=overlap_ms, cap=cap)
        return
    newest, server_ms = await newest_stamp(list_after, stamp)  # one request
    if newest is not None:
        tracker.saw(server_ms)
        now = bounded(newest, tracker.server_ms)
        floor = now - overlap_ms - 1
        # Before now: up to the newest item, or the server's time if it is future-dated.
        cut = newest if now == newest else tracker.server_ms or newest
        listing = list_after(after=from_ms(floor))
        async with listing:
            async for item in listing:
                placed = stamp(item)
                if placed is None:
                    continue
                # Dated between the first request's time and the second's, an item may
                # have arrived between them: handed out. Past the second's, it is
                # future-dated (the newest one was listed first): seen.
                upper = max(cut, listing.server_ms or cut)
                if floor < placed[0] <= cut or upper < placed[0] <= newest:
                    tracker.seen[placed[1]] = placed[0]
        tracker.watermark_ms, tracker.floor_ms = now, floor
    tracker.now = False


async def _untimed(
    list_after: ListAfter[Any], stamp: Stamp, tracker: FollowTracker, *, overlap_ms: int, cap: int
) -> None:
    """:func:`resolve_now` for an untimed listing: one whole listing gives the newest
    stamp and the ids within ``overlap`` of it (its order is not relied on)."""
    newest: int | None = None
    now = 0
    near: dict[str, int] = {}
    listing = list_after(after=None)
    async with listing:
        async for item in listing:
            placed = stamp(item)
            if placed is None:
                continue
            at, key = placed
            if newest is None or at > newest:
                newest = at
            # The server's time is known from the page's response before its items.
            now = bounded(newest, listing.server_ms)
            if at > now - overlap_ms - 1:
                near[key] = at
            if len(near) > 2 * cap:  # forget what fell out of the overlap
                near = {k: v for k, v in near.items() if v > now - overlap_ms - 1}
    if newest is not None:
        tracker.saw(listing.server_ms)
        floor = now - overlap_ms - 1
        tracker.seen.update((k, v) for k, v in near.items() if v > floor)
        tracker.watermark_ms, tracker.floor_ms = now, floor
    tracker.now = False
