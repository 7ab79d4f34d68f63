"""PostgreSQL's parts of the sink: its types, SQL and COPY text, the store's lock key and
its schema (checked, upgraded, created: :func:`create_store`), connection errors, DSNs.

What :mod:`.postgres` (the connections, the lock, the transactions) builds on: pure
functions, and queries on a connection it is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, Final, Literal
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

import anyio

from postpress_async._exceptions import SinkFailedError, SinkUnavailableError
from postpress_async._lazy import hashlib
from postpress_async.ingest._shards import Endpoint

from ._base import TABLES, Row
from ._sql import (
    META_SCHEMA,
    OUR_TABLES,
    UPGRADABLE,
    Types,
    column_names,
    not_utf8,
    rejects_table,
    schema,
    upgraded_rejects,
    upsert,
    version_error,
)

__all__ = [
    "CONNECT_GRACE",
    "NAMES",
    "REPLACEMENT",
    "STAGES",
    "TYPES",
    "UPSERTS",
    "Copy",
    "asyncpg_module",
    "cause",
    "check_writable",
    "checked_copy_text",
    "connection_errors",
    "copy_text",
    "create_store",
    "finish_connect",
    "gave_up",
    "lock_holders",
    "lock_key",
    "no_nul",
    "not_utf8_data",
    "parses",
    "readable",
    "redact",
    "refuse_foreign",
    "stage",
]

Copy = Literal["binary", "text"]

TYPES: Final = Types(
    kinds={"text": "text", "time": "timestamptz", "int": "bigint"},
    data="json",
    blob="bytea",
    counter="bigint",
)
REPLACEMENT: Final = "\ufffd"


def stage(endpoint: Endpoint, copy: Copy) -> str:
    return f"_pp_{copy}_{endpoint}"


def stage_table(endpoint: Endpoint, copy: Copy) -> str:
    """A temporary table the rows are copied into (the server checks ``data`` is JSON)."""
    columns = "".join(f", {column.name} {TYPES.kinds[column.kind]}" for column in TABLES[endpoint])
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS {stage(endpoint, copy)} (id text{columns}, "
        "data json) ON COMMIT DELETE ROWS"
    )


def staged_upsert(endpoint: Endpoint, copy: Copy) -> str:
    """The upsert of the rows copied into the staging table."""
    names = ", ".join(column_names(endpoint))
    return upsert(endpoint, f"SELECT {names} FROM {stage(endpoint, copy)}")


UPSERTS: Final = {(e, c): staged_upsert(e, c) for e in TABLES for c in ("binary", "text")}
STAGES: Final = {(e, c): stage_table(e, c) for e in TABLES for c in ("binary", "text")}
NAMES: Final = {endpoint: column_names(endpoint) for endpoint in TABLES}


def connection_errors(pg: Any) -> tuple[type[BaseException], ...]:
    """What a lost, refused or stuck connection raises: all mean "open a new one"."""
    return (
        pg.PostgresConnectionError,  # ConnectionDoesNotExistError, ConnectionFailure...
        pg.InterfaceError,  # "connection is closed", a protocol left in a bad state
        pg.InternalClientError,  # "another operation is in progress" after a cut mid-COPY
        pg.CannotConnectNowError,  # starting up, shutting down
        pg.AdminShutdownError,
        pg.CrashShutdownError,
        pg.TooManyConnectionsError,
        OSError,  # ConnectionResetError, ConnectionRefusedError; TimeoutError on 3.11+
        asyncio.TimeoutError,  # command_timeout (not an OSError on 3.10)
        EOFError,
    )


def cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def gave_up(
    url: str, exc: BaseException, working: bool, command_timeout: float | None, deadline: float
) -> str:
    """Why an operation stopped being tried again after ``exc``: ``working``, its
    statement ran past ``command_timeout`` (a lock wait, most often); else the
    connection was lost (or a new one not made)."""
    if working and command_timeout and isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return (
            f"{url}: no answer within command_timeout ({command_timeout:g} s), tried again "
            f"for {deadline:g} s: a lock another session holds (LOCK TABLE, VACUUM FULL, "
            "CREATE INDEX: see pg_locks), an overloaded server or a stalled network blocks "
            "the write; what was committed stays: run the same command again once it is free"
        )
    return (
        f"{url}: lost the connection and could not get one back within {deadline:g} s "
        f"({cause(exc)}); what was committed stays: run the same command again when the "
        "database is back"
    )


def no_nul(row: Row) -> Row:
    """A row whose typed text holds no U+0000 (PostgreSQL text cannot): U+FFFD instead."""
    return tuple(
        value.replace("\x00", REPLACEMENT) if isinstance(value, str) else value for value in row
    )


def not_utf8_data(url: str, rows: Sequence[Row]) -> SinkFailedError | None:
    """The error naming the first row whose ``data`` is not UTF-8, which ``json`` cannot
    hold (``None``: all are). One check of the batch's bytes; each item is a JSON object
    (``{...}``), so no character straddles two of them."""
    try:
        str(b"".join(row[-1] for row in rows), "utf-8")
    except UnicodeDecodeError:
        return not_utf8(url, rows, "PostgreSQL's json")
    return None


# COPY text, built a column at a time (no Python call a value) with stand-ins that UTF-8
# never holds between fields (0xFF), for NULL (0xFE) and between rows (0xFC); then the
# whole batch is escaped at once (backslash, tab, newline, CR; U+0000, which only typed
# text can hold, becomes U+FFFD) and the stand-ins become tab, \N and newline. As fast as
# escaping each field with bytes.replace, 3.5x faster than str.translate.
_FIELD, _NULL, _ROW = b"\xff", b"\xfe", b"\xfc"


def copy_text(endpoint: Endpoint, rows: Sequence[Row]) -> bytes:
    """Rows as COPY text, one line a row; their ``data`` must be UTF-8 (checked first:
    :func:`not_utf8_data`), else a stand-in byte in it would end a field or a row."""
    columns = list(zip(*rows, strict=True))
    kinds = ["text", *(column.kind for column in TABLES[endpoint])]
    fields: list[Sequence[Any]] = []
    for kind, values in zip(kinds, columns, strict=False):
        if kind == "text":
            fields.append([_NULL if v is None else v.encode() for v in values])
        elif kind == "time":
            fields.append([_NULL if v is None else v.isoformat().encode() for v in values])
        else:
            fields.append([_NULL if v is None else b"%d" % v for v in values])
    fields.append(columns[-1])  # data: bytes-like, joined as it is
    text = _ROW.join(map(_FIELD.join, zip(*fields, strict=True)))
    return (
        text.replace(b"\\", b"\\\\")
        .replace(b"\t", b"\\t")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
        .replace(b"\x00", REPLACEMENT.encode())
        .replace(_FIELD, b"\t")
        .replace(_NULL, b"\\N")
        .replace(_ROW, b"\n")
        + b"\n"
    )


def checked_copy_text(url: str, endpoint: Endpoint, rows: Sequence[Row]) -> bytes:
    """:func:`copy_text` of rows whose ``data`` is checked to be UTF-8 first, else the
    :class:`SinkFailedError` naming the first item that is not."""
    bad = not_utf8_data(url, rows)
    if bad is not None:
        raise bad
    return copy_text(endpoint, rows)


#: What :func:`redact` shows of a DSN whose password it cannot find.
_UNREADABLE: Final = "(hidden: a DSN that does not parse)"


def _cut_password(parts: SplitResult) -> bool:
    """Whether a ``/``, ``?`` or ``#`` in the password cut the user part short.

    Then the parser saw ``user:<start of the password>`` as a host and a port and
    the rest of the password, up to its ``@``, as the path, query or fragment: the
    text would show the password in pieces. A DSN has no fragment; an ``@`` after a
    host that has no ``@`` of its own, where the "port" is no number or no path comes
    first, is a user part the parser did not see.
    """
    if parts.fragment:
        return True
    if "@" in parts.netloc or ":" not in parts.netloc:
        return False
    port = parts.netloc.rpartition(":")[2]
    if "@" in parts.path:
        return True
    before_at = parts.query.partition("@")[0]
    return "@" in parts.query and (not port.isdigit() or "=" not in before_at)


def readable(dsn: str) -> bool:
    """Whether :func:`redact` can tell the DSN's password apart (and hide it)."""
    try:
        return not _cut_password(urlsplit(dsn))
    except ValueError:
        return False


