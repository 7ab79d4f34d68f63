"""Keeping a store in sync after its backfill: the incremental catch-up, the follow, and
the accounts' refresh, all committed through a :class:`~._commit.Committer`.

Messages and chats (:func:`sync_follow`). The store's ``follow`` position is a
:class:`~postpress_async.WatchState`; a :class:`~postpress_async._watch.WatchStream`
over the raw rows continues from it (the same polls, overlap and exactly-once rule as
``watch``), and every batch it hands out is committed with the state right after it, so
a kill loses at most the batches not yet committed, which the next run lists again.

*Caught up*, exactly: the stream calls its ``sleep`` between two polls, once every
batch of a poll has been handed out and queued for the committer. At that moment the
last poll is judged: if it handed out at most one page (``limit`` items), the store is
caught up to what the API listed during that poll; if it handed out more (a backlog,
or a fast feed), the next poll starts at once, without waiting the poll interval.
Without ``follow`` the sync stops at the first caught-up poll (after committing the
state, which may have moved without an item: a ``since="now"`` resolved from the
server); with ``follow`` it waits ``policy``'s interval after each caught-up poll, and
polls until cancelled (only the commit in flight finishes; the stored position covers
exactly the rows stored). A stream that hands out a long backlog in bounded windows,
batch by batch, needs nothing more from this module: each batch is committed as it
comes.

Chats are found by their last activity, which moves: a chat listed again with a newer
time is a change to store (upserted), so the follow knows chats by ``id@time``. With
the client's ``chat_time="activity"`` (default) each poll lists them ``after=`` the
follow's floor; with ``"created"`` (the server's ``after`` bounds a creation time, which
cannot find a chat whose activity moved) each poll lists every chat of the filters and
stores those whose ``id@time`` is new (``WatchStream(timed=False)``).

Items that cannot be read (rejects) have no time of their own. Each is placed at the
newest time of the readable rows on its page (the page is cut from a listing ordered by
time, so it was listed there) and known by the digest of its bytes, so a poll's overlap
hands it out once. That place is only a guess (an unreadable item at the top of a page
may be newer than it), so the follow may forget a reject the API still lists and hand it
out again, and a backfill's follow position knows none of the rejects it stored: the
store keeps a reject once by its bytes (the sink contract), which covers every path.
A page with no readable row gives no place, and its rejects are left out of the follow
(a backfill stores them).

Accounts (:func:`refresh_accounts`) have no time to follow: a refresh lists them all and
stores those whose bytes are new or changed since the stored
:class:`~postpress_async._positions.AccountsSeen` (a digest of each account's bytes).

:func:`merge_follow` derives the follow position from the shards' checkpoints once a
backfill is done (pure, tested on its own).
"""

from __future__ import annotations

import dataclasses
import random as _random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import anyio
import anyio.lowlevel
import msgspec

from postpress_async._client import AsyncPostpress
from postpress_async._exceptions import StateMismatchError
from postpress_async._follow import settle
from postpress_async._poll import PollPolicy, WatchKind, poll_delay, start_state
from postpress_async._positions import AccountsSeen, WatchState, filters_fingerprint
from postpress_async._rows import Reject, Row, RowPage, row_stamp
from postpress_async._watch import WatchStream

from ._commit import Committer
from ._lister import Rejected, follow_stamp, lister
from ._run import IngestProgress, accounts_seen, see_accounts
from .sinks._base import FOLLOW, Sink, Stored

__all__ = [
    "Counter",
    "Pace",
    "SyncResult",
    "chat_keys",
    "follow_start",
    "merge_follow",
    "refresh_accounts",
    "sync_follow",
]

Sleep = Callable[[float], Awaitable[None]]


@dataclasses.dataclass(slots=True)
class SyncResult:
    """What a catch-up, follow or refresh stored."""

    #: Rows and rejects committed.
    items: int = 0
    rejects: int = 0
    #: Accounts only: accounts stored that the store did not hold, and whose bytes changed.
    new: int | None = None
    changed: int | None = None
    polls: int = 0
    #: The follow position after the last commit (encoded), and its watermark.
    position: bytes | None = None
    caught_up_ms: int | None = None


# -- the follow position ------------------------------------------------------------------


