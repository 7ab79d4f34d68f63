"""Bare loads: what storing the export's rows costs SQLite and PostgreSQL with no SDK around it.

The baselines the sinks are measured against, on the same rows. The rows are built once
from the fake server's real pages (``--messages``, 200,000 by default, fetched with
``AsyncPostpress(...).messages.list(limit=250).pages()``; the fake runs in its own
process and is stopped before any load): per message ``(id, account_id, chat_id,
sender_id, timestamp, text, is_sender, data)``, ``data`` the item's JSON
(``msgspec.json.encode(message)``), ``timestamp`` the API's ``YYYY-MM-DDTHH:MM:SS.sssZ``
text for SQLite and an aware datetime for PostgreSQL (whose ``text`` columns get U+0000
replaced by U+FFFD, the sinks' NUL rule). Then, each into a fresh table:

* ``sqlite``: a fresh file, WAL, ``synchronous=NORMAL``, table ``messages`` (``id`` primary
  key, ``data TEXT NOT NULL``; indexes on (timestamp), (account_id, timestamp), (chat_id,
  timestamp)), ``executemany`` of an ``INSERT ... ON CONFLICT(id) DO UPDATE`` upsert in
  5,000-row ``BEGIN IMMEDIATE``/``COMMIT`` transactions; the clock covers the transactions
  and closing the file (its last WAL checkpoint);
* ``postgres binary COPY``: asyncpg ``copy_records_to_table`` into a temporary staging table,
  then ``INSERT ... SELECT ... ON CONFLICT (id) DO UPDATE``, 5,000 rows a transaction, into
  ``bare_messages`` (timestamptz, bigint, ``data json``; the same indexes);
* ``postgres text COPY``: the same, but the rows encoded here as COPY text (tab-separated,
  ``\\N`` for NULL, backslash, tab, newline and CR escaped) and sent with
  ``copy_to_table(source=...)``: COPY text vs binary, encoding included in the clock.

Printed: rows/s, wall seconds, CPU seconds of this process, CPU seconds of the PostgreSQL
backend serving the load (read from /proc when the server runs on this machine), CPU µs a
row (both). Best of ``--rounds`` interleaved rounds (by wall time). No targets: exit 0.

PostgreSQL: ``--pg DSN`` (a database the script may create ``bare_messages`` in and
drop it), else a throwaway cluster started like the tests start theirs (``initdb``
needed; ``fsync=off``) with a fresh database; without one the PostgreSQL rows are
skipped. ``load_rows``, ``sqlite_bare``, ``postgres_bare_binary``,
``postgres_bare_text`` and ``postgres_database`` are importable for other benchmarks.
Run: ``python benchmarks/bench_stores.py`` (``--messages 50000`` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
from _fake import fake_server

from postpress_async import AsyncPostpress

ROOT = Path(__file__).resolve().parent.parent
BATCH = 5_000
COLUMNS = ("id", "account_id", "chat_id", "sender_id", "timestamp", "text", "is_sender", "data")
Row = tuple[Any, ...]

SQLITE_SCHEMA = (
    "CREATE TABLE messages (id TEXT PRIMARY KEY, account_id TEXT, chat_id TEXT, "
    "sender_id TEXT, timestamp TEXT, text TEXT, is_sender INTEGER, data TEXT NOT NULL)",
    "CREATE INDEX messages_timestamp ON messages (timestamp)",
    "CREATE INDEX messages_account ON messages (account_id, timestamp)",
    "CREATE INDEX messages_chat ON messages (chat_id, timestamp)",
)
_UPDATES = ", ".join(f"{name} = excluded.{name}" for name in COLUMNS[1:])
SQLITE_UPSERT = (
    f"INSERT INTO messages ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    f"ON CONFLICT(id) DO UPDATE SET {_UPDATES}"
)

PG_TABLE = "bare_messages"
PG_SCHEMA = (
    f"DROP TABLE IF EXISTS {PG_TABLE}",
    f"CREATE TABLE {PG_TABLE} (id text PRIMARY KEY, account_id text, chat_id text, "
    "sender_id text, timestamp timestamptz, text text, is_sender bigint, data json NOT NULL)",
    f"CREATE INDEX ON {PG_TABLE} (timestamp)",
    f"CREATE INDEX ON {PG_TABLE} (account_id, timestamp)",
    f"CREATE INDEX ON {PG_TABLE} (chat_id, timestamp)",
)
PG_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS _stage_{PG_TABLE} "
    f"(LIKE {PG_TABLE} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
PG_UPSERT = (
    f"INSERT INTO {PG_TABLE} ({', '.join(COLUMNS)}) "
    f"SELECT {', '.join(COLUMNS)} FROM _stage_{PG_TABLE} "
    f"ON CONFLICT (id) DO UPDATE SET {_UPDATES}"
)


@dataclass(frozen=True)
class Rows:
    """The same messages in each store's form (only `timestamp` and NULs differ)."""

    sqlite: list[Row]
    postgres: list[Row]