def parses(dsn: str) -> bool:
    """Whether the DSN is a URL with a port that is a number (what the driver reads), its
    password told apart: checked before the driver is imported or asked."""
    try:
        urlsplit(dsn).port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return False
    return readable(dsn)


def redact(dsn: str) -> str:
    """The DSN without its password (in the user part or as a ``password`` parameter)."""
    if not readable(dsn):
        return dsn.partition("://")[0] + f"://{_UNREADABLE}"
    try:
        parts = urlsplit(dsn)
        netloc = parts.netloc
        if "@" in netloc:
            credentials, _, host = netloc.rpartition("@")
            netloc = f"{credentials.split(':', 1)[0]}@{host}"
        query = urlencode(
            [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
        )
        # Not urlunsplit: it drops the "//" of an empty host ("postgresql:" for "postgresql://").
        return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
    except ValueError:
        return dsn.partition("://")[0] + f"://{_UNREADABLE}"


async def lock_key(conn: Any) -> int:
    """A bigint key for this store: from the database and the schema the tables live in."""
    database, schema_name = await conn.fetchrow("SELECT current_database(), current_schema()")
    digest = hashlib.blake2b(
        f"postpress-store:{database}:{schema_name}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_holders(conn: Any, key: int) -> set[int]:
    """The backends holding this store's writer lock (a bigint key: two oids in pg_locks)."""
    key &= 0xFFFF_FFFF_FFFF_FFFF
    found = await conn.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
        "database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1",
        key >> 32,
        key & 0xFFFF_FFFF,
    )
    return {pid for (pid,) in found}


#: What the writer does to each table (an upsert reads, inserts and updates; a new plan
#: deletes positions and rejects); its COPY stages rows in a temporary table.
_WRITES: Final[dict[str, tuple[str, ...]]] = {
    **dict.fromkeys(TABLES, ("SELECT", "INSERT", "UPDATE")),
    "positions": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "plans": ("SELECT", "INSERT", "UPDATE"),
    "rejects": ("SELECT", "INSERT", "DELETE"),
}


async def check_writable(conn: Any, url: str) -> None:
    """:class:`SinkUnavailableError` naming what this role lacks to write the store
    ("INSERT on messages"), checked when a writer opens it: else its first commit
    failed, after the plan's and the first pages' requests."""
    tables = [table for table, grants in _WRITES.items() for _ in grants]
    grants = [grant for table_grants in _WRITES.values() for grant in table_grants]
    found = await conn.fetch(
        "SELECT t, p FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x (t, p, n) "
        "WHERE NOT has_table_privilege(t, p) ORDER BY n",
        tables,
        grants,
    )
    missing = [f"{grant} on {table}" for table, grant in found]
    if not await conn.fetchval("SELECT has_database_privilege(current_database(), 'TEMPORARY')"):
        missing.append("TEMPORARY on the database")
    if missing:
        raise SinkUnavailableError(
            f"{url}: no permission to write the store (this role lacks {', '.join(missing)}): "
            "grant them, or export as another role"
        )


#: The key of the transaction lock under which a store is created (two int4 keys: never
#: the writer's bigint key).
_CREATE_LOCK: Final = "SELECT pg_advisory_xact_lock(7411, 2)"


async def create_store(conn: Any, url: str) -> None:
    """Check an existing store's schema; create what is missing (one opener at a time)."""
    async with conn.transaction():
        await conn.execute(_CREATE_LOCK)
        tables = {
            name  # pg_class: information_schema hides a table this role holds no grant on
            for (name,) in await conn.fetch(
                "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p', 'v', 'm', 'f') AND "
                "relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
            )
        }
        if "meta" in tables:
            version = await conn.fetchval("SELECT value FROM meta WHERE key = 'schema'")
            error = version_error(url, version, "export to another database or schema")
            if error is not None:
                raise error
            if version == UPGRADABLE:
                await _upgrade(conn)
            if tables.issuperset(OUR_TABLES):
                return
        else:
            await refuse_foreign(conn, tables, url)
        for statement in schema(TYPES):
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema', $1) ON CONFLICT (key) DO NOTHING",
            META_SCHEMA,
        )


