"""Running one shard into a sink (:func:`run_shard`), and the counters of a run.

:func:`run_shard` reads the shard's position from the sink, resumes the shard's row
stream from it (the raw path: ``client.<endpoint>.rows(...)``, each item's exact bytes
plus the sink's typed columns) and hands each page to the :class:`~._commit.Committer`
with the checkpoint right after it; the committer stores rows and position in one
commit. A run killed at any point resumes from the store: no page is lost, none is
stored twice. The last page, even an empty one, moves the position to ``done``; a
shard already done is skipped without a request.

Accounts have no time to follow: the accounts' follow position is the digest of each
account's bytes as stored (:class:`~postpress_async._positions.AccountsSeen`). Their
backfill moves it with the shard's checkpoint in the same commit, so a later refresh
stores exactly the accounts that are new or changed since.

Engines call :func:`run_shard`; :mod:`._ingest` calls the engines.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable

import msgspec

from postpress_async._client import AsyncPostpress
from postpress_async._exceptions import StateMismatchError
from postpress_async._positions import AccountsSeen, Checkpoint
from postpress_async._rows import Reject, Row, RowPage, digest
from postpress_async._time import format_datetime, from_ms
from postpress_async._words import counted

from ._commit import Committer, Position
from ._shards import Shard
from .sinks._base import FOLLOW, Sink, Stored

__all__ = [
    "IngestProgress",
    "ShardResult",
    "accounts_seen",
    "digest",
    "run_shard",
    "see_accounts",
]


class ShardResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one run of a shard did."""

    label: str
    #: Rows and pages this run handed to the store (not counting earlier runs); all
    #: committed once the run's committer has ended.
    items: int = 0
    pages: int = 0
    #: Items that could not be read, stored aside (rejects), besides ``items``.
    rejects: int = 0
    #: HTTP retries this run's client made (one client a shard on Dask; shared locally).
    retries: int = 0
    done: bool = False
    #: True when the shard was already complete in the store.
    skipped: bool = False

    def with_earlier_tries(self, before: Stored | None, after: Stored | None) -> ShardResult:
        """This result of a task's last try, plus what its earlier tries committed (a
        Dask task failed or its worker died, then ran again): the shard's stored item
        and page counts moved from ``before`` to ``after`` over all of them. The earlier
        tries' rejects count as items (the position does not tell them apart)."""
        if after is None:
            return self
        items = after.items - (0 if before is None else before.items) - self.items - self.rejects
        pages = after.pages - (0 if before is None else before.pages) - self.pages
        return msgspec.structs.replace(
            self, items=self.items + max(0, items), pages=self.pages + max(0, pages)
        )


@dataclasses.dataclass(slots=True)
class IngestProgress:
    """Counters an ingest updates as it goes; :meth:`text` is the progress line.

    ``items`` and ``rejects`` count what is STORED (committed), never what was fetched.
    """

    noun: str = "items"
    shards: int = 0
    shards_done: int = 0
    items: int = 0
    rejects: int = 0
    retries: int = 0
    #: Requests this process's client made (set when the run ends; Dask workers' own
    #: clients are counted by their tasks, in ``retries`` only).
    requests: int = 0
    #: ``"plan"``, ``"backfill"``, ``"catch-up"``, ``"follow"`` or ``"done"``.
    phase: str = "plan"
    #: Epoch ms of the newest item the follow has stored (``None``: not following yet).
    caught_up_ms: int | None = None
    started: float = dataclasses.field(default_factory=time.monotonic)
    #: The run's notes (its result's ``notes``) as they are made: a follow ended by
    #: cancellation returns no result.
    notes: list[str] = dataclasses.field(default_factory=list)

    def begin(self, noun: str, started: float) -> None:
        """Count a new run from zero: a progress given to several runs counts each on its
        own, as each run's result does (its rate is this run's items over this run's time)."""
        self.noun = noun
        self.shards = self.shards_done = self.items = self.rejects = 0
        self.retries = self.requests = 0
        self.phase = "plan"
        self.caught_up_ms = None
        self.started = started
        self.notes = []

    def stored(self, rows: int, rejects: int) -> None:
        """Count one commit (a committer's ``on_commit``)."""
        self.items += rows
        self.rejects += rejects

    def text(self) -> str:
        """``3/8 shards · 12,345 messages · 4,321/s · 2 retries``."""
        elapsed = time.monotonic() - self.started
        rate = f"{self.items / elapsed:,.0f}/s" if elapsed > 0 else "-"
        rejects = f" · {counted(self.rejects, 'reject')}" if self.rejects else ""
        head = f"{self.shards_done}/{self.shards} shards · " if self.phase == "backfill" else ""
        tail = f" · {self.phase}" if self.phase not in {"backfill", "plan"} else ""
        if self.caught_up_ms is not None and self.phase in {"catch-up", "follow"}:
            tail += f" up to {format_datetime(from_ms(self.caught_up_ms))}"
        return (
            f"{head}{counted(self.items, self.noun.removesuffix('s'), self.noun)}{rejects} · "
            f"{rate} · {counted(self.retries, 'retry', 'retries')}{tail}"
        )


