"""Probing the API for where an export's data sits, and the pure math on what it found.

The API has no count endpoint. :class:`Probe` makes the planner's cheap requests (first
pages with ``limit=1`` or a full page, counted; read the raw way, so an item the SDK
cannot read is set aside rather than failing the plan); :func:`profile` uses them to find the
oldest and newest item of a listing (galloping, then bisecting ``before=``) and the
density of items at evenly spaced points; :class:`Profile` (an estimated cumulative count
over time) and :func:`density_profile` are pure: they are tested without an event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from postpress_async._client import AsyncPostpress
from postpress_async._params import MAX_LIMIT
from postpress_async._rows import RowPage
from postpress_async._tasks import gather
from postpress_async._time import from_ms, to_ms

from ._shards import Endpoint, Window

__all__ = ["PAGE", "Probe", "Profile", "density_profile", "probe_profile", "sample_points"]

PAGE: Final = MAX_LIMIT
_HOUR_MS: Final = 3_600_000
_MAX_SPAN_MS: Final = 100 * 365 * 24 * _HOUR_MS


class Probe:
    """The planner's requests: cheap first pages, counted."""

    def __init__(self, client: AsyncPostpress, endpoint: Endpoint, filters: dict[str, str]):
        self.client = client
        self.endpoint = endpoint
        self.filters = filters
        self.requests = 0

    async def page(
        self, *, limit: int, after: int | None, before: int | None, **extra: str
    ) -> tuple[list[int], bool]:
        """Timestamps (ms) of the first page, and whether it is the last page."""
        page = await self._first(limit=limit, after=after, before=before, **extra)
        stamps = [to_ms(row[1]) for row in page.items if row[1] is not None]
        return stamps, page.cursor is None

    async def count(self, *, window: Window, **extra: str) -> int:
        """Items on the first full page (twice that when more pages follow: "at least")."""
        page = await self._first(
            limit=PAGE,
            after=None if window.after is None else to_ms(window.after),
            before=None if window.before is None else to_ms(window.before),
            **extra,
        )
        found = len(page.items) + len(page.rejects)
        return found if page.cursor is None else 2 * found

    async def _first(
        self, *, limit: int, after: int | None, before: int | None, **extra: str
    ) -> RowPage:
        """The first page, read the raw way: an unreadable item is a reject, not an error."""
        self.requests += 1
        time = "created_at" if self.endpoint == "accounts" else "timestamp"
        page = await getattr(self.client, self.endpoint).rows(
            filters={**self.filters, **extra},
            after=None if after is None else from_ms(after),
            before=None if before is None else from_ms(before),
            columns=(time,),
            limit=limit,
            prefetch=0,
            follow=False,
        )
        assert isinstance(page, RowPage)
        return page


class Profile(msgspec.Struct, frozen=True):
    """An estimated cumulative count over time: ``counts[k]`` items before ``points[k]``."""

    points: list[int]
    counts: list[float]

    @property
    def total(self) -> float:
        return self.counts[-1] if self.counts else 0.0

    def cuts(self, pieces: int) -> list[int]:
        """Instants (ms) that cut the profile into ``pieces`` of equal estimated count."""
        out: list[int] = []
        total = self.total
        k = 1
        for q in range(1, pieces):
            goal = total * q / pieces
            while k < len(self.counts) - 1 and self.counts[k] < goal:
                k += 1
            c0, c1 = self.counts[k - 1], self.counts[k]
            p0, p1 = self.points[k - 1], self.points[k]
            share = 0.0 if c1 <= c0 else (goal - c0) / (c1 - c0)
            cut = p0 + round((p1 - p0) * min(1.0, max(0.0, share)))
            if cut > (out[-1] if out else self.points[0]) and cut < self.points[-1]:
                out.append(cut)
        return out

    def between(self, low: int | None, high: int | None) -> float:
        """Estimated items stamped in ``[low, high)`` (``None``: open)."""
        top = self.total if high is None else self._at(high)
        return top - (0.0 if low is None else self._at(low))

    def _at(self, moment: int) -> float:
        if moment >= self.points[-1]:
            return self.total
        if moment <= self.points[0]:
            return 0.0
        k = 1
        while self.points[k] < moment:
            k += 1
        p0, p1 = self.points[k - 1], self.points[k]
        c0, c1 = self.counts[k - 1], self.counts[k]
        return c0 + (c1 - c0) * (moment - p0) / max(1, p1 - p0)


