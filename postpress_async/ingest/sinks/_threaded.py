"""What the stores behind one DB-API connection in a worker thread share: SQLite, DuckDB.

Both are a file a connection opens, take ``?`` parameters and run every call through
:meth:`ThreadedStore._call`: ``work(db)`` in the store's worker thread, one call at a
time, an engine error rolled back and told in one line. Opening (the directory, the
connection, the schema check and creation), closing, reading the plan, the positions
and the counts, and saving a plan are the same on both. Each engine's module says what
differs: how it connects and who may write (``_open_db``, ``_take_writer``,
``_release``), which tables a file holds (``_tables``), how a write transaction begins
(``_BEGIN``), its column types (``_TYPES``) and its errors (``_error``, ``_explain``,
``_rollback``). PostgreSQL (asyncpg, ``$n`` parameters, a pool) has its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import anyio

from postpress_async._exceptions import SinkFailedError, SinkUnavailableError
from postpress_async.ingest._shards import Endpoint, ShardPlan

from ._base import Stored
from ._sql import (
    META_SCHEMA,
    OUR_TABLES,
    UPGRADABLE,
    Types,
    rejects_table,
    schema,
    table_of,
    upgraded_rejects,
    version_error,
)

__all__ = ["Connection", "ThreadedStore", "cause", "stored_positions"]


class Connection(Protocol):
    """The part of a DB-API connection these statements use."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    def close(self) -> None: ...


DB = TypeVar("DB", bound=Connection)
T = TypeVar("T")


def stored_positions(db: Connection, endpoint: str) -> dict[str, bytes]:
    """Each position of ``endpoint`` as stored (read inside a commit's transaction)."""
    found = db.execute("SELECT name, position FROM positions WHERE endpoint = ?", [endpoint])
    return {name: text.encode() for name, text in found.fetchall()}