@dataclass(frozen=True)
class Result:
    name: str
    rows: int
    wall: float  # seconds
    cpu: float  # CPU seconds of this process (user + system)
    server_cpu: float | None = None  # CPU seconds of the PostgreSQL backend, when readable

    @property
    def rate(self) -> float:
        return self.rows / self.wall

    @property
    def cpu_us_a_row(self) -> float:
        return (self.cpu + (self.server_cpu or 0.0)) / self.rows * 1e6


# -- the rows -------------------------------------------------------------------------


def api_time(moment: datetime | None) -> str | None:
    """An aware datetime -> the API's ``YYYY-MM-DDTHH:MM:SS.sssZ``."""
    if moment is None:
        return None
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _pg_text(value: str | None) -> str | None:
    """PostgreSQL ``text`` cannot hold U+0000: U+FFFD in its place (the sinks' NUL rule)."""
    return value if value is None or "\x00" not in value else value.replace("\x00", "\ufffd")


async def load_rows(url: str, api_key: str, limit: int = 250) -> Rows:
    """Every message the server lists, as rows for SQLite and for PostgreSQL."""
    sqlite_rows: list[Row] = []
    pg_rows: list[Row] = []
    async with AsyncPostpress(api_key=api_key, base_url=url, prefetch=4) as client:
        async for page in client.messages.list(limit=limit).pages():
            for m in page.items:
                data = msgspec.json.encode(m).decode()
                sqlite_rows.append(
                    (
                        m.id,
                        m.account_id,
                        m.chat_id,
                        m.sender_id,
                        api_time(m.timestamp),
                        m.text,
                        m.is_sender,
                        data,
                    )
                )
                pg_rows.append(
                    (
                        _pg_text(m.id),
                        _pg_text(m.account_id),
                        _pg_text(m.chat_id),
                        _pg_text(m.sender_id),
                        m.timestamp,
                        _pg_text(m.text),
                        m.is_sender,
                        data,
                    )
                )
    return Rows(sqlite=sqlite_rows, postgres=pg_rows)


# -- SQLite ---------------------------------------------------------------------------


def sqlite_bare(rows: Sequence[Row], path: Path) -> Result:
    """Upsert `rows` into a fresh SQLite file at `path`, 5,000 rows a transaction."""
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for statement in SQLITE_SCHEMA:
        db.execute(statement)
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), BATCH):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(SQLITE_UPSERT, rows[start : start + BATCH])
        db.execute("COMMIT")
    db.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with sqlite3.connect(path) as check:
        stored = check.execute("SELECT count(*) FROM messages").fetchone()[0]
    check.close()
    if stored != len(rows):
        raise RuntimeError(f"sqlite: {stored:,} rows stored, expected {len(rows):,}")
    return Result("sqlite executemany upsert", len(rows), wall, cpu)


# -- PostgreSQL -----------------------------------------------------------------------


class PostgresUnavailable(Exception):
    """No PostgreSQL to measure against (the reason is the message)."""


