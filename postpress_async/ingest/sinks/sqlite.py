"""SQLite (``sqlite:///path.db``): the embedded store, through the standard library's ``sqlite3``.

Tables (see ``_sql.schema``): ``accounts``, ``chats``, ``messages`` keyed by ``id``, with
the typed columns (``TEXT``; times as the API's ``YYYY-MM-DDTHH:MM:SS.sssZ`` text, which
sorts as time; ``INTEGER``) and ``data TEXT``, the item's JSON exactly as the API sent it
(bound as bytes and cast in SQL: no decode, no re-encode); ``positions``, ``plans``,
``rejects`` (``raw BLOB``, exact; one a digest of its bytes, see ``_sql.new_rejects``)
and ``meta`` (``schema = 3``; a store of schema 2 is upgraded when opened). Typed text
keeps U+0000 (SQLite text holds it).

A commit is one ``BEGIN IMMEDIATE`` transaction: the moves' compare-and-set (see
``_sql.settle``: a conflict stores nothing, a replay of a committed batch stores nothing
twice), the rows' upsert, the rejects, the positions. The runner sends several pages
as one batch (group commit), and the statements run in a worker thread (``sqlite3``
lets go of the GIL while SQLite works), so the event loop keeps fetching meanwhile. The
rows go in statements of many rows each (``INSERT ... VALUES (...), (...) ...``, up to
1,024 rows, see :func:`_upsert_rows`): SQLite then does the B-tree work of a thousand
rows in one call without the GIL, where ``executemany`` gives it back and takes it again
for every row, so the fetch on the event loop's thread hardly overlapped with it
(end to end into SQLite: 0.72x a bare ``executemany`` load before, 0.78-0.90x after).
Times become text in SQL (``strftime`` of the epoch seconds), so a row costs Python one
``timestamp()`` call and a new tuple; ``data`` is bound as it is.

WAL with ``synchronous=NORMAL``: readers query during an export, a committed batch
survives the process (a power cut may lose the last ones, which the positions then
fetch again). A connection keeps up to 16 MiB of pages in its cache (SQLite's default
is 2 MiB) and checkpoints the WAL every 10,000 pages (about 40 MiB; the default is
1,000): a load's index pages stay cached between batches and the WAL is copied back
in fewer, longer runs. Together they took the end-to-end load from 0.85x to 1.03x a
bare ``executemany`` load with SQLite's defaults, the same rows in the same run
(either alone: 0.87-0.89x); the price is at most 16 MiB more memory a connection and
a WAL file of up to about 40 MiB beside the database while it is written. A reader's
open transaction holds the checkpoints back (SQLite copies no page a reader may still
need), so the WAL grows while it lasts; the next checkpoint after it cuts the file back to
64 MiB (``journal_size_limit``), where it would otherwise keep its largest size until the
writer closes. Several processes of one machine may write in turn (``busy_timeout``):
the ``writer=True`` opener holds ``PATH.lock`` (an OS lock on a file beside the
database: never the database file itself, whose descriptor's closing would drop
SQLite's own POSIX locks), Dask workers open with ``writer=False``. SQLite locks
through the file system, which network file systems do not honour: it serves the
processes of one machine.

Errors while writing (full disk, I/O error, locked past ``busy_timeout``, read-only)
are :class:`~postpress_async.ingest.SinkFailedError` in one line that names the file
and what to do; what was committed stays.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Final

from postpress_async._exceptions import (
    OutputLockedError,
    ShardConflictError,
    SinkUnavailableError,
)
from postpress_async._filelock import OutputLock, lock_output
from postpress_async._time import format_datetime, from_ms, parse_datetime
from postpress_async.ingest._shards import Endpoint

from ._base import TABLES, Batch, Reach, Row
from ._sql import (
    META_SCHEMA,
    Types,
    ids_query,
    ms_bounds,
    new_rejects,
    settle,
    table_of,
    time_column,
    upsert,
)
from ._threaded import ThreadedStore, cause, stored_positions

__all__ = ["SQLiteSink"]


#: Now, as the API writes times.
_NOW: Final = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
TYPES: Final = Types(
    kinds={"text": "TEXT", "time": "TEXT", "int": "INTEGER"},
    data="TEXT",
    blob="BLOB",
    counter="INTEGER",
)
#: Epoch seconds -> the API's UTC ``...sssZ`` text, in SQL (SQLite rounds to the nearest
#: millisecond: exact for the API's millisecond times, whatever the float's last bits).
_TIME_PARAM: Final = "strftime('%Y-%m-%dT%H:%M:%fZ', ?, 'unixepoch')"

#: A connection's page cache (KiB) and the WAL size (pages) that starts a checkpoint: see
#: the module docstring for why and what they cost.
_CACHE_KIB: Final = 16 * 1024
_WAL_CHECKPOINT_PAGES: Final = 10_000
#: The size (bytes) a WAL file is cut back to after a checkpoint: above what the
#: checkpoints above keep it to (10,000 pages of 4 KiB), so a load never pays for it; a WAL
#: grown past it while an analyst's read held the checkpoints back shrinks again, where
#: SQLite's default (-1) keeps the file at its largest until the last connection closes.
_WAL_LIMIT_BYTES: Final = 64 * 1024 * 1024

# Primary result codes (``sqlite3.SQLITE_*`` exist from Python 3.11 only).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


def _upsert(endpoint: Endpoint, rows: int = 1) -> str:
    """The upsert of ``rows`` rows in one statement (a later row of an id wins: SQLite
    applies ``ON CONFLICT`` row by row)."""
    params = [
        "?",
        *(_TIME_PARAM if column.kind == "time" else "?" for column in TABLES[endpoint]),
        "CAST(? AS TEXT)",  # data arrives as bytes: stored as text, byte for byte
    ]
    one = f"({', '.join(params)})"
    return upsert(endpoint, f"VALUES {', '.join([one] * rows)}")


#: Rows a statement holds at most, and the fewest worth a statement of their own.
_MOST_ROWS: Final = 1024
_FEWEST_ROWS: Final = 16
_MULTI_UPSERTS: dict[tuple[Endpoint, int], str] = {}


def statement_sizes(rows: int, most: int) -> list[int]:
    """How ``rows`` rows are cut into statements: powers of two from ``most`` down to 16
    (each size one statement, compiled once), then a 1 for each row left to
    ``executemany``; e.g. ``statement_sizes(4003, 1024)`` is
    ``[1024, 1024, 1024, 512, 256, 128, 32, 1, 1, 1]``. The sizes sum to ``rows``.
    """
    sizes: list[int] = []
    size = most
    while size >= _FEWEST_ROWS:
        count, rows = divmod(rows, size)
        sizes += [size] * count
        size //= 2
    return sizes + [1] * rows


def _upsert_rows(db: sqlite3.Connection, endpoint: Endpoint, rows: list[Row], most: int) -> None:
    """Upsert ``rows`` (parameters, see :func:`_converter`) in statements of many rows."""
    start = 0
    sizes = statement_sizes(len(rows), most)
    for size in sizes:
        if size == 1:
            break
        statement = _MULTI_UPSERTS.get((endpoint, size))
        if statement is None:
            statement = _MULTI_UPSERTS[endpoint, size] = _upsert(endpoint, size)
        db.execute(statement, list(itertools.chain.from_iterable(rows[start : start + size])))
        start += size
    if start < len(rows):
        db.executemany(_UPSERTS[endpoint], rows[start:])


def most_rows(db: sqlite3.Connection, endpoint: Endpoint) -> int:
    """The most rows of ``endpoint`` one statement may bind: ``_MOST_ROWS``, fewer when
    this SQLite binds fewer variables (older builds: 999) in a power of two."""
    getlimit = getattr(db, "getlimit", None)  # Python 3.11+
    variables = getattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER", None)
    limit: int = 999 if getlimit is None or variables is None else getlimit(variables)
    per_row = 2 + len(TABLES[endpoint])
    most = _MOST_ROWS
    while most > 1 and most * per_row > limit:
        most //= 2
    return most


def _converter(endpoint: Endpoint) -> Callable[[list[Row]], list[Row]]:
    """Rows -> parameters: the time as epoch seconds (``datetime.timestamp``: 6x cheaper
    than any text formatting in Python; SQL writes the text), ``data`` as it is."""
    at = 1 + next(k for k, column in enumerate(TABLES[endpoint]) if column.kind == "time")

    def convert(rows: list[Row]) -> list[Row]:
        return [
            (*row[:at], None if (moment := row[at]) is None else moment.timestamp(), *row[at + 1 :])
            for row in rows
        ]

    return convert


#: What turns a store of the previous release into one of this schema; its rows stay.
_MIGRATE: Final = (
    "DROP TABLE checkpoints; CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); "
    f"INSERT INTO meta VALUES ('schema', '{META_SCHEMA}')"
)
_UPSERTS: Final = {endpoint: _upsert(endpoint) for endpoint in TABLES}
_CONVERTERS: Final = {endpoint: _converter(endpoint) for endpoint in TABLES}
_REJECT: Final = (
    f"INSERT INTO rejects (endpoint, digest, raw, reason, at) VALUES (?, ?, ?, ?, {_NOW}) "
    "ON CONFLICT (endpoint, digest) DO NOTHING"
)
_START: Final = (
    "INSERT INTO positions (endpoint, name, position, items, pages) VALUES (?, ?, ?, ?, ?)"
)
#: Named placeholders take a mapping: numbered ones (``?1``) with a sequence are
#: deprecated from Python 3.12 and an error from 3.14.
_MOVE: Final = (
    "UPDATE positions SET position = :new, items = items + :items, pages = pages + :pages "
    "WHERE endpoint = :endpoint AND name = :name AND position = :previous"
)


class SQLiteSink(ThreadedStore[sqlite3.Connection]):
    """A SQLite database file (``sqlite:///path.db``); see the module docstring.

    ``busy_timeout``: seconds a statement waits for another process's write lock before
    failing (then :class:`~postpress_async.ingest.SinkFailedError`).
    """

    reach: Reach = "machine"
    _BEGIN = "BEGIN IMMEDIATE"
    _TYPES = TYPES
    columns: tuple[str, ...] | None = None

    def __init__(self, path: str | Path, *, busy_timeout: float = 60.0) -> None:
        self.path: Path = Path(path)
        self.url: str = f"sqlite:///{path}"
        self.busy_timeout = busy_timeout
        self._lock: OutputLock | None = None

    def __repr__(self) -> str:
        return f"SQLiteSink({str(self.path)!r})"

    # -- what SQLite says (see ThreadedStore) -----------------------------------------

    def _error(self) -> type[Exception]:
        return sqlite3.Error

    def _open_db(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,  # one call at a time, from worker threads
        )

    def _setup(self, db: sqlite3.Connection) -> None:
        _switch_to_wal(db, self.busy_timeout)
        db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable across process crashes
        db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")  # negative: KiB, not pages
        db.execute(f"PRAGMA wal_autocheckpoint = {_WAL_CHECKPOINT_PAGES}")
        db.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")

    def _tables(self, db: sqlite3.Connection) -> set[str]:
        return {
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }

    def _refuse(self, tables: set[str]) -> None:
        if "checkpoints" in tables:
            raise SinkUnavailableError(
                f"{self.url} holds an export of an earlier release (its positions are in a "
                "table `checkpoints`). To keep its rows and export into it again (each row is "
                f'stored again with its exact JSON), run: sqlite3 {self.path} "{_MIGRATE}"; '
                "or export to a new file"
            )
        super()._refuse(tables)

    def _take_writer(self) -> None:
        """Hold ``PATH.lock`` (see the module docstring)."""
        self._check_directory()
        try:
            self._lock = lock_output(self.path.with_name(self.path.name + ".lock"))
        except OutputLockedError:
            raise OutputLockedError(self.url) from None
        except OSError as exc:
            raise SinkUnavailableError(
                f"{self.url}: cannot create its lock file ({exc.strerror or exc})"
            ) from None

    def _release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _explain(self, exc: Exception) -> str:
        return _explain(self.url, exc)

    def _rollback(self, db: sqlite3.Connection) -> None:
        if db.in_transaction:  # SQLite may have rolled back already (a full disk)
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")

    # -- the calls ---------------------------------------------------------------------

    async def commit(self, batch: Batch) -> int:
        """Rows, rejects and moves in one transaction (see the module docstring)."""
        endpoint = table_of(batch.endpoint)
        convert = _CONVERTERS[endpoint]
        rejects = new_rejects(endpoint, batch.rejects)

        def commit(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            if settle(stored_positions(db, endpoint), batch, self.url):
                db.execute("ROLLBACK")  # committed before: nothing to store twice
                return 0
            if batch.rows:
                _upsert_rows(db, endpoint, convert(batch.rows), most_rows(db, endpoint))
            # executemany sums the rows each statement inserted: a reject held is none.
            stored = db.executemany(_REJECT, rejects).rowcount if rejects else 0
            for move in batch.moves:
                new = move.new.decode()
                if move.previous is None:
                    db.execute(_START, (endpoint, move.name, new, move.items, move.pages))
                else:
                    moved = db.execute(
                        _MOVE,
                        {
                            "endpoint": endpoint,
                            "name": move.name,
                            "new": new,
                            "items": move.items,
                            "pages": move.pages,
                            "previous": move.previous.decode(),
                        },
                    )
                    if moved.rowcount != 1:  # never: settle() read it under this same lock
                        raise ShardConflictError(f"{self.url}: {move.name!r} moved meanwhile")
            db.execute("COMMIT")
            return stored

        return await self._call(commit)

    async def span(self, endpoint: Endpoint) -> tuple[datetime, datetime] | None:
        """The oldest and newest time stored for ``endpoint``."""
        table = table_of(endpoint)
        time = time_column(table)
        low, high = await self._call(
            lambda db: db.execute(f"SELECT min({time}), max({time}) FROM {table}").fetchone()
        )
        if low is None:
            return None
        return parse_datetime(time, low), parse_datetime(time, high)

    async def stored_ids(
        self, endpoint: Endpoint, *, after: datetime | None, before: datetime | None
    ) -> list[str]:
        """Ids of the rows with ``after < time < before`` (``None``: open)."""
        texts = [
            None if ms is None else format_datetime(from_ms(ms)) for ms in ms_bounds(after, before)
        ]
        query, params = ids_query(endpoint, (texts[0], texts[1]), lambda _: "?")
        found = await self._call(lambda db: db.execute(query, params).fetchall())
        return [id_ for (id_,) in found]


def _switch_to_wal(db: sqlite3.Connection, timeout: float) -> None:
    """``PRAGMA journal_mode = WAL``, waiting up to ``timeout`` seconds for another opener.

    When two connections switch a new file to WAL at the same moment, each holds a shared
    lock the other's switch must wait for, and SQLite refuses one at once ("database is
    locked") rather than deadlock: the busy timeout is never waited out. The other's switch
    then finishes within milliseconds, so trying again is all it takes.
    """
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", _BUSY) & 0xFF
            if code not in (_BUSY, _LOCKED) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)  # a worker thread: the event loop goes on
        pause = min(2 * pause, 0.05)


def _explain(url: str, exc: Exception) -> str:
    """One line: the store, what went wrong in words, SQLite's own words, what to do."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    said = cause(exc)
    if primary == _FULL or "full" in said:
        what, then = "the disk is full", "free some space"
    elif primary == _IOERR or "I/O error" in said:
        what, then = "a disk I/O error", "check the disk and its file system"
    elif primary in (_BUSY, _LOCKED) or "locked" in said:
        what, then = (
            "another process kept the database locked past the busy timeout",
            "let it finish (or stop it)",
        )
    elif primary == _READONLY or "readonly" in said:
        what, then = "the database is read-only", "make the file and its directory writable"
    elif primary in (_CORRUPT, _NOTADB) or "malformed" in said:
        what, then = "the file is damaged", "restore it from a copy or export to a new file"
    elif primary == _CANTOPEN:
        what, then = "the file cannot be opened", "check that it and its directory exist"
    else:
        what, then = "SQLite failed", "fix the cause"
    return f"{url}: {what} ({said}): {then}, then run the same command again"