def accounts_seen(position: bytes | None) -> dict[str, str]:
    """The digests an encoded :class:`AccountsSeen` holds (``None``: none yet)."""
    if position is None:
        return {}
    try:
        return dict(msgspec.json.decode(position, type=AccountsSeen).digests)
    except msgspec.DecodeError:
        raise StateMismatchError(
            "the stored follow position of accounts is not an AccountsSeen; "
            "start over with force=True (--force)"
        ) from None


def see_accounts(
    digests: dict[str, str], rows: Iterable[Row], rejects: Iterable[Reject]
) -> tuple[list[Row], list[Reject], int, int]:
    """What of a page of accounts to store: the rows and rejects not seen with these bytes.

    Updates ``digests``; returns ``(rows, rejects, new, changed)``. A reject is
    remembered under ``"!" + digest`` (it has no id to be known by).
    """
    keep: list[Row] = []
    new = changed = 0
    for row in rows:
        key, mark = row[0], digest(row[-1])
        before = digests.get(key)
        if before == mark:
            continue
        if before is None:
            new += 1
        else:
            changed += 1
        digests[key] = mark
        keep.append(row)
    aside: list[Reject] = []
    for reject in rejects:
        key = "!" + digest(reject.raw)
        if key in digests:
            continue
        digests[key] = ""
        aside.append(reject)
    return keep, aside, new, changed


async def run_shard(
    client: AsyncPostpress,
    shard: Shard,
    sink: Sink,
    committer: Committer,
    *,
    limit: int | None = None,
    prefetch: int | None = None,
) -> ShardResult:
    """Run ``shard`` into ``sink`` from the position stored there; see the module docstring."""
    positions = await sink.positions(shard.endpoint)
    stored = positions.get(shard.label)
    previous = None if stored is None else stored.position
    try:
        checkpoint = (
            Checkpoint() if previous is None else msgspec.json.decode(previous, type=Checkpoint)
        )
    except msgspec.DecodeError:
        raise StateMismatchError(
            f"{sink.url}: the stored position of shard {shard.label} is not a checkpoint; "
            "start over with force=True (--force)"
        ) from None
    if checkpoint.done:
        return ShardResult(label=shard.label, done=True, skipped=True)
    accounts = shard.endpoint == "accounts"
    follow = positions.get(FOLLOW)
    seen_at = None if follow is None else follow.position
    digests = accounts_seen(seen_at) if accounts else {}
    retries = client.stats().total_retries
    items = pages = rejects = 0
    stream = getattr(client, shard.endpoint).rows(
        filters=shard.filters,
        after=shard.window.after,
        before=shard.window.before,
        columns=sink.columns,
        limit=limit,
        prefetch=prefetch,
        resume=checkpoint,
    )
    async with stream:
        async for page in stream.pages():
            assert isinstance(page, RowPage)
            new = msgspec.json.encode(stream.checkpoint)
            also: tuple[Position, ...] = ()
            if accounts:
                see_accounts(digests, page.items, page.rejects)
                seen = msgspec.json.encode(AccountsSeen(digests=digests))
                also = (Position(FOLLOW, seen, seen_at),)
                seen_at = seen
            await committer.put(shard.label, page, new, previous, also=also)
            previous = new
            items += len(page.items)
            rejects += len(page.rejects)
            pages += 1
    return ShardResult(
        label=shard.label,
        items=items,
        pages=pages,
        rejects=rejects,
        retries=client.stats().total_retries - retries,
        done=stream.checkpoint.done,
    )