async def _upgrade(conn: Any) -> None:
    """A store of schema 2 made one of this schema: its rejects keyed by their digest
    (two of the same bytes: the oldest kept). Runs in the creation transaction, under
    its lock, once the version was read there."""
    held = await conn.fetch('SELECT endpoint, raw, reason, "at" FROM rejects ORDER BY "at"')
    kept = upgraded_rejects(held)
    await conn.execute("DROP TABLE rejects")
    await conn.execute(rejects_table(TYPES))
    if kept:
        await conn.executemany(
            'INSERT INTO rejects (endpoint, digest, raw, reason, "at") VALUES ($1, $2, $3, $4, $5)',
            kept,
        )
    await conn.execute("UPDATE meta SET value = $1 WHERE key = 'schema'", META_SCHEMA)


async def refuse_foreign(conn: Any, tables: set[str], url: str) -> None:
    """No ``meta``: an earlier release's store, someone else's tables, or nothing yet."""
    jsonb = [
        name
        for (name,) in await conn.fetch(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND column_name = 'data' AND data_type = 'jsonb' "
            "AND table_name = any($1::text[]) ORDER BY table_name",
            list(TABLES),
        )
    ]
    if "checkpoints" in tables or jsonb:
        steps = [
            *(["DROP TABLE checkpoints"] if "checkpoints" in tables else []),
            *(f"ALTER TABLE {name} ALTER COLUMN data TYPE json" for name in jsonb),
            "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)",
            f"INSERT INTO meta VALUES ('schema', '{META_SCHEMA}')",
        ]
        raise SinkUnavailableError(
            f"{url} holds an export of an earlier release (positions in a table "
            "`checkpoints`, data as jsonb). To keep its rows and export into it again "
            "(each row is stored again with its exact JSON), run: "
            f"BEGIN; {'; '.join(steps)}; COMMIT; or export to another database or schema"
        )
    ours = sorted(tables & set(OUR_TABLES))
    if ours:
        raise SinkUnavailableError(
            f"{url} holds tables ({', '.join(ours)}) but no postpress store (no table "
            "`meta`): export to another database or schema"
        )


def asyncpg_module() -> Any:
    """asyncpg (the ``postgres`` extra), imported when a PostgreSQL store is opened."""
    try:
        import asyncpg
    except ImportError:
        raise SinkUnavailableError(
            "postgresql:// sinks need asyncpg: pip install 'postpress-async[postgres]'"
        ) from None
    return asyncpg


#: Seconds a connect cancelled mid-handshake may go on to finish before it is cut off.
CONNECT_GRACE: Final = 5.0


async def finish_connect(connecting: Awaitable[Any]) -> Any:
    """The connection ``connecting`` makes; cancelled meanwhile, the connect goes on to its
    end (shielded, at most :data:`CONNECT_GRACE` seconds), its connection is terminated
    and the cancellation goes on. asyncpg cut off mid-handshake leaves a future whose error
    nobody reads ('Future exception was never retrieved ... unexpected connection_lost()'
    on stderr after a Ctrl-C at the start of an export)."""
    task = asyncio.ensure_future(connecting)
    try:
        return await asyncio.shield(task)
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True), anyio.move_on_after(CONNECT_GRACE):
            try:
                conn = await task
            except Exception:  # its error is read: nothing is left behind
                pass
            else:
                conn.terminate()
        raise
