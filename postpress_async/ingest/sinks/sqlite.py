"""SQLite: the embedded store, through the standard library's ``sqlite3``.

Tables ``accounts``, ``chats``, ``messages`` (keyed by ``id``: typed query columns plus
``data``, the whole object as JSON), ``checkpoints`` (one row a shard) and ``plans``.
Each page is one transaction (``BEGIN IMMEDIATE``): upsert the rows, move the shard's
checkpoint from the one the writer read. WAL mode lets readers query during an export
and several processes of one machine write in turn (``busy_timeout`` waits for the
lock). Calls run in a worker thread, so the event loop keeps fetching meanwhile.

SQLite locks through the file system, which network file systems do not honour: it
serves the processes of one machine, not several machines.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio

from postpress_async._exceptions import ShardConflictError, SinkUnavailableError
from postpress_async._positions import Checkpoint
from postpress_async.ingest._shards import Endpoint, Shard, ShardPlan

from ._base import COLUMNS, Reach, encode_checkpoint, row, utc_text

__all__ = ["SQLiteSink"]

T = TypeVar("T")
_FRESH = encode_checkpoint(Checkpoint())


def _schema() -> list[str]:
    tables = [
        f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, "
        + "".join(f"{c.name} {c.sqlite}, " for c in columns)
        + "data TEXT NOT NULL)"
        for table, columns in COLUMNS.items()
    ]
    return [
        *tables,
        "CREATE TABLE IF NOT EXISTS checkpoints (endpoint TEXT NOT NULL, shard TEXT NOT NULL, "
        "checkpoint TEXT NOT NULL, items INTEGER NOT NULL DEFAULT 0, "
        "pages INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (endpoint, shard))",
        "CREATE TABLE IF NOT EXISTS plans (endpoint TEXT PRIMARY KEY, plan TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS messages_account_time ON messages (account_id, timestamp)",
        "CREATE INDEX IF NOT EXISTS messages_chat_time ON messages (chat_id, timestamp)",
    ]


def _upsert(table: str) -> str:
    names = ["id", *(c.name for c in COLUMNS[table]), "data"]
    updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


#: A shard's first page creates its checkpoint; every later page moves it from the
#: one the writer read. Either touches no row when another writer got there first.
_START = (
    "INSERT INTO checkpoints (endpoint, shard, checkpoint, items, pages) "
    "VALUES (?, ?, ?, ?, 1) ON CONFLICT (endpoint, shard) DO NOTHING"
)
_MOVE = (
    "UPDATE checkpoints SET checkpoint = ?3, items = items + ?4, pages = pages + 1 "
    "WHERE endpoint = ?1 AND shard = ?2 AND checkpoint = ?5"
)


class SQLiteSink:
    """A SQLite database file (``sqlite:///path.db``); see the module docstring."""

    reach: Reach = "machine"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{path}"
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLiteSink({str(self.path)!r})"

    async def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                if self._db is None:
                    raise SinkUnavailableError(f"{self.url} is not open")
                return work(self._db)

        return await anyio.to_thread.run_sync(locked)

    async def open(self) -> None:
        """Open the file (creating it and the tables if missing) in WAL mode."""
        if self._db is not None:
            return

        def connect() -> sqlite3.Connection:
            if not self.path.parent.exists():
                raise SinkUnavailableError(
                    f"{self.url}: the directory {self.path.parent} does not exist"
                )
            try:
                db = sqlite3.connect(
                    self.path, timeout=60.0, isolation_level=None, check_same_thread=False
                )
            except sqlite3.Error as exc:
                raise SinkUnavailableError(f"{self.url}: cannot open ({exc})") from None
            try:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across process crashes
                for statement in _schema():
                    db.execute(statement)
            except sqlite3.Error as exc:
                db.close()
                raise SinkUnavailableError(f"{self.url}: cannot write ({exc})") from None
            return db

        self._db = await anyio.to_thread.run_sync(connect)

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The stored plan of ``endpoint``."""
        found = await self._call(
            lambda db: db.execute(
                "SELECT plan FROM plans WHERE endpoint = ?", (endpoint,)
            ).fetchone()
        )
        return None if found is None else ShardPlan.from_json(found[0])

    async def save_plan(self, plan: ShardPlan) -> None:
        """Store ``plan``, forgetting the checkpoints of any earlier plan of its endpoint."""

        def save(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute("DELETE FROM checkpoints WHERE endpoint = ?", (plan.endpoint,))
                db.execute(
                    "INSERT INTO plans (endpoint, plan) VALUES (?, ?) "
                    "ON CONFLICT (endpoint) DO UPDATE SET plan = excluded.plan",
                    (plan.endpoint, plan.to_json().decode()),
                )

        await self._call(save)

    async def checkpoint(self, shard: Shard) -> Checkpoint:
        """The stored checkpoint of ``shard``."""
        found = await self._call(
            lambda db: db.execute(
                "SELECT checkpoint FROM checkpoints WHERE endpoint = ? AND shard = ?",
                (shard.endpoint, shard.label),
            ).fetchone()
        )
        return Checkpoint() if found is None else _decode(found[0])

    async def write(
        self, shard: Shard, items: Sequence[Any], checkpoint: Checkpoint, previous: Checkpoint
    ) -> None:
        """Upsert ``items`` and move the checkpoint, in one transaction."""
        table = shard.endpoint
        rows = [_sqlite_row(table, item) for item in items]
        old, new = encode_checkpoint(previous), encode_checkpoint(checkpoint)

        def commit(db: sqlite3.Connection) -> None:
            with _transaction(db):
                if rows:
                    db.executemany(_upsert(table), rows)
                if old == _FRESH:
                    moved = db.execute(_START, (shard.endpoint, shard.label, new, len(rows)))
                else:
                    moved = db.execute(_MOVE, (shard.endpoint, shard.label, new, len(rows), old))
                if moved.rowcount != 1:
                    raise ShardConflictError(
                        f"shard {shard.label} of {self.url} moved since it was read; "
                        "another worker is writing it"
                    )

        await self._call(commit)

    async def close(self) -> None:
        """Close the connection."""
        db, self._db = self._db, None
        if db is not None:
            await anyio.to_thread.run_sync(db.close)


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _sqlite_row(table: str, item: Any) -> tuple[object, ...]:
    values = row(table, item)
    return tuple(utc_text(v) if isinstance(v, datetime) else v for v in values)


def _decode(text: str) -> Checkpoint:
    import msgspec

    return msgspec.json.decode(text, type=Checkpoint)