@asynccontextmanager
async def postgres_database(dsn: str | None) -> AsyncIterator[str]:
    """`dsn` itself, else a fresh database in a throwaway cluster (the tests' helper)."""
    if dsn is not None:
        yield dsn
        return
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        import asyncpg
        import pytest

        from tests.ingest._servers import postgres_cluster  # the tests' throwaway cluster
    except ImportError as error:
        raise PostgresUnavailable(f"cannot start a throwaway cluster: {error}") from None
    async with AsyncExitStack() as stack:
        try:
            superuser = stack.enter_context(postgres_cluster())
        except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
            raise PostgresUnavailable(outcome.msg) from None
        except subprocess.CalledProcessError as error:
            raise PostgresUnavailable(f"the cluster did not start: {error.stderr!r}") from None
        conn = await asyncpg.connect(superuser + "/postgres")
        try:
            await conn.execute("CREATE DATABASE bench_stores")
        finally:
            await conn.close()
        yield superuser + "/bench_stores"


async def optional_postgres(stack: AsyncExitStack, dsn: str | None) -> str | None:
    """`postgres_database(dsn)` entered on `stack`, or None (said on stdout) when there is none."""
    try:
        return await stack.enter_async_context(postgres_database(dsn))
    except PostgresUnavailable as why:
        print(f"  PostgreSQL skipped: {why}")
        return None


def _backend_cpu(dsn: str, pid: int) -> float | None:
    """CPU seconds of the backend process `pid`, when the server runs on this machine."""
    if urlsplit(dsn).hostname not in (None, "", "localhost", "127.0.0.1", "::1"):
        return None
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return None
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _fresh_table(conn: Any) -> None:
    import asyncpg

    for statement in PG_SCHEMA:
        await conn.execute(statement)
    # Write out the previous load's dirty pages now, not during this one (not a
    # superuser: measure without).
    with contextlib.suppress(asyncpg.PostgresError):
        await conn.execute("CHECKPOINT")


async def _check(conn: Any, rows: Sequence[Row], name: str) -> None:
    stored = await conn.fetchval(f"SELECT count(*) FROM {PG_TABLE}")
    if stored != len(rows):
        raise RuntimeError(f"{name}: {stored:,} rows stored, expected {len(rows):,}")
    # Rows come back exactly as sent: the first ones, and ones whose text columns hold
    # characters COPY text escapes (every `data` holds backslashes).
    escaped = (r for r in rows if any(c in f for f in r[1:4] + r[5:6] if f for c in "\\\t\n\r"))
    sample = {r[0]: r for r in [*rows[:100], *itertools.islice(escaped, 100)]}
    query = f"SELECT {', '.join(COLUMNS[:7])}, data::text FROM {PG_TABLE} WHERE id = any($1)"
    records = await conn.fetch(query, list(sample))
    if len(records) != len(sample):
        raise RuntimeError(f"{name}: {len(sample) - len(records)} sampled rows are missing")
    for record in records:
        if tuple(record) != sample[record["id"]]:
            raise RuntimeError(f"{name}: row {record['id']} came back different")


async def _load(rows: Sequence[Row], dsn: str, name: str, copy: Any) -> Result:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await _fresh_table(conn)
        pid = conn.get_server_pid()
        server, wall, cpu = _backend_cpu(dsn, pid), time.perf_counter(), time.process_time()
        await conn.execute(PG_STAGE)
        for start in range(0, len(rows), BATCH):
            async with conn.transaction():
                await copy(conn, rows[start : start + BATCH])
                await conn.execute(PG_UPSERT)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = _backend_cpu(dsn, pid)
        await _check(conn, rows, name)
    finally:
        await conn.close()
    server_cpu = None if server is None or after is None else after - server
    return Result(name, len(rows), wall, cpu, server_cpu)


async def _copy_binary(conn: Any, chunk: Sequence[Row]) -> None:
    await conn.copy_records_to_table(f"_stage_{PG_TABLE}", records=chunk, columns=COLUMNS)


NULL = b"\\N"


def _field(value: str | None) -> bytes:
    if value is None:
        return NULL
    return (
        value.encode()
        .replace(b"\\", b"\\\\")
        .replace(b"\t", b"\\t")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
    )


