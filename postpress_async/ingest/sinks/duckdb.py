"""DuckDB (``duckdb:///path.duckdb``): an analytics file (the ``duckdb`` extra).

The store of ``_sql.schema`` with ``VARCHAR``, ``TIMESTAMPTZ`` and ``BIGINT`` columns and
``data VARCHAR``, the item's JSON exactly as sent; typed text keeps U+0000 (DuckDB
strings hold it). ``duckdb`` is imported only when a ``duckdb://`` sink is opened.

A commit is one transaction: the moves' compare-and-set (``_sql.settle``), the rows,
the rejects (one a digest of its bytes, ``_sql.new_rejects``), the positions. DuckDB runs a statement a row slowly (``executemany``), so
the rows go in as one statement: each column bound as one list and ``unnest``-ed
(``INSERT OR REPLACE ... SELECT unnest(?), ...``): about 100x faster than
``executemany`` (30,000 vs 380 rows/s here), and faster than binding ``data`` as bytes
or the batch as one JSON document. The batch is deduplicated first (the last row of an
id wins). Calls run in a worker thread, one at a time.

Where the time goes (``benchmarks/bench_sinks.py``: about 21,000 rows/s, under half of
SQLite's): a backfill's group commits already hand DuckDB about 17 pages (4,250 rows) at
once, and at that size DuckDB itself spends about 28 µs a row on the upsert of the fake's
messages (a plain ``INSERT`` 23, binding the lists 6). Measured and left: deleting then
inserting (faster on new ids, slower once ids repeat), a later checkpoint
(``checkpoint_threshold``: 15% faster, but the rows stay in memory until it runs).

One process writes a DuckDB file: DuckDB locks it while it is open (another process
gets its "could not set lock" error, here :class:`~postpress_async.OutputLockedError`
naming the process DuckDB names: another export, or any session with the file open),
and in this process a second ``open(writer=True)`` of the same file is refused too.
A SQLite database given as ``duckdb://`` is refused before DuckDB sees it (DuckDB would
open it through an extension it downloads).
``reach`` is ``"process"``: no Dask workers (they open with ``writer=False``, and in
this process only).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from postpress_async._exceptions import (
    OutputLockedError,
    ShardConflictError,
    SinkUnavailableError,
)
from postpress_async._time import from_ms
from postpress_async.ingest._shards import Endpoint

from ._base import TABLES, Batch, Reach, Row, last_of_each
from ._sql import (
    Types,
    column_names,
    ids_query,
    new_rejects,
    not_utf8,
    settle,
    table_of,
    time_column,
)
from ._threaded import ThreadedStore, cause, stored_positions

if TYPE_CHECKING:
    import duckdb

__all__ = ["DuckDBSink"]


TYPES: Final = Types(
    kinds={"text": "VARCHAR", "time": "TIMESTAMPTZ", "int": "BIGINT"},
    data="VARCHAR",
    blob="BLOB",
    counter="BIGINT",
)

#: The files a sink of this process opened as the writer (DuckDB's own lock is per
#: process: a second connection in the same process shares the database).
_WRITERS: set[str] = set()


def _upsert(endpoint: Endpoint) -> str:
    names = column_names(endpoint)
    values = [
        "unnest(?::VARCHAR[])",
        *(f"unnest(?::{TYPES.kinds[column.kind]}[])" for column in TABLES[endpoint]),
        "unnest(?::VARCHAR[])",
    ]
    return f"INSERT OR REPLACE INTO {endpoint} ({', '.join(names)}) SELECT {', '.join(values)}"


_UPSERTS: Final = {endpoint: _upsert(endpoint) for endpoint in TABLES}
_REJECT: Final = (
    'INSERT INTO rejects (endpoint, digest, raw, reason, "at") VALUES (?, ?, ?, ?, now()) '
    "ON CONFLICT (endpoint, digest) DO NOTHING"
)
_START: Final = (
    "INSERT INTO positions (endpoint, name, position, items, pages) VALUES (?, ?, ?, ?, ?)"
)
_MOVE: Final = (
    "UPDATE positions SET position = ?, items = items + ?, pages = pages + ? "
    "WHERE endpoint = ? AND name = ? AND position = ?"
)


def _count_rejects(db: duckdb.DuckDBPyConnection, endpoint: str) -> int:
    found = db.execute("SELECT count(*) FROM rejects WHERE endpoint = ?", [endpoint]).fetchone()
    return 0 if found is None else int(found[0])


class DuckDBSink(ThreadedStore["duckdb.DuckDBPyConnection"]):
    """A DuckDB database file (``duckdb:///path.duckdb``); see the module docstring."""

    reach: Reach = "process"
    _TYPES = TYPES
    columns: tuple[str, ...] | None = None

    def __init__(self, path: str | Path) -> None:
        self.path: Path = Path(path)
        self.url: str = f"duckdb:///{path}"
        self._key = os.path.realpath(self.path)  # one writer a file in this process
        self._writer: str | None = None

    def __repr__(self) -> str:
        return f"DuckDBSink({str(self.path)!r})"

    # -- what DuckDB says (see ThreadedStore) -----------------------------------------

    def _error(self) -> type[Exception]:
        error: type[Exception] = _duckdb().Error
        return error

    def _open_db(self) -> duckdb.DuckDBPyConnection:
        if _head(self.path).startswith(_SQLITE):  # DuckDB would download an extension for it
            raise SinkUnavailableError(
                f"{self.url} is a SQLite database, not a DuckDB file: give sqlite:///{self.path} "
                "to export into it, or another file"
            )
        engine = _duckdb()
        try:
            db: duckdb.DuckDBPyConnection = engine.connect(str(self.path))
        except engine.Error as exc:
            if "lock" in str(exc).lower():
                raise OutputLockedError(self.url, holder=_holder(str(exc))) from None
            raise
        return db

    def _tables(self, db: duckdb.DuckDBPyConnection) -> set[str]:
        found = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        return {name for (name,) in found}

    def _take_writer(self) -> None:
        """One writer a file in this process (DuckDB's own lock keeps other processes out)."""
        _duckdb()  # the missing extra first, before anything is held
        if self._key in _WRITERS:
            raise OutputLockedError(self.url)
        _WRITERS.add(self._key)
        self._writer = self._key

    def _release(self) -> None:
        key, self._writer = self._writer, None
        if key is not None:
            _WRITERS.discard(key)

    def _explain(self, exc: Exception) -> str:
        return (
            f"{self.url}: DuckDB failed ({cause(exc)}): fix the cause, then run the same "
            "command again"
        )

    def _rollback(self, db: duckdb.DuckDBPyConnection) -> None:
        with contextlib.suppress(_duckdb().Error):  # none was open
            db.rollback()

    # -- the calls ---------------------------------------------------------------------

    async def commit(self, batch: Batch) -> int:
        """Rows, rejects and moves in one transaction (see the module docstring)."""
        endpoint = table_of(batch.endpoint)
        rows = last_of_each(batch.rows)
        rejects = new_rejects(endpoint, batch.rejects)

        def commit(db: duckdb.DuckDBPyConnection) -> int:
            db.begin()
            if settle(stored_positions(db, endpoint), batch, self.url):
                db.rollback()  # committed before: nothing to store twice
                return 0
            if rows:
                columns: list[Any] = [list(column) for column in zip(*rows, strict=True)]
                columns[-1] = _texts(self.url, rows, columns[-1])
                db.execute(_UPSERTS[endpoint], columns)
            stored = 0
            if rejects:  # rare: counted before and after, in this one writer's transaction
                held = _count_rejects(db, endpoint)
                db.executemany(_REJECT, rejects)
                stored = _count_rejects(db, endpoint) - held
            for move in batch.moves:
                new = move.new.decode()
                if move.previous is None:
                    db.execute(_START, [endpoint, move.name, new, move.items, move.pages])
                    continue
                found = db.execute(
                    _MOVE,
                    [new, move.items, move.pages, endpoint, move.name, move.previous.decode()],
                ).fetchone()
                if found is None or found[0] != 1:  # never: settle() read it in this transaction
                    raise ShardConflictError(f"{self.url}: {move.name!r} moved meanwhile")
            db.commit()
            return stored

        return await self._call(commit)

    async def span(self, endpoint: Endpoint) -> tuple[datetime, datetime] | None:
        """The oldest and newest time stored for ``endpoint``."""
        table = table_of(endpoint)
        time = time_column(table)
        found = await self._call(
            lambda db: db.execute(
                f"SELECT epoch_ms(min({time})), epoch_ms(max({time})) FROM {table}"
            ).fetchone()
        )
        if found is None or found[0] is None:
            return None
        return from_ms(found[0]), from_ms(found[1])

    async def stored_ids(
        self, endpoint: Endpoint, *, after: datetime | None, before: datetime | None
    ) -> list[str]:
        """Ids of the rows with ``after < time < before`` (``None``: open)."""
        query, params = ids_query(endpoint, (after, before), lambda _: "?::TIMESTAMPTZ")
        found = await self._call(lambda db: db.execute(query, params).fetchall())
        return [id_ for (id_,) in found]


def _texts(url: str, rows: Sequence[Row], data: list[Any]) -> list[str]:
    """The items' bytes as VARCHAR text; bytes that are not UTF-8 (VARCHAR cannot hold
    them as sent) fail with :class:`SinkFailedError` naming the item."""
    try:
        return [str(item, "utf-8") for item in data]
    except UnicodeDecodeError:
        error = not_utf8(url, rows, "DuckDB's VARCHAR")
        if error is None:  # never: the same bytes failed to decode just now
            raise
        raise error from None


#: The first bytes of a SQLite database file, which DuckDB opens only through its
#: ``sqlite`` extension (installed from the network when first needed).
_SQLITE: Final = b"SQLite format 3\x00"


def _head(path: Path) -> bytes:
    """The file's first bytes (none: it does not exist yet, or cannot be read here)."""
    try:
        with path.open("rb") as file:
            return file.read(len(_SQLITE))
    except OSError:
        return b""


def _holder(message: str) -> str | None:
    """The process DuckDB's lock error names ("... is held in /usr/bin/python3 (PID 7)")."""
    found = re.search(r"lock is held in (.+?\(PID \d+\))", message)
    return None if found is None else found[1]


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise SinkUnavailableError(
            "duckdb:// sinks need duckdb: pip install 'postpress-async[duckdb]'"
        ) from None
    return duckdb