def merge_follow(
    parts: Sequence[tuple[int | None, WatchState]],
    *,
    kind: str,
    fingerprint: str,
    overlap_ms: int,
) -> WatchState:
    """One follow position from the final follow states of a backfill's shards.

    ``parts``: each shard's ``(floor it started from, final state)`` (the start is its
    window's ``after`` in ms, ``None`` when open). The rule:

    * watermark: the highest of the shards';
    * seen: the union of the shards' ``seen`` (a key seen twice keeps its newest time);
    * floor: the highest floor among the shards that forgot ids (a floor above its
      start: below it that shard's ``seen`` is incomplete), never below the lowest
      floor (the export's own ``after``); then settled with ``overlap_ms`` (the floor
      rises to ``watermark - overlap - 1 ms``, ids at or below it are dropped).

    So every stored item above the floor is in ``seen`` (nothing is stored twice) and,
    like a single listing, the floor trails the newest item by the overlap.
    """
    watermark: int | None = None
    floors: list[int | None] = []
    pruned: list[int] = []
    seen: dict[str, int] = {}
    for start, state in parts:
        if state.watermark_ms is not None:
            watermark = (
                state.watermark_ms if watermark is None else max(watermark, state.watermark_ms)
            )
        floors.append(state.floor_ms)
        if state.floor_ms is not None and state.floor_ms != start:
            pruned.append(state.floor_ms)
        for stamp, key in state.seen:
            seen[key] = max(stamp, seen.get(key, stamp))
    floor = None if not floors or None in floors else min(f for f in floors if f is not None)
    if pruned:
        floor = max(pruned) if floor is None else max(floor, *pruned)
    floor, kept = settle(watermark, floor, seen, overlap_ms)
    return WatchState(
        kind=kind,
        fingerprint=fingerprint,
        watermark_ms=watermark,
        floor_ms=floor,
        seen=tuple(sorted((stamp, key) for key, stamp in kept.items())),
    )


def chat_keys(state: WatchState) -> WatchState:
    """A chats state whose ``seen`` knows chats by ``id@time`` (see the module docstring).

    A listing's or a watch's state knows them by id: those keys are converted, keys
    already ``id@time`` are kept.
    """
    seen = tuple(
        (stamp, key if key.endswith(f"@{stamp}") else f"{key}@{stamp}") for stamp, key in state.seen
    )
    return state if seen == state.seen else msgspec.structs.replace(state, seen=seen)


def follow_start(
    endpoint: WatchKind,
    filters: dict[str, str],
    stored: Stored | None,
    *,
    since: object,
    url: str,
) -> tuple[WatchState, bytes | None]:
    """Where the follow starts, and the position it moves from (``None``: none stored).

    A stored position must belong to these filters (else
    :class:`~postpress_async.StateMismatchError` naming both); without one the follow
    starts from ``since`` (``"now"``: resolved from the server at the first poll).
    """
    fingerprint = filters_fingerprint(endpoint, filters)
    if stored is None:
        return start_state(
            "now" if since is None else since, kind=endpoint, fingerprint=fingerprint
        ), None
    try:
        state = msgspec.json.decode(stored.position, type=WatchState)
    except msgspec.DecodeError:
        raise StateMismatchError(
            f"{url}: the stored follow position of {endpoint} is not a watch state; "
            "start over with force=True (--force)"
        ) from None
    if state.fingerprint != fingerprint:
        asked = ", ".join(f"{k}={v}" for k, v in sorted(filters.items())) or "no filters"
        raise StateMismatchError(
            f"{url} follows {endpoint} with other filters (its position has fingerprint "
            f"{state.fingerprint}; {asked} give {fingerprint}): ask with the filters it was "
            "started with, or start over with force=True (--force)"
        )
    start = start_state(state, kind=endpoint, fingerprint=fingerprint)
    return (chat_keys(start) if endpoint == "chats" else start), stored.position


# -- messages and chats -------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Pace:
    """Commits each batch with the state after it; decides, between polls, whether the
    sync is caught up (see the module docstring)."""

    committer: Committer
    previous: bytes | None
    _: dataclasses.KW_ONLY
    follow: bool
    limit: int
    sleep: Sleep
    progress: IngestProgress | None
    stream: WatchStream[Row] | None = None
    handed: int = 0
    #: The position the batches move, and how a state is stored under it.
    name: str = FOLLOW
    encode: Callable[[WatchState], bytes] = msgspec.json.encode

    def state(self) -> WatchState:
        assert self.stream is not None
        return self.stream.state

    async def commit(self, batch: list[Row]) -> None:
        """Queue ``batch`` with the state after it (an empty batch: only if it moved)."""
        state = self.state()
        new = self.encode(state)
        if not batch and new == self.previous:
            return
        rows: list[Row] = []
        rejects: list[Reject] = []
        for row in batch:
            if isinstance(row, Rejected):
                rejects.append(row.reject)
            else:
                rows.append(row)
        page = RowPage(items=rows, rejects=rejects)
        await self.committer.put(self.name, page, new, self.previous)
        self.previous = new
        if self.progress is not None:
            self.progress.caught_up_ms = state.watermark_ms

    async def drain(self, stream: WatchStream[Row]) -> None:
        """Pace ``stream`` (made with ``sleep=self.between_polls``): each batch committed
        with the state after it, until the stream ends."""
        self.stream = stream
        async with stream:
            async for batch in stream.batches():
                self.handed += len(batch)
                await self.commit(batch)

    async def between_polls(self, delay: float) -> None:
        """The stream's ``sleep``: the last poll is over, every batch of it queued."""
        assert self.stream is not None
        await self.commit([])
        caught_up = self.handed <= self.limit
        self.handed = 0
        if not caught_up:
            await anyio.lowlevel.checkpoint()  # a backlog: the next poll at once
            return
        if not self.follow:
            await self.stream.aclose()  # the stream ends before another poll
            return
        if self.progress is not None:
            self.progress.phase = "follow"
        await self.sleep(delay)