def copy_text(chunk: Sequence[Row]) -> bytes:
    """Rows as PostgreSQL COPY text: one line a row, tab-separated, ``\\N`` for NULL.

    Escaped as UTF-8 bytes (about 1.5x faster here than escaping the str, then encoding).
    """
    return b"".join(
        [
            b"\t".join(
                (
                    _field(id_),
                    _field(account),
                    _field(chat),
                    _field(sender),
                    NULL if moment is None else moment.isoformat().encode(),
                    _field(text),
                    NULL if is_sender is None else b"%d" % is_sender,
                    _field(data),
                )
            )
            + b"\n"
            for id_, account, chat, sender, moment, text, is_sender, data in chunk
        ]
    )


async def _copy_text(conn: Any, chunk: Sequence[Row]) -> None:
    async def source() -> AsyncIterator[bytes]:
        yield copy_text(chunk)

    await conn.copy_to_table(f"_stage_{PG_TABLE}", source=source(), columns=COLUMNS, format="text")


async def postgres_bare_binary(rows: Sequence[Row], dsn: str) -> Result:
    """Binary COPY (asyncpg records) into a staging table + upsert, 5,000 rows a transaction."""
    return await _load(rows, dsn, "postgres binary COPY + upsert", _copy_binary)


async def postgres_bare_text(rows: Sequence[Row], dsn: str) -> Result:
    """Text COPY (encoded here) into a staging table + upsert, 5,000 rows a transaction."""
    return await _load(rows, dsn, "postgres text COPY + upsert", _copy_text)


# -- the script -----------------------------------------------------------------------


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", help="a PostgreSQL DSN to use (default: start a throwaway one)")
    parser.add_argument("--dir", help="where the SQLite file goes (default: a temp directory)")
    args, _unknown = parser.parse_known_args()  # nox passes its posargs to every script
    return args


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def table(results: list[Result]) -> None:
    print(
        "\n| load | rows | rows/s | wall s | CPU s (this process) | CPU s (PostgreSQL backend) "
        "| CPU µs a row (both) |\n|---|---|---|---|---|---|---|"
    )
    for r in results:
        server = "-" if r.server_cpu is None else f"{r.server_cpu:.2f}"
        print(
            f"| {r.name} | {r.rows:,} | {r.rate:,.0f} | {r.wall:.2f} | {r.cpu:.2f} | {server} "
            f"| {r.cpu_us_a_row:.1f} |"
        )


async def main() -> int:
    args = parse()
    print(f"bare loads: {args.messages:,} messages, {BATCH:,} rows a transaction ({load()})")
    with fake_server("--messages", str(args.messages)) as server:
        rows = await load_rows(server.url, server.api_key)
    if len(rows.sqlite) != args.messages:
        raise RuntimeError(f"the fake listed {len(rows.sqlite):,}, expected {args.messages:,}")
    size = sum(len(row[7]) for row in rows.sqlite) / 1e6
    print(f"  rows built from the fake's pages: {len(rows.sqlite):,}, data {size:,.0f} MB of JSON")
    best: dict[str, Result] = {}

    def keep(result: Result) -> None:
        if result.name not in best or result.wall < best[result.name].wall:
            best[result.name] = result

    async with AsyncExitStack() as stack:
        pg = await optional_postgres(stack, args.pg)
        with tempfile.TemporaryDirectory(prefix="bench-stores-", dir=args.dir) as directory:
            for _round in range(args.rounds):
                keep(sqlite_bare(rows.sqlite, Path(directory) / "bare.db"))
                if pg is not None:
                    keep(await postgres_bare_binary(rows.postgres, pg))
                    keep(await postgres_bare_text(rows.postgres, pg))
        if pg is not None and args.pg is not None:
            await _drop(pg)
    table(list(best.values()))
    binary = best.get("postgres binary COPY + upsert")
    text = best.get("postgres text COPY + upsert")
    if binary is not None and text is not None:
        server = (
            ""
            if text.server_cpu is None or binary.server_cpu is None
            else f", backend CPU {text.server_cpu / binary.server_cpu:.2f}x"
        )
        print(
            f"\nCOPY text vs binary: wall {text.wall / binary.wall:.2f}x, "
            f"this process's CPU {text.cpu / binary.cpu:.2f}x{server} (text / binary)"
        )
    print(f"({load()})")
    return 0


async def _drop(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {PG_TABLE}")
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
