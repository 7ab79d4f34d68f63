"""PostgreSQL (``postgresql://user@host:port/db``) through asyncpg (the ``postgres`` extra).

The store of ``_sql.schema`` with ``text``, ``timestamptz`` and ``bigint`` columns and
``data json``: the item's JSON exactly as sent (``jsonb`` would refuse ``\\u0000`` and
lone surrogate escapes, and rewrite the rest). PostgreSQL ``text`` cannot hold U+0000:
in typed text columns (``id`` included) it becomes U+FFFD; ``data`` keeps the exact
JSON, where a NUL is the six characters ``\\u0000``.

A commit is one transaction: the moves' compare-and-set (``_sql.settle``: a conflict
stores nothing, a replay of a committed batch stores nothing twice), the rows by
``COPY`` into a temporary staging table then one ``INSERT ... SELECT ... ON CONFLICT (id)
DO UPDATE`` (the last row of an id wins: the batch is deduplicated first), the rejects
(one a digest of its bytes: ``ON CONFLICT DO NOTHING``), the positions. ``copy="binary"`` (the default: measured faster, ``bench_db_sinks.py``)
hands asyncpg the rows as they come, no Python a row: ``data`` goes as the bytes it came
as (json's binary form is its text: a codec of this connection), the server checks it
is JSON; a batch with a NUL in a typed text is refused by the server, and sent again
with U+FFFD in its place. ``copy="text"`` encodes COPY text here. An item whose bytes
are not UTF-8 (``json`` cannot hold them as sent) fails the commit with
:class:`~postpress_async.ingest.SinkFailedError` naming it, nothing stored.

A transaction is never cancelled half-way (asyncpg cancelled mid-``COPY`` would leave
both ends waiting): it runs shielded, bounded by ``command_timeout``.

Stores restart. A connection that fails (the server restarted, a backend terminated,
the network cut, a statement past ``command_timeout``) is terminated, never reused; a
new one is opened with backoff for up to ``reconnect_deadline`` seconds and the
operation runs again (for a commit, the compare-and-set tells whether the batch had
committed). Past the deadline: :class:`~postpress_async.ingest.SinkFailedError` naming
the database (never its password) and the cause.

One writer: ``open(writer=True)`` holds ``pg_try_advisory_lock`` (a key from the
database and schema) on a connection of its own until ``close``, and takes it again after
a reconnect (taken by another writer meanwhile: :class:`~postpress_async.OutputLockedError`),
and checks its role may write every table and create the temporary staging tables.
``url`` has no password (it is shown in messages); an engine's workers open the URL as
given (``given_url``, password included), or, where it has none, read the password from
``PGPASSWORD`` or ``~/.pgpass``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio

from postpress_async._exceptions import (
    OutputLockedError,
    ShardConflictError,
    SinkFailedError,
    SinkUnavailableError,
)
from postpress_async.ingest._shards import Endpoint, ShardPlan

from ._base import Batch, Reach, Stored
from ._pg import (
    NAMES,
    STAGES,
    UPSERTS,
    Copy,
    asyncpg_module,
    cause,
    check_writable,
    checked_copy_text,
    connection_errors,
    create_store,
    finish_connect,
    gave_up,
    lock_holders,
    lock_key,
    no_nul,
    not_utf8_data,
    parses,
    redact,
    stage,
)
from ._sql import ids_query, new_rejects, settle, table_of, time_column

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresSink"]

T = TypeVar("T")

_START: Final = (
    "INSERT INTO positions (endpoint, name, position, items, pages) VALUES ($1, $2, $3, $4, $5)"
)
_MOVE: Final = (
    "UPDATE positions SET position = $3, items = items + $4, pages = pages + $5 "
    "WHERE endpoint = $1 AND name = $2 AND position = $6"
)
#: A batch's rejects in one statement, whose status (``INSERT 0 n``) tells how many were new.
_REJECTS: Final = (
    "INSERT INTO rejects (endpoint, digest, raw, reason, at) "
    "SELECT $1, digest, raw, reason, now() "
    "FROM unnest($2::text[], $3::bytea[], $4::text[]) AS r (digest, raw, reason) "
    "ON CONFLICT (endpoint, digest) DO NOTHING"
)
#: Why a DSN the driver cannot parse is refused (its own words may quote the password).
_UNPARSED: Final = (
    "cannot connect: the DSN does not parse (percent-encode @ : / ? # in the user and "
    "password, give the port as a number)"
)


class PostgresSink:
    """A PostgreSQL database (``postgresql://user@host:port/db``); see the module docstring.

    ``copy``: ``"binary"`` (default) or ``"text"`` COPY. ``command_timeout``: seconds a
    statement may take. ``reconnect_deadline``: seconds to get a working connection back
    after one fails, before :class:`~postpress_async.ingest.SinkFailedError`.
    """

    reach: Reach = "network"
    columns: tuple[str, ...] | None = None

    def __init__(
        self,
        dsn: str,
        *,
        copy: Copy = "binary",
        command_timeout: float | None = 60.0,
        reconnect_deadline: float = 60.0,
    ) -> None:
        if copy not in ("binary", "text"):
            raise ValueError(f"copy must be 'binary' or 'text', not {copy!r}")
        self._dsn = dsn
        self.url: str = redact(dsn)
        self.copy: Copy = copy
        self.command_timeout = command_timeout
        self.reconnect_deadline = reconnect_deadline
        self._conn: asyncpg.Connection | None = None
        self._lock_conn: asyncpg.Connection | None = None
        self._writer = False
        self._open = False
        self._key = 0
        self._lock_pids: set[int] = set()  # backends that held the writer's lock for us
        self._staged: set[str] = set()
        self._mutex: anyio.Lock | None = None

    def __repr__(self) -> str:
        return f"PostgresSink({self.url!r})"

    @property
    def given_url(self) -> str:
        """The URL as given, password included: what an engine's workers open (never shown)."""
        return self._dsn

    # -- opening and closing -----------------------------------------------------------

    async def open(self, *, writer: bool = True) -> None:
        """Connect, take the writer's lock if asked, create what is missing."""
        if self._open:
            return
        if not parses(self._dsn):  # before the driver quotes pieces of the password
            raise SinkUnavailableError(f"{self.url}: {_UNPARSED}")
        pg = asyncpg_module()
        self._mutex = anyio.Lock()
        try:
            conn = await self._connect(timeout=self.command_timeout or 60.0)
        except (*connection_errors(pg), pg.PostgresError) as exc:  # down, or it said no
            asked = not isinstance(exc, pg.ClientConfigurationError)  # sslmode=requir: not down
            down = asked and isinstance(exc, connection_errors(pg))
            why = f"{self.url}: cannot connect ({cause(exc)})"
            raise SinkUnavailableError(why, unreachable=down) from None
        except ValueError:  # a DSN the driver cannot parse: its words may quote the password
            raise SinkUnavailableError(f"{self.url}: {_UNPARSED}") from None
        self._conn = conn
        try:
            self._key = await lock_key(conn)
            if writer:
                await self._take_lock()
            await create_store(conn, self.url)
            if writer:
                await check_writable(conn, self.url)
        except pg.InsufficientPrivilegeError as exc:
            await self._abort()
            raise SinkUnavailableError(
                f"{self.url}: no permission to create or write the tables ({cause(exc)})"
            ) from None
        except (pg.PostgresError, OSError, pg.InterfaceError) as exc:
            await self._abort()
            raise SinkUnavailableError(f"{self.url}: cannot open ({cause(exc)})") from None
        except BaseException:
            await self._abort()
            raise
        self._writer = writer
        self._open = True

    async def _connect(self, *, timeout: float) -> asyncpg.Connection:
        pg = asyncpg_module()
        conn = await finish_connect(
            pg.connect(self._dsn, command_timeout=self.command_timeout, timeout=timeout)
        )
        try:
            # json's binary form is its text: binary COPY sends ``data`` as the bytes it
            # came as (asyncpg's own codec would want a str, a decode a row).
            await conn.set_type_codec(
                "json", schema="pg_catalog", encoder=bytes, decoder=bytes, format="binary"
            )
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def _take_lock(self) -> None:
        """The one-writer lock, on a connection of its own (held for the run).

        Taken again after a reconnect: a backend of ours that was terminated may still
        hold it for a moment (the client hears of the end before the backend lets go of
        its locks): that is :class:`_LockNotYetFree`, retried like a lost connection;
        held by anyone else, :class:`~postpress_async.OutputLockedError`.
        """
        old, self._lock_conn = self._lock_conn, None
        if old is not None:
            old.terminate()
        conn = await self._connect(timeout=self.command_timeout or 60.0)
        try:
            taken = await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key)
            holders = set() if taken else await lock_holders(conn, self._key)
        except BaseException:
            conn.terminate()
            raise
        if not taken:
            await _close(conn)
            if holders and holders <= self._lock_pids:
                raise _LockNotYetFree(f"a terminated connection {holders} still holds it")
            raise OutputLockedError(self.url)
        self._lock_pids.add(conn.get_server_pid())
        self._lock_conn = conn

    async def close(self) -> None:
        """Close the connections, which releases the writer's lock (again: nothing)."""
        self._open = False
        conns = [self._conn, self._lock_conn]
        self._conn = self._lock_conn = None
        for conn in conns:
            if conn is not None:
                await _close(conn)

    async def _abort(self) -> None:
        self._open = False
        for conn in (self._conn, self._lock_conn):
            if conn is not None:
                conn.terminate()
        self._conn = self._lock_conn = None

    # -- running an operation through failures ----------------------------------------

    async def _run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``work(connection)``, shielded, run again on a new connection after one fails."""
        if not self._open or self._mutex is None:
            raise SinkUnavailableError(f"{self.url} is not open")
        pg = asyncpg_module()
        lost: tuple[type[BaseException], ...] = (*connection_errors(pg), _LockNotYetFree)
        async with self._mutex:
            deadline: float | None = None
            delay = 0.05
            while True:
                working = False
                try:
                    conn = await self._ready()
                    working = True
                    with anyio.CancelScope(shield=True):
                        return await work(conn)
                except lost as exc:
                    self._lost()
                    now = anyio.current_time()
                    if deadline is None:
                        deadline = now + self.reconnect_deadline
                    if now >= deadline:
                        raise SinkFailedError(
                            gave_up(
                                self.url,
                                exc,
                                working,
                                self.command_timeout,
                                self.reconnect_deadline,
                            )
                        ) from None
                    await anyio.sleep(min(delay, deadline - now))
                    delay = min(delay * 2, 2.0)
                except pg.PostgresError as exc:
                    raise SinkFailedError(f"{self.url}: {cause(exc)}") from None

    async def _ready(self) -> asyncpg.Connection:
        """The working connection, and the writer's lock, opened again if lost."""
        if self._writer and (self._lock_conn is None or self._lock_conn.is_closed()):
            await self._take_lock()
        if self._conn is None or self._conn.is_closed():
            self._lost()
            self._conn = await self._connect(timeout=min(10.0, max(1.0, self.reconnect_deadline)))
        return self._conn

    def _lost(self) -> None:
        """Terminate the working connection (never reused) and a lock connection that died."""
        conn, self._conn = self._conn, None
        self._staged.clear()
        if conn is not None:
            conn.terminate()
        if self._lock_conn is not None and self._lock_conn.is_closed():
            self._lock_conn.terminate()
            self._lock_conn = None

    # -- the calls ---------------------------------------------------------------------

    async def commit(self, batch: Batch) -> int:
        """Rows, rejects and moves in one transaction (see the module docstring)."""
        endpoint = table_of(batch.endpoint)
        rows = batch.rows
        if len({row[0] for row in rows}) != len(rows):  # the last row of an id wins
            rows = list({row[0]: row for row in rows}.values())
        rejects = new_rejects(endpoint, batch.rejects)
        copy = self.copy
        payload: Any = (
            checked_copy_text(self.url, endpoint, rows) if copy == "text" and rows else rows
        )
        pg = asyncpg_module()

        tries = 0

        async def commit(conn: asyncpg.Connection) -> int:
            nonlocal payload, tries
            tries += 1
            try:
                stored = await self._commit(conn, batch, payload, rejects)
            except BaseException as exc:
                self._staged.clear()  # a staging table created in a rolled back transaction
                if not isinstance(exc, pg.CharacterNotInRepertoireError):
                    raise
                if copy != "binary" or payload is not rows:
                    raise
                bad = not_utf8_data(self.url, rows)  # rare: json cannot hold the item
                if bad is not None:
                    raise bad from None
                payload = [no_nul(row) for row in rows]  # rare: a NUL in a typed text
                stored = await self._commit(conn, batch, payload, rejects)
            if stored is None:  # a replay: what the try that committed could have stored
                return len(rejects) if tries > 1 else 0
            return stored

        return await self._run(commit)

    async def _commit(
        self,
        conn: asyncpg.Connection,
        batch: Batch,
        payload: Any,
        rejects: list[tuple[str, str, bytes, str]],
    ) -> int | None:
        """The batch in one transaction: the rejects it stored, ``None`` for a replay."""
        endpoint = table_of(batch.endpoint)
        names = [move.name for move in batch.moves]
        pg = asyncpg_module()
        async with conn.transaction():
            found = await conn.fetch(
                "SELECT name, position FROM positions WHERE endpoint = $1 "
                "AND name = any($2::text[]) FOR UPDATE",
                endpoint,
                names,
            )
            if settle({name: text.encode() for name, text in found}, batch, self.url):
                return None  # committed before the connection broke: nothing to store twice
            if payload:
                await self._copy(conn, endpoint, payload)
            stored = 0
            if rejects:
                _, digests, raws, reasons = zip(*rejects, strict=True)
                inserted = await conn.execute(
                    _REJECTS, endpoint, list(digests), list(raws), list(reasons)
                )
                stored = int(inserted.rsplit(" ", 1)[1])
            for move in batch.moves:
                new = move.new.decode()
                try:
                    if move.previous is None:
                        status = await conn.execute(
                            _START, endpoint, move.name, new, move.items, move.pages
                        )
                    else:
                        status = await conn.execute(
                            _MOVE,
                            endpoint,
                            move.name,
                            new,
                            move.items,
                            move.pages,
                            move.previous.decode(),
                        )
                except pg.UniqueViolationError:
                    status = "INSERT 0 0"  # another writer created it meanwhile
                if status not in ("INSERT 0 1", "UPDATE 1"):
                    raise ShardConflictError(
                        f"{self.url}: the {endpoint} position {move.name!r} moved meanwhile: "
                        "another writer is storing it; this batch was not stored"
                    )
        return stored

    async def _copy(self, conn: asyncpg.Connection, endpoint: Endpoint, payload: Any) -> None:
        copy = self.copy
        table = stage(endpoint, copy)
        if table not in self._staged:
            await conn.execute(STAGES[endpoint, copy])
            self._staged.add(table)  # forgotten if this transaction rolls back (commit())
        if copy == "binary":
            await conn.copy_records_to_table(table, records=payload, columns=NAMES[endpoint])
        else:

            async def source() -> Any:
                yield payload

            await conn.copy_to_table(table, source=source(), columns=NAMES[endpoint], format="text")
        await conn.execute(UPSERTS[endpoint, copy])

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The plan stored for ``endpoint``."""
        table = table_of(endpoint)
        text = await self._run(
            lambda conn: conn.fetchval("SELECT plan FROM plans WHERE endpoint = $1", table)
        )
        return None if text is None else ShardPlan.from_json(text)

    async def save_plan(self, plan: ShardPlan) -> None:
        """Store ``plan``; forget the positions and rejects of its endpoint (rows stay)."""
        endpoint = table_of(plan.endpoint)
        text = plan.to_json().decode()

        async def save(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                await conn.execute("DELETE FROM positions WHERE endpoint = $1", endpoint)
                await conn.execute("DELETE FROM rejects WHERE endpoint = $1", endpoint)
                await conn.execute(
                    "INSERT INTO plans (endpoint, plan) VALUES ($1, $2) "
                    "ON CONFLICT (endpoint) DO UPDATE SET plan = excluded.plan",
                    endpoint,
                    text,
                )

        await self._run(save)

    async def positions(self, endpoint: Endpoint) -> dict[str, Stored]:
        """Every position stored for ``endpoint``."""
        table = table_of(endpoint)
        found = await self._run(
            lambda conn: conn.fetch(
                "SELECT name, position, items, pages FROM positions WHERE endpoint = $1", table
            )
        )
        return {name: Stored(text.encode(), items, pages) for name, text, items, pages in found}

    async def count(self, endpoint: Endpoint) -> int:
        """Rows stored for ``endpoint``."""
        table = table_of(endpoint)
        return int(await self._run(lambda conn: conn.fetchval(f"SELECT count(*) FROM {table}")))

    async def span(self, endpoint: Endpoint) -> tuple[datetime, datetime] | None:
        """The oldest and newest time stored for ``endpoint``."""
        table = table_of(endpoint)
        time = time_column(table)
        low, high = await self._run(
            lambda conn: conn.fetchrow(f"SELECT min({time}), max({time}) FROM {table}")
        )
        return None if low is None else (low, high)

    async def stored_ids(
        self, endpoint: Endpoint, *, after: datetime | None, before: datetime | None
    ) -> list[str]:
        """Ids of the rows with ``after < time < before`` (``None``: open)."""
        query, params = ids_query(endpoint, (after, before), lambda n: f"${n}")
        found = await self._run(lambda conn: conn.fetch(query, *params))
        return [id_ for (id_,) in found]

    async def rejects(self, endpoint: Endpoint) -> int:
        """Items of ``endpoint`` set aside so far."""
        table = table_of(endpoint)
        return int(
            await self._run(
                lambda conn: conn.fetchval(
                    "SELECT count(*) FROM rejects WHERE endpoint = $1", table
                )
            )
        )


# -- helpers ---------------------------------------------------------------------------


class _LockNotYetFree(Exception):
    """The writer's lock is still held by a backend of ours that is going away."""


async def _close(conn: asyncpg.Connection) -> None:
    try:
        with anyio.fail_after(5):
            await conn.close()
    except BaseException:
        conn.terminate()
        raise
