"""The whole job: :func:`ingest` keeps a store in sync with the API (``sync`` is the same).

One call does the same whether it is a first run, a cron re-run, or the run after a
crash:

1. check every argument (before any request) and open the sink as its one writer
   (another writer: :class:`~postpress_async.OutputLockedError`, exit 5);
2. plan: the plan stored in the sink when the same export asks again (the endpoint,
   filters and window must be the ones it was made for, else
   :class:`~postpress_async.PlanMismatchError`; ``shards``/``by`` only shape a new plan,
   another value on a re-run is noted in the result), else probe and store a new one
   (``force`` always re-plans and starts over);
3. backfill: the engine runs every shard that is not done, each from its stored
   checkpoint;
4. once every shard is done and no follow position is stored, derive it from the
   shards' checkpoints (:func:`~._sync.merge_follow`) and store it in a commit of its own;
   a plan with several open-ended shards (cut by account) first lists each again from
   where it ended (:mod:`._topup`): they ended at different moments;
   an export with ``before=`` is a frozen window: no follow position, no follow;
5. catch up from the follow position until caught up (:mod:`._sync`); with ``follow``,
   go on polling until cancelled; accounts are refreshed instead (new or changed bytes);
6. return an :class:`IngestResult`: what this run stored.

``backfill=False`` skips 2-4: a follow from ``since`` (``"now"``, resolved from the
server, or a time) into any store, which is ``postpress watch --to URL``.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import msgspec

from postpress_async._exceptions import PlanMismatchError
from postpress_async._filters import WATCHED
from postpress_async._poll import PollPolicy, start_state
from postpress_async._positions import WatchState, filters_fingerprint
from postpress_async._time import from_ms, to_ms

from ._asked import Asked, check_config, check_engine, check_progress, check_sink
from ._config import ClientConfig
from ._plan import plan_shards
from ._run import IngestProgress, ShardResult
from ._shards import Endpoint, ShardPlan
from ._sync import (
    SyncResult,
    chat_keys,
    follow_start,
    merge_follow,
    refresh_accounts,
    sync_follow,
)
from ._topup import open_shards, top_up
from .engines._base import Engine
from .engines.local import LocalEngine
from .sinks import open_sink
from .sinks._base import (
    FOLLOW,
    Batch,
    Move,
    Sink,
    Stored,
    shard_checkpoint,
    stored_plan,
    unfinished,
)

__all__ = ["IngestResult", "ingest", "sync"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    """What one :func:`ingest` stored, and where the store stands now."""

    endpoint: Endpoint
    #: The sink's URL (no password).
    url: str
    #: The plan backfilled (``None`` with ``backfill=False``).
    plan: ShardPlan | None
    #: One result a shard of the plan, in plan order.
    results: list[ShardResult]
    #: Rows this run stored: by the backfill, by the catch-up/follow (with the top-up of
    #: a plan's open shards, or the accounts' refresh), and both together.
    backfilled: int
    synced: int
    items: int
    #: Items that could not be read, stored aside by this run.
    rejects: int
    #: Rows the store did not hold before this run (for files, which append: ``items``);
    #: ``None`` if the store cannot tell.
    new: int | None
    #: Accounts only: accounts whose bytes changed since the store last saw them.
    changed: int | None
    #: Every shard of the plan is done (always True with ``backfill=False``).
    backfill_done: bool
    #: The plan (or, without backfill, the follow position) came from the store.
    resumed: bool
    #: The newest time stored: the follow's watermark, else the newest row's time.
    caught_up_to: datetime | None
    #: What this run chose not to do, in words (an option ignored, a follow skipped).
    notes: list[str]
    elapsed: float


#: Shards of a new plan when ``shards`` is not given.
DEFAULT_SHARDS = 8


async def ingest(
    config: ClientConfig,
    endpoint: Endpoint,
    sink: Sink | str | Path,
    *,
    shards: int | None = None,
    by: Literal["auto", "time", "account"] | None = None,
    engine: Engine | None = None,
    force: bool = False,
    follow: bool = False,
    backfill: bool = True,
    since: datetime | str | None = None,
    policy: PollPolicy | None = None,
    progress: IngestProgress | None = None,
    after: datetime | str | None = None,
    before: datetime | str | None = None,
    **filters: Any,
) -> IngestResult:
    """Export ``endpoint`` into ``sink`` and keep it in sync; see the module docstring.

    ``sink`` is a :class:`~.sinks._base.Sink` or a URL for :func:`~.sinks.open_sink`;
    ``engine`` defaults to :class:`LocalEngine`. ``filters`` are the endpoint's list
    filters (``account_id``, ``sender_id``; chats also ``account_type``, ``unread``).
    ``follow=True`` polls with ``policy`` until cancelled (the position stays committed:
    a later call continues). ``backfill=False`` follows from ``since`` (default
    ``"now"``) without a plan. ``progress`` counts what this run stores as it goes (its
    counters start from zero each run).
    ``shards`` (default 8 for a new plan) is at most 1,000: more is refused with
    :class:`~postpress_async.InvalidParameterError` before the store is opened.
    """
    started = time.monotonic()
    check_config(config)
    check_sink(sink)
    check_engine(engine)
    check_progress(progress)
    asked = Asked.check(
        endpoint,
        shards=shards,
        by=by,
        force=force,
        follow=follow,
        backfill=backfill,
        since=since,
        policy=policy,
        after=after,
        before=before,
        filters=filters,
    )
    # As --force: a file that is not an export's is overwritten (a sink object the caller
    # built keeps its own setting).
    store = open_sink(sink, force=force) if isinstance(sink, (str, Path)) else sink
    runner = engine if engine is not None else LocalEngine()
    if backfill:
        runner.check(store)
    progress = progress if progress is not None else IngestProgress(noun=endpoint)
    progress.begin(endpoint, started)
    # Built before the store is opened: a configuration the client refuses (its URL, its
    # key) fails before the store is locked or a file is created.
    async with config.client() as client:
        await store.open()
        try:
            job = _Job(asked, config, client, store, runner, progress)
            try:
                return await job.run(started)
            finally:  # also for a follow ended by cancellation: its summary says so
                progress.requests = client.stats().requests
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled run still lets go of the store
                await store.close()


#: The same call: reads better for an incremental job (a cron re-run, a sync loop).
sync = ingest


@dataclasses.dataclass(slots=True)
class _Job:
    """One ingest, steps 2-6 (the sink is open, the client built)."""

    asked: Asked
    config: ClientConfig
    client: Any
    store: Sink
    runner: Engine
    progress: IngestProgress
    #: Rows the store held before this run stored any (for ``new``).
    counted: int = 0
    #: What topping up the open shards stored (step 4).
    topped: SyncResult = dataclasses.field(default_factory=SyncResult)

    async def run(self, started: float) -> IngestResult:
        asked, store = self.asked, self.store
        endpoint = asked.endpoint
        self.counted = await store.count(endpoint)
        plan: ShardPlan | None = None
        results: list[ShardResult] = []
        resumed = False
        done = True
        if asked.backfill:
            plan, resumed, results = await self._backfill()
            positions = await store.positions(endpoint)
            done = not unfinished(plan, positions)
            if done and plan.window.before is None and endpoint in WATCHED:
                positions = await self._derive_follow(plan, positions)
        else:
            positions = await store.positions(endpoint)
            resumed = FOLLOW in positions
        synced: SyncResult | None = None
        frozen = plan is not None and plan.window.before is not None
        if done and not frozen:
            synced = await self._sync(positions.get(FOLLOW))
        self.progress.phase = "done"
        new = await store.count(endpoint) - self.counted
        backfilled = sum(r.items for r in results)
        topped = self.topped
        sync_items = topped.items + (0 if synced is None else synced.items)
        caught_up: datetime | None = None
        if synced is not None and synced.caught_up_ms is not None:
            caught_up = from_ms(synced.caught_up_ms)
        else:
            span = await store.span(endpoint)
            caught_up = None if span is None else span[1]
        return IngestResult(
            endpoint=endpoint,
            url=store.url,
            plan=plan,
            results=results,
            backfilled=backfilled,
            synced=sync_items,
            items=backfilled + sync_items,
            rejects=sum(r.rejects for r in results)
            + topped.rejects
            + (0 if synced is None else synced.rejects),
            new=new,
            changed=None if synced is None else synced.changed,
            backfill_done=done,
            resumed=resumed,
            caught_up_to=caught_up,
            notes=self.progress.notes,
            elapsed=time.monotonic() - started,
        )

    async def _backfill(self) -> tuple[ShardPlan, bool, list[ShardResult]]:
        """Step 2 and 3: the plan (stored or new), and its shards run."""
        asked, store, progress = self.asked, self.store, self.progress
        endpoint = asked.endpoint
        plan = None if asked.force else await stored_plan(store, endpoint)
        resumed = plan is not None
        if plan is not None:
            differences = asked.differences(plan)
            if differences:
                raise PlanMismatchError(
                    f"{store.url} holds an export of {endpoint} asked with other options "
                    f"({'; '.join(differences)}): ask the same to continue it, "
                    "or start over with force=True (--force)"
                )
            self.progress.notes.extend(asked.ignored(plan))
            positions = await store.positions(endpoint)
            if not unfinished(plan, positions):
                progress.shards = progress.shards_done = len(plan.shards)
                return (
                    plan,
                    True,
                    [ShardResult(label=s.label, done=True, skipped=True) for s in plan.shards],
                )
        async with self.runner:
            if plan is None:
                progress.phase = "plan"
                retried = self.client.stats().total_retries
                try:
                    plan = await plan_shards(
                        self.client,
                        endpoint,
                        shards=DEFAULT_SHARDS if asked.shards is None else asked.shards,
                        by=asked.by or "auto",  # type: ignore[arg-type]
                        after=asked.window.after,
                        before=asked.window.before,
                        **asked.filters,
                    )
                finally:  # the plan's retries, added to what the backfill counts
                    progress.retries += self.client.stats().total_retries - retried
                await store.save_plan(plan)
                self.counted = await store.count(endpoint)  # a file starts over here
            progress.phase = "backfill"
            progress.shards = len(plan.shards)
            progress.shards_done = 0
            results = await self.runner.run(self.client, self.config, plan, store, progress)
        return plan, resumed, results

    async def _derive_follow(
        self, plan: ShardPlan, positions: dict[str, Stored]
    ) -> dict[str, Stored]:
        """Step 4: the follow position from the shards' checkpoints, if none is stored
        (the open shards of a plan cut by account topped up first: :mod:`._topup`)."""
        if FOLLOW in positions:
            return positions
        lagging = open_shards(plan, positions)
        if lagging:
            self.progress.phase = "catch-up"
            self.topped = await top_up(
                self.client,
                self.store,
                lagging,
                policy=self.asked.policy,
                limit=self.config.limit,
                progress=self.progress,
            )
            positions = await self.store.positions(plan.endpoint)
        parts: list[tuple[int | None, WatchState]] = []
        for shard in plan.shards:
            follow = shard_checkpoint(positions.get(shard.label)).follow
            if follow is None:
                self.progress.notes.append(
                    f"no follow: shard {shard.label}'s checkpoint does not record where a "
                    "follow starts (stored by an older release); force=True starts over"
                )
                return positions
            after = shard.window.after
            parts.append((None if after is None else to_ms(after), follow))
        endpoint = self.asked.endpoint
        state = merge_follow(
            parts,
            kind=endpoint,
            fingerprint=filters_fingerprint(endpoint, plan.filters),
            overlap_ms=self.asked.policy.overlap_ms,
        )
        if endpoint == "chats":
            state = chat_keys(state)
        position = msgspec.json.encode(state)
        await self.store.commit(
            Batch(
                endpoint=endpoint, rows=[], rejects=[], moves=[Move(FOLLOW, None, position, 0, 0)]
            )
        )
        return {**positions, FOLLOW: Stored(position, 0, 0)}

    async def _sync(self, stored: Stored | None) -> SyncResult | None:
        """Step 5: the catch-up (and the follow), or the accounts' refresh."""
        asked, config = self.asked, self.config
        restart = asked.force and not asked.backfill and stored is not None
        if asked.endpoint == "accounts":
            return await refresh_accounts(
                self.client,
                self.store,
                previous=None if stored is None else stored.position,
                restart=restart,
                follow=asked.follow,
                policy=asked.policy,
                limit=config.limit,
                prefetch=config.prefetch,
                progress=self.progress,
            )
        endpoint = asked.endpoint
        if asked.backfill and stored is None:
            return None  # no position to follow from (noted when it was not derived)
        if restart:
            assert stored is not None
            start = start_state(
                "now" if asked.since is None else asked.since,
                kind=endpoint,
                fingerprint=filters_fingerprint(endpoint, asked.encoded),
            )
            previous: bytes | None = stored.position
        else:
            if stored is not None and asked.since is not None:
                self.progress.notes.append(
                    "since ignored: the store follows from its own position "
                    "(force=True starts the follow over from since)"
                )
            start, previous = follow_start(
                endpoint,
                asked.encoded,
                stored,
                since=asked.since,
                url=self.store.url,
            )
        return await sync_follow(
            self.client,
            endpoint,
            self.store,
            filters=asked.encoded,
            start=start,
            previous=previous,
            follow=asked.follow,
            policy=asked.policy,
            limit=config.limit,
            progress=self.progress,
            export_after=asked.window.after if asked.backfill else None,
        )