def cause(exc: BaseException) -> str:
    """An engine's error in one line: its first line, or its type's name."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class ThreadedStore(Generic[DB]):
    """Opening, closing, ``_call`` and the reads and ``save_plan`` of the
    :class:`~._base.Sink` contract, for a store of one connection in a worker thread."""

    url: str
    path: Path
    _db: DB | None = None
    _limiter: anyio.CapacityLimiter | None = None

    #: The statement that begins a write transaction.
    _BEGIN: str = "BEGIN TRANSACTION"
    #: The engine's column types (see ``_sql.schema``).
    _TYPES: Types

    # -- what each engine says -----------------------------------------------------------

    def _error(self) -> type[Exception]:
        """The engine's error class."""
        raise NotImplementedError

    def _open_db(self) -> DB:
        """A new connection to ``path``, set up (its errors as they are)."""
        raise NotImplementedError

    def _setup(self, db: DB) -> None:
        """Settings of a new connection, before the schema check (none by default)."""

    def _tables(self, db: DB) -> set[str]:
        """The names of the tables the file holds."""
        raise NotImplementedError

    def _refuse(self, tables: set[str]) -> None:
        """Raise :class:`SinkUnavailableError` for a file that holds no store of ours."""
        if tables & set(OUR_TABLES):
            raise SinkUnavailableError(
                f"{self.url} holds tables ({', '.join(sorted(tables & set(OUR_TABLES)))}) "
                "but no postpress store (no table `meta`): export to a new file"
            )

    def _take_writer(self) -> None:
        """Become the file's one writer, or raise :class:`OutputLockedError`."""

    def _release(self) -> None:
        """Let the next writer in (nothing when this store is no writer)."""

    def _explain(self, exc: Exception) -> str:
        """The :class:`SinkFailedError` line for an engine error while working."""
        raise NotImplementedError

    def _rollback(self, db: DB) -> None:
        """Roll back the transaction a failed call left open, if any."""
        raise NotImplementedError

    # -- opening and closing -------------------------------------------------------------

    async def open(self, *, writer: bool = True) -> None:
        """Open the file (a writer creates it and what is missing), as the one writer if
        asked; a reader opens a file that exists."""
        if self._db is not None:
            return
        self._limiter = anyio.CapacityLimiter(1)
        if writer:
            self._take_writer()
        else:
            self._check_exists()
        try:
            self._db = await anyio.to_thread.run_sync(self._connect, limiter=self._limiter)
        except BaseException:
            self._release()
            raise

    def _check_exists(self) -> None:
        """A reader (``verify``; a Dask worker, after its coordinator) opens a store that is
        there: opening a mistyped path would create an empty store and call every item
        missing."""
        self._check_directory()
        if not self.path.exists():
            raise SinkUnavailableError(
                f"{self.url}: no store there ({self.path} does not exist): check the path"
            )

    def _check_directory(self) -> None:
        if not self.path.parent.is_dir():
            raise SinkUnavailableError(
                f"{self.url}: the directory {self.path.parent} does not exist"
            )
        if self.path.is_dir():  # before the writer's lock file is made beside it
            raise SinkUnavailableError(f"{self.url} is a directory: give a database file")

    def _connect(self) -> DB:
        self._check_directory()
        error = self._error()
        try:
            db = self._open_db()
        except error as exc:
            raise SinkUnavailableError(f"{self.url}: cannot open ({cause(exc)})") from None
        try:
            self._prepare(db)
        except error as exc:
            db.close()
            raise SinkUnavailableError(f"{self.url}: cannot open ({cause(exc)})") from None
        except BaseException:
            db.close()
            raise
        return db

    def _prepare(self, db: DB) -> None:
        """Check what the file holds; create the tables it lacks, one creator at a time.

        A file refused is left as it was: the settings (SQLite's WAL, kept in the file)
        come after the check."""
        tables = self._tables(db)
        version = None
        if "meta" in tables:
            found = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            version = None if found is None else found[0]
            error = version_error(self.url, version, "export to a new file")
            if error is not None:
                raise error
        else:
            self._refuse(tables)
        self._setup(db)
        if version == UPGRADABLE:
            self._upgrade(db)
        if "meta" in tables and tables.issuperset(OUR_TABLES):
            return
        db.execute(self._BEGIN)
        try:
            for statement in schema(self._TYPES):
                db.execute(statement)
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO NOTHING",
                [META_SCHEMA],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _upgrade(self, db: DB) -> None:
        """A store of schema 2 made one of this schema: its rejects keyed by their digest
        (two of the same bytes: the oldest kept); nothing else changes. One opener at a
        time: the version is read again inside the transaction."""
        db.execute(self._BEGIN)
        try:
            found = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if found is not None and found[0] == UPGRADABLE:
                # "at" as text: DuckDB before 1.2 hands a TIMESTAMPTZ to Python through
                # pytz, which nothing installs; the text goes back in as the same instant.
                held = db.execute(
                    'SELECT endpoint, raw, reason, CAST("at" AS VARCHAR) FROM rejects ORDER BY "at"'
                )
                kept = upgraded_rejects(held.fetchall())
                db.execute("DROP TABLE rejects")
                db.execute(rejects_table(self._TYPES))
                if kept:
                    db.executemany(
                        'INSERT INTO rejects (endpoint, digest, raw, reason, "at") '
                        "VALUES (?, ?, ?, ?, ?)",
                        kept,
                    )
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", [META_SCHEMA])
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def close(self) -> None:
        """Close the connection and let the next writer in (closing again does nothing)."""
        db, self._db = self._db, None
        try:
            if db is not None:
                await anyio.to_thread.run_sync(db.close, limiter=self._limiter)
        finally:
            self._release()

    # -- the calls -----------------------------------------------------------------------

    async def _call(self, work: Callable[[DB], T]) -> T:
        """``work(connection)`` in the worker thread, one at a time; errors in one line."""
        db = self._db
        if db is None:
            raise SinkUnavailableError(f"{self.url} is not open")
        error = self._error()

        def run() -> T:
            try:
                return work(db)
            except error as exc:
                self._rollback(db)
                raise SinkFailedError(self._explain(exc)) from None
            except BaseException:
                self._rollback(db)
                raise

        return await anyio.to_thread.run_sync(run, limiter=self._limiter)

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The plan stored for ``endpoint``."""
        table = table_of(endpoint)
        found = await self._call(
            lambda db: db.execute("SELECT plan FROM plans WHERE endpoint = ?", [table]).fetchone()
        )
        return None if found is None else ShardPlan.from_json(found[0])

    async def save_plan(self, plan: ShardPlan) -> None:
        """Store ``plan``; forget the positions and rejects of its endpoint (rows stay)."""
        endpoint = table_of(plan.endpoint)
        text = plan.to_json().decode()

        def save(db: DB) -> None:
            db.execute(self._BEGIN)
            db.execute("DELETE FROM positions WHERE endpoint = ?", [endpoint])
            db.execute("DELETE FROM rejects WHERE endpoint = ?", [endpoint])
            db.execute(
                "INSERT INTO plans (endpoint, plan) VALUES (?, ?) "
                "ON CONFLICT (endpoint) DO UPDATE SET plan = excluded.plan",
                [endpoint, text],
            )
            db.execute("COMMIT")

        await self._call(save)

    async def positions(self, endpoint: Endpoint) -> dict[str, Stored]:
        """Every position stored for ``endpoint``."""
        table = table_of(endpoint)
        found = await self._call(
            lambda db: db.execute(
                "SELECT name, position, items, pages FROM positions WHERE endpoint = ?", [table]
            ).fetchall()
        )
        return {name: Stored(text.encode(), items, pages) for name, text, items, pages in found}

    async def count(self, endpoint: Endpoint) -> int:
        """Rows stored for ``endpoint``."""
        table = table_of(endpoint)
        found = await self._call(lambda db: db.execute(f"SELECT count(*) FROM {table}").fetchone())
        return int(found[0])

    async def rejects(self, endpoint: Endpoint) -> int:
        """Items of ``endpoint`` set aside so far."""
        table = table_of(endpoint)
        found = await self._call(
            lambda db: db.execute(
                "SELECT count(*) FROM rejects WHERE endpoint = ?", [table]
            ).fetchone()
        )
        return int(found[0])
