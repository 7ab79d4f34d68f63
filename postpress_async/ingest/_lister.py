"""How a follow lists: the raw rows of a window, with the items that cannot be read
placed among them (see :mod:`._sync`'s docstring, *rejects*), and the stamp that orders
and keys them (chats by ``id@time``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple, Protocol

from postpress_async._client import AsyncPostpress
from postpress_async._pagination import ListStream, ServerClock
from postpress_async._poll import WatchKind
from postpress_async._positions import Checkpoint
from postpress_async._rows import Reject, Row, RowPage, row_stamp
from postpress_async.models import Page

from ._run import digest

__all__ = ["Lister", "Rejected", "follow_stamp", "lister"]


class Rejected(NamedTuple):
    """An item that could not be read, among a listing's rows (see the module docstring)."""

    reject: Reject
    place: tuple[int, str] | None


def _placed(
    page: Page[Row], stamp: Callable[[Row], tuple[int, str] | None], *, timeless: str | None
) -> Page[Row]:
    """``page`` with its rejects among its rows, each placed at the page's newest time.

    ``timeless``: the endpoint whose rows without a time are rejects too (messages: one
    has no place in time, so a follow could store it neither once nor in order; a chat
    without activity is one the follow of activity has nothing to say of)."""
    if not isinstance(page, RowPage):
        return page
    rows, rejects = page.items, page.rejects
    if timeless is None and not rejects:
        return page
    places = list(map(stamp, rows))
    if timeless is not None and None in places:
        rejects = [
            *rejects,
            *(_timeless(row, timeless) for row, at in zip(rows, places, strict=True) if at is None),
        ]
        rows = [row for row, at in zip(rows, places, strict=True) if at is not None]
    if not rejects:
        return page
    times = [placed[0] for placed in places if placed is not None]
    bound = max(times) if times else None
    counts: dict[str, int] = {}
    extra: list[Row] = []
    for reject in rejects:
        mark = digest(reject.raw)
        nth = counts[mark] = counts.get(mark, -1) + 1
        extra.append(Rejected(reject, None if bound is None else (bound, f"!{mark}:{nth}")))
    return RowPage(items=[*rows, *extra], cursor=page.cursor, object=page.object)


def _timeless(row: Row, endpoint: str) -> Reject:
    """A row without a time, set aside as a reject: its bytes as sent, and why."""
    what = endpoint.removesuffix("s")
    return Reject(bytes(row[-1]), f"{what} {row[0]!r} has no timestamp: a follow cannot place it")


def follow_stamp(
    endpoint: WatchKind, base: Callable[[Row], tuple[int, str] | None]
) -> Callable[[Row], tuple[int, str] | None]:
    chats = endpoint == "chats"

    def stamp(row: Row) -> tuple[int, str] | None:
        if isinstance(row, Rejected):
            return row.place
        placed = base(row)
        if placed is None or not chats:
            return placed
        return placed[0], f"{placed[1]}@{placed[0]}"

    return stamp


class Lister(Protocol):
    """What a :class:`WatchStream` lists a window with."""

    def __call__(
        self, *, after: datetime | None, before: datetime | None = None, limit: int | None = None
    ) -> ListStream[Row]: ...


def lister(
    client: AsyncPostpress,
    endpoint: WatchKind,
    filters: dict[str, str],
    *,
    columns: tuple[str, ...] | None,
    limit: int,
    after: datetime | None,
    timed: bool,
) -> Lister:
    """How a follow lists ``endpoint`` with ``filters``: the raw rows, its rejects placed
    among them; ``timed=False`` lists every window ``after`` the given bound instead."""
    base = row_stamp(endpoint, columns)
    resource = getattr(client, endpoint)
    fixed = after

    def list_after(
        *, after: datetime | None, before: datetime | None = None, limit: int | None = None
    ) -> ListStream[Row]:
        size = page_size if limit is None else limit
        if not timed:
            after = fixed
        clock = ServerClock()  # each page's own listing's server time, told to this one

        async def fetch(cursor: str | None) -> Page[Row]:
            rows: ListStream[Row] = resource.rows(
                filters=filters,
                after=after,
                before=before,
                columns=columns,
                limit=size,
                resume=Checkpoint(cursor=cursor),
                prefetch=0,
                follow=False,
            )
            page = _placed(await rows, base, timeless=endpoint if endpoint == "messages" else None)
            clock.saw(rows.server_ms)
            return page

        return ListStream(fetch, prefetch=0, clock=clock)

    page_size = limit
    return list_after
