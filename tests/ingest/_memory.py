"""An in-memory sink that keeps the sink contract exactly, and strictly, for fast tests.

:class:`MemorySink` implements ``sinks/_base.Sink``: rows upserted by id (or appended,
``append=True``, as the file sinks do), the plan, named positions, rejects, the one-writer
lock. It is strict where a real store might be lenient, so a runner that breaks the
contract fails here first:

* every move is a compare-and-set on the exact bytes stored (``previous``; ``None``:
  absent); a batch whose moves all already stand at their ``new`` is a replay: success,
  nothing stored twice; anything else refuses the WHOLE batch (ShardConflictError);
* a batch is atomic: it is checked whole (row shapes, kinds, one move a name) before
  anything of it is applied;
* ``written`` counts every row id ever committed, so a test can tell "stored once" from
  "upserted again"; a reject is stored once by its bytes (as every sink does) and
  ``offered`` counts every one handed over.

:class:`MemoryStore` is the data; several sinks can open the same store (a second writer
is refused with OutputLockedError, as a real store does). :class:`CrashingSink` dies at
a chosen commit, before or after the store applied it; :func:`crash_until_done` runs an
export into crashing sinks until one run finishes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from postpress_async import OutputLockedError
from postpress_async._positions import Checkpoint, WatchState
from postpress_async._rows import digest
from postpress_async.ingest import ClientConfig, ShardConflictError, ShardPlan, ingest
from postpress_async.ingest.engines.local import LocalEngine
from postpress_async.ingest.sinks._base import (
    FOLLOW,
    TABLES,
    Batch,
    Reach,
    Reject,
    Row,
    Stored,
)

__all__ = ["Crash", "CrashingSink", "MemorySink", "MemoryStore"]

_KINDS: dict[str, tuple[type, ...]] = {"text": (str,), "time": (datetime,), "int": (int,)}


class MemoryStore:
    """What an in-memory store holds, shared by the sinks opened on it."""

    def __init__(self, *, append: bool = False) -> None:
        self.append = append
        self.rows: dict[str, dict[str, Row]] = {name: {} for name in TABLES}
        #: Appended rows (``append=True``): every line, in order.
        self.lines: dict[str, list[Row]] = {name: [] for name in TABLES}
        self.plans: dict[str, bytes] = {}
        self.positions: dict[str, dict[str, Stored]] = {name: {} for name in TABLES}
        self.rejected: dict[str, list[Reject]] = {name: [] for name in TABLES}
        #: Every reject a runner handed over, by the digest of its bytes (stored or not).
        self.offered: dict[str, Counter[str]] = {name: Counter() for name in TABLES}
        self.written: dict[str, Counter[str]] = {name: Counter() for name in TABLES}
        self.batches: list[Batch] = []
        self.writer: object | None = None

    def ids(self, endpoint: str) -> list[str]:
        """Every stored row's id (appended: one a line, repeats included)."""
        if self.append:
            return [row[0] for row in self.lines[endpoint]]
        return list(self.rows[endpoint])

    def position(self, endpoint: str, name: str) -> bytes | None:
        stored = self.positions[endpoint].get(name)
        return None if stored is None else stored.position

    def follow(self, endpoint: str) -> WatchState | None:
        raw = self.position(endpoint, FOLLOW)
        return None if raw is None else msgspec.json.decode(raw, type=WatchState)

    def checkpoint(self, endpoint: str, name: str) -> Checkpoint | None:
        raw = self.position(endpoint, name)
        return None if raw is None else msgspec.json.decode(raw, type=Checkpoint)

    def data(self, endpoint: str, key: str) -> bytes:
        return bytes(self.rows[endpoint][key][-1])

    def delete(self, endpoint: str, key: str) -> None:
        """Take a row out behind the runner's back (a test's doing)."""
        del self.rows[endpoint][key]

    def insert(self, endpoint: str, row: Row) -> None:
        """Put a row in behind the runner's back (a test's doing)."""
        self.rows[endpoint][row[0]] = row