def sample_points(low: int, high: int, samples: int) -> list[int]:
    """``samples + 1`` evenly spaced instants from ``low`` to ``high`` (ms)."""
    return [low + (high - low) * k // samples for k in range(samples + 1)]


def density_profile(points: Sequence[int], pages: Sequence[tuple[list[int], bool]]) -> Profile:
    """The profile from one probe page just before each point after the first.

    ``pages[k - 1]`` holds the timestamps (ms) of the newest items stamped before
    ``points[k]``, and whether that page was the listing's last. Per interval
    ``[points[k - 1], points[k])``:

    * a last page holds every item before its point: an exact cumulative count;
    * a page reaching back past the interval's start holds every item of the interval:
      an exact count of those stamped inside it;
    * otherwise the page's items span some time before the point, a density there; the
      interval gets at least the page's items, and otherwise the lower of this density
      and the one measured at the interval's start, times its length. A burst stamped
      in one millisecond just before a point (hundreds of messages delivered at once)
      must not be read as that rate over the whole interval: nor are the items stamped in
      the page's newest millisecond counted in its density, which then measures how the
      items before them are spread (a page all in one millisecond measures no rate: its
      interval gets its items).
    """
    counts = [0.0]
    before: float | None = None  # the density measured at the interval's start
    for k, (stamps, last) in enumerate(pages, start=1):
        low, high = points[k - 1], points[k]
        if last or not stamps:
            counts.append(max(counts[-1], float(len(stamps))))
            before = None
            continue
        oldest, newest = min(stamps), max(stamps)
        spread = sum(1 for stamp in stamps if stamp < newest)
        if not spread:  # all in one millisecond: a burst, no rate
            counts.append(counts[-1] + len(stamps))
            before = None
            continue
        density = spread / max(1, high - oldest)
        if oldest < low:
            inside = float(sum(1 for stamp in stamps if stamp >= low))
        else:
            rate = density if before is None else min(density, before)
            inside = max(float(len(stamps)), rate * (high - low))
        counts.append(counts[-1] + inside)
        before = density
    return Profile(points=list(points), counts=counts)


async def probe_profile(
    probe: Probe, *, after: int | None, before: int | None, samples: int, **extra: str
) -> Profile | None:
    """Where the items of one listing sit in time (``None``: it is empty)."""
    newest, _ = await probe.page(limit=1, after=after, before=before, **extra)
    if not newest:
        return None
    high = newest[0] + 1  # every item is stamped before `high`

    async def empty_before(moment: int) -> bool:
        stamps, _ = await probe.page(limit=1, after=after, before=moment, **extra)
        return not stamps

    # The oldest item: gallop back until nothing is older, then bisect to a fine grain.
    if after is not None:
        low = after + 1
    else:
        step = _HOUR_MS
        while not await empty_before(high - step):
            if step > _MAX_SPAN_MS:
                break
            step *= 8
        low = high - step
    top = high
    grain = max(1, (high - low) // 1024)
    while top - low > grain:
        middle = (low + top) // 2
        if await empty_before(middle):
            low = middle
        else:
            top = middle
    # Density: a full page just before each sample point spans some time.
    points = sample_points(low, high, samples)
    pages = await gather(
        [
            lambda p=p: probe.page(limit=PAGE, after=after, before=p, **extra)  # type: ignore[misc]
            for p in points[1:]
        ]
    )
    return density_profile(points, pages)