@dataclasses.dataclass(slots=True)
class Counter:
    """A committer's ``on_commit``: what it stored, counted into ``result`` and
    ``progress``; and the client's retries since it was made, added to ``progress``'s."""

    result: SyncResult
    progress: IngestProgress | None
    client: AsyncPostpress
    base: int = 0

    def __post_init__(self) -> None:
        counted = 0 if self.progress is None else self.progress.retries
        self.base = self.client.stats().total_retries - counted

    def __call__(self, rows: int, rejects: int) -> None:
        self.result.items += rows
        self.result.rejects += rejects
        if self.progress is not None:
            self.progress.stored(rows, rejects)
        self.retried()

    def retried(self) -> None:
        if self.progress is not None:
            self.progress.retries = self.client.stats().total_retries - self.base


async def sync_follow(
    client: AsyncPostpress,
    endpoint: WatchKind,
    sink: Sink,
    *,
    filters: dict[str, str],
    start: WatchState,
    previous: bytes | None,
    follow: bool,
    policy: PollPolicy,
    limit: int,
    progress: IngestProgress | None = None,
    max_pages: int = 16,
    sleep: Sleep = anyio.sleep,
    random: Callable[[], float] = _random.random,
    export_after: datetime | None = None,
) -> SyncResult:
    """Catch ``sink`` up from ``start`` (stored as ``previous``), then follow if asked.

    ``filters`` are the API's strings; ``limit`` the page size (and the "caught up"
    measure). ``export_after``: the export's own ``after``; chats under
    ``chat_time="created"`` are listed after it (a creation bound, as the export's
    backfill was), with no bound of the follow's. See the module docstring.
    """
    base = row_stamp(endpoint, sink.columns)
    timed = endpoint != "chats" or client.chat_time == "activity"
    list_after = lister(
        client,
        endpoint,
        filters,
        columns=sink.columns,
        limit=limit,
        after=None if timed else export_after,
        timed=timed,
    )
    result = SyncResult()

    if progress is not None:
        progress.phase = "catch-up"
    counter = Counter(result, progress, client)
    try:
        async with Committer(sink, endpoint, on_commit=counter, max_pages=max_pages) as committer:
            pace = Pace(
                committer, previous, follow=follow, limit=limit, sleep=sleep, progress=progress
            )
            stream = WatchStream(
                list_after,
                follow_stamp(endpoint, base),
                start,
                policy=policy,
                limit=limit,
                sleep=pace.between_polls,
                random=random,
                timed=timed,
            )
            await pace.drain(stream)
            result.polls = stream.polls
    finally:  # also the retries of a poll that stored nothing, or was cancelled
        counter.retried()
    state = stream.state
    result.position = pace.previous
    result.caught_up_ms = state.watermark_ms
    return result


# -- accounts -----------------------------------------------------------------------------


async def refresh_accounts(
    client: AsyncPostpress,
    sink: Sink,
    *,
    previous: bytes | None,
    follow: bool,
    policy: PollPolicy,
    limit: int,
    restart: bool = False,
    prefetch: int | None = None,
    progress: IngestProgress | None = None,
    max_pages: int = 16,
    sleep: Sleep = anyio.sleep,
    random: Callable[[], float] = _random.random,
) -> SyncResult:
    """List every account; store those new or changed since ``previous`` (an encoded
    :class:`AccountsSeen`); with ``follow``, again after each poll interval.

    ``restart``: forget what ``previous`` saw (every account is stored again), still
    moving the stored position from ``previous``.
    """
    digests = {} if restart else accounts_seen(previous)
    result = SyncResult(new=0, changed=0)

    if progress is not None:
        progress.phase = "catch-up"
    idle = 0
    counter = Counter(result, progress, client)
    try:
        async with Committer(sink, "accounts", on_commit=counter, max_pages=max_pages) as committer:
            while True:
                found = 0
                stream = client.accounts.rows(columns=sink.columns, limit=limit, prefetch=prefetch)
                async with stream:
                    async for page in stream.pages():
                        assert isinstance(page, RowPage)
                        rows, rejects, new, changed = see_accounts(
                            digests, page.items, page.rejects
                        )
                        if not rows and not rejects:
                            continue
                        position = msgspec.json.encode(AccountsSeen(digests=digests))
                        await committer.put(
                            FOLLOW, RowPage(items=rows, rejects=rejects), position, previous
                        )
                        previous = position
                        found += len(rows) + len(rejects)
                        result.new = (result.new or 0) + new
                        result.changed = (result.changed or 0) + changed
                result.polls += 1
                if not follow:
                    break
                if progress is not None:
                    progress.phase = "follow"
                idle = 0 if found else idle + 1
                await sleep(poll_delay(policy, idle, random))
    finally:  # also the retries of a poll that stored nothing, or was cancelled
        counter.retried()
    result.position = previous
    return result