class MemorySink:
    """A sink over a :class:`MemoryStore`; see the module docstring."""

    def __init__(
        self,
        store: MemoryStore | None = None,
        *,
        columns: tuple[str, ...] | None = None,
        reach: Reach = "machine",
        name: str = "m",
    ) -> None:
        self.store = store if store is not None else MemoryStore()
        self.url = f"memory://{name}"
        self.reach: Reach = reach
        self.columns = columns
        self.opened = False
        self.commits = 0

    def __repr__(self) -> str:
        return f"MemorySink({self.url!r})"

    def _ready(self) -> MemoryStore:
        if not self.opened:
            raise AssertionError(f"{self.url} used before open() or after close()")
        return self.store

    async def open(self, *, writer: bool = True) -> None:
        if self.opened:
            raise AssertionError(f"{self.url} opened twice")
        if writer:
            if self.store.writer is not None:
                raise OutputLockedError(self.url)
            self.store.writer = self
        self.opened = True

    async def close(self) -> None:
        if self.store.writer is self:
            self.store.writer = None
        self.opened = False

    async def load_plan(self, endpoint: str) -> ShardPlan | None:
        raw = self._ready().plans.get(endpoint)
        return None if raw is None else ShardPlan.from_json(raw)

    async def save_plan(self, plan: ShardPlan) -> None:
        store = self._ready()
        store.plans[plan.endpoint] = plan.to_json()
        store.positions[plan.endpoint] = {}
        if store.append:
            store.lines[plan.endpoint] = []

    async def positions(self, endpoint: str) -> dict[str, Stored]:
        return dict(self._ready().positions[endpoint])

    def _names(self, endpoint: str) -> list[tuple[str, str]]:
        table = TABLES[endpoint]  # type: ignore[index]
        return [(c.name, c.kind) for c in table if self.columns is None or c.name in self.columns]

    def _check_row(self, endpoint: str, row: Row) -> None:
        names = self._names(endpoint)
        if not isinstance(row, tuple) or len(row) != len(names) + 2:
            raise AssertionError(
                f"a {endpoint} row must be (id, {len(names)} values, data): {row!r}"
            )
        if not isinstance(row[0], str):
            raise AssertionError(f"a row's id must be a str: {row!r}")
        for (name, kind), value in zip(names, row[1:-1], strict=True):
            if value is not None and not isinstance(value, _KINDS[kind]):
                raise AssertionError(f"{name} ({kind}) holds {value!r}")
            if isinstance(value, datetime) and value.tzinfo is None:
                raise AssertionError(f"{name} must be aware: {value!r}")
        if not isinstance(row[-1], (bytes, msgspec.Raw)):
            raise AssertionError(f"data must be bytes or msgspec.Raw: {type(row[-1])}")

    async def commit(self, batch: Batch) -> int:
        store = self._ready()
        endpoint = batch.endpoint
        if endpoint not in TABLES:
            raise AssertionError(f"unknown endpoint {endpoint!r}")
        names = [move.name for move in batch.moves]
        if len(set(names)) != len(names):
            raise AssertionError(f"a batch moves a name twice: {names}")
        for row in batch.rows:
            self._check_row(endpoint, row)
        for reject in batch.rejects:
            if not isinstance(reject, Reject) or not isinstance(reject.raw, bytes):
                raise AssertionError(f"not a Reject: {reject!r}")
        stored = store.positions[endpoint]
        at = [None if m.name not in stored else stored[m.name].position for m in batch.moves]
        if batch.moves and all(now == m.new for now, m in zip(at, batch.moves, strict=True)):
            return 0  # a replay of a batch committed before: nothing stored twice
        for now, move in zip(at, batch.moves, strict=True):
            if now != move.previous:
                raise ShardConflictError(
                    f"{self.url}: {move.name} moved since it was read "
                    f"(stored {now!r}, expected {move.previous!r})"
                )
        # Checked whole: apply.
        for row in batch.rows:
            kept = (*row[:-1], bytes(row[-1]))
            if store.append:
                store.lines[endpoint].append(kept)
            store.rows[endpoint][row[0]] = kept
            store.written[endpoint][row[0]] += 1
        held = {digest(reject.raw) for reject in store.rejected[endpoint]}
        new = 0
        for reject in batch.rejects:
            store.offered[endpoint][digest(reject.raw)] += 1
            if digest(reject.raw) not in held:  # known by its bytes: stored once
                held.add(digest(reject.raw))
                store.rejected[endpoint].append(reject)
                new += 1
        for move in batch.moves:
            old = stored.get(move.name)
            items = move.items + (0 if old is None else old.items)
            pages = move.pages + (0 if old is None else old.pages)
            stored[move.name] = Stored(move.new, items, pages)
        store.batches.append(batch)
        return new
        self.commits += 1

    async def count(self, endpoint: str) -> int:
        store = self._ready()
        return len(store.lines[endpoint]) if store.append else len(store.rows[endpoint])

    def _time(self, endpoint: str, row: Row) -> datetime | None:
        names = [name for name, _ in self._names(endpoint)]
        column = "created_at" if endpoint == "accounts" else "timestamp"
        if column not in names:
            raise AssertionError(f"{self.url} stores no {column}")
        value: datetime | None = row[1 + names.index(column)]
        return value

    async def span(self, endpoint: str) -> tuple[datetime, datetime] | None:
        store = self._ready()
        rows = store.lines[endpoint] if store.append else store.rows[endpoint].values()
        times = [t for t in (self._time(endpoint, row) for row in rows) if t is not None]
        return (min(times), max(times)) if times else None

    async def stored_ids(
        self, endpoint: str, *, after: datetime | None, before: datetime | None
    ) -> list[str]:
        store = self._ready()
        rows = store.lines[endpoint] if store.append else list(store.rows[endpoint].values())
        found = []
        for row in rows:
            moment = self._time(endpoint, row)
            if moment is None:
                if after is None and before is None:
                    found.append(row[0])
                continue
            if (after is None or moment > after) and (before is None or moment < before):
                found.append(row[0])
        return found

    async def rejects(self, endpoint: str) -> int:
        return len(self._ready().rejected[endpoint])


class Crash(Exception):
    """Stands for the process dying at a commit."""


class CrashingSink:
    """A sink that dies at its ``at``-th commit (0: the first): before the store applied
    it (``applied=False``: rows and positions both lost) or after (the answer lost)."""

    def __init__(self, inner: Any, *, at: int, applied: bool = False) -> None:
        self.inner = inner
        self.url = inner.url
        self.reach = inner.reach
        self.columns = inner.columns
        self.left = at
        self.applied = applied

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def commit(self, batch: Batch) -> int:
        if self.left == 0:
            if self.applied:
                await self.inner.commit(batch)
            raise Crash
        self.left -= 1
        stored: int = await self.inner.commit(batch)
        return stored


async def crash_until_done(config: ClientConfig, sink: Callable[[], Any], *, shards: int) -> int:
    """Export the messages into a new ``sink()`` (crashing) until a run finishes; return how
    many runs crashed before it (500 runs at most).

    Each run queues one page at most (``LocalEngine(max_pages=1)``): small groups, so the
    runs die all along the way.
    """
    crashes = 0
    for _ in range(500):
        try:
            await ingest(config, "messages", sink(), shards=shards, engine=LocalEngine(max_pages=1))
        except Crash:
            crashes += 1
        else:
            break
    return crashes
