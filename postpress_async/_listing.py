"""The listings a watch polls with: the call that makes one, and walking one to its end.

:class:`ListAfter` is what a :class:`~._watch.WatchStream` is given to list its endpoint
between strict time bounds (a resource binds its filters); :func:`listing_pages` walks one
listing's pages and closes the walk and the listing however it ends; :func:`newest_stamp`
asks one for its newest item.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from ._follow import Stamp
from ._time import from_ms

if TYPE_CHECKING:
    from ._pagination import ListStream
    from .models import Page

__all__ = ["ListAfter", "listing_pages", "newest_stamp"]

T = TypeVar("T")


class ListAfter(Protocol[T]):
    """Lists the watched endpoint (with the watch's filters) between strict bounds.

    ``limit`` overrides the watch's page size for one listing (``limit=1``: the newest
    item only). Each call is one listing, walked with no prefetch.
    """

    def __call__(
        self,
        *,
        after: datetime | None,
        before: datetime | None = None,
        limit: int | None = None,
    ) -> ListStream[T]: ...


@contextlib.asynccontextmanager
async def listing_pages(listing: ListStream[T]) -> AsyncGenerator[AsyncIterator[Page[T]], None]:
    """A listing's pages, the walk and the listing both closed at exit, however it ends."""
    async with listing:
        pages = listing.pages()
        try:
            yield pages
        finally:
            if isinstance(pages, AsyncGenerator):
                await pages.aclose()


async def newest_stamp(
    list_after: ListAfter[T], stamp: Stamp, *, after: int | None = None, before: int | None = None
) -> tuple[int | None, int | None]:
    """The stamp of the newest item listed strictly between ``after`` and ``before`` (ms;
    ``None``: unbounded), and the server's time of that listing: one request
    (``limit=1``: the API lists newest first). ``None``: nothing there can be placed."""
    listing = list_after(
        after=None if after is None else from_ms(after),
        before=None if before is None else from_ms(before),
        limit=1,
    )
    stamps = [placed[0] for placed in map(stamp, (await listing).items) if placed is not None]
    return max(stamps, default=None), listing.server_ms
