"""PostgreSQL through asyncpg (the ``postgres`` extra): one store for many machines.

The schema is SQLite's (``accounts``, ``chats``, ``messages`` keyed by ``id`` with typed
query columns and ``data jsonb``; ``checkpoints``; ``plans``), with ``timestamptz``
times. A page is one transaction: the rows go in, then the shard's checkpoint moves
from the one the writer read (or the transaction rolls back).

Rows go in by ``COPY`` into a temporary table and one ``INSERT ... SELECT ... ON
CONFLICT (id) DO UPDATE``: on 250-row pages it measured a little faster (10,854 vs
10,420 rows/s over 200,000 messages, end to end) than a batched ``executemany``
upsert, which ``method="executemany"`` keeps for comparison
(``benchmarks/bench_ingest.py --pg-methods`` measures both).

A page's transaction is never cancelled half-way: when the engine cancels a shard
(another shard failed), the page being written finishes (commit or rollback) under a
shielded scope and the cancellation takes effect after it. Cancelling asyncpg inside
``executemany`` while it waits to send the rest of a large batch leaves the connection
mid-pipeline: the server waits for the rest of the batch and the client for the
server's answer, forever. Every statement is bounded by ``command_timeout`` (seconds,
default 60), so a server that stops answering is an error, never a hang.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import anyio
import msgspec

from postpress_async._exceptions import ShardConflictError, SinkUnavailableError
from postpress_async._positions import Checkpoint
from postpress_async.ingest._shards import Endpoint, Shard, ShardPlan

from ._base import COLUMNS, Reach, encode_checkpoint, row

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresSink"]

_FRESH = encode_checkpoint(Checkpoint())


def _schema() -> list[str]:
    tables = [
        f"CREATE TABLE IF NOT EXISTS {table} (id text PRIMARY KEY, "
        + "".join(f"{c.name} {c.pg}, " for c in columns)
        + "data jsonb NOT NULL)"
        for table, columns in COLUMNS.items()
    ]
    return [
        *tables,
        "CREATE TABLE IF NOT EXISTS checkpoints (endpoint text NOT NULL, shard text NOT NULL, "
        "checkpoint text NOT NULL, items bigint NOT NULL DEFAULT 0, "
        "pages bigint NOT NULL DEFAULT 0, PRIMARY KEY (endpoint, shard))",
        "CREATE TABLE IF NOT EXISTS plans (endpoint text PRIMARY KEY, plan text NOT NULL)",
        "CREATE INDEX IF NOT EXISTS messages_account_time ON messages (account_id, timestamp)",
        "CREATE INDEX IF NOT EXISTS messages_chat_time ON messages (chat_id, timestamp)",
    ]


def _names(table: str) -> list[str]:
    return ["id", *(c.name for c in COLUMNS[table]), "data"]


def _upsert_values(table: str) -> str:
    names = _names(table)
    casts = ["", *(f"::{c.pg}" for c in COLUMNS[table]), "::jsonb"]
    params = ", ".join(f"${k + 1}{cast}" for k, cast in enumerate(casts))
    updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({params}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


def _upsert_staged(table: str) -> str:
    names = ", ".join(_names(table))
    updates = ", ".join(f"{name} = excluded.{name}" for name in _names(table)[1:])
    return (
        f"INSERT INTO {table} ({names}) SELECT {names} FROM _stage_{table} "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


#: A shard's first page creates its checkpoint; every later page moves it from the
#: one the writer read. Either touches no row when another writer got there first.
_START = (
    "INSERT INTO checkpoints (endpoint, shard, checkpoint, items, pages) "
    "VALUES ($1, $2, $3, $4, 1) ON CONFLICT (endpoint, shard) DO NOTHING"
)
_MOVE = (
    "UPDATE checkpoints SET checkpoint = $3, items = items + $4, pages = pages + 1 "
    "WHERE endpoint = $1 AND shard = $2 AND checkpoint = $5"
)


class PostgresSink:
    """A PostgreSQL database (``postgresql://user@host:port/db``); see the module docstring."""

    reach: Reach = "network"

    def __init__(
        self,
        dsn: str,
        *,
        method: Literal["copy", "executemany"] = "copy",
        pool_size: int = 4,
        command_timeout: float | None = 60.0,
    ) -> None:
        self.url = dsn
        self.method = method
        self.command_timeout = command_timeout
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresSink({_redact(self.url)!r})"

    def _ready(self) -> asyncpg.Pool:
        if self._pool is None:
            raise SinkUnavailableError(f"{_redact(self.url)} is not open")
        return self._pool

    async def open(self) -> None:
        """Connect and create the tables; a clear error for no server or no permission."""
        if self._pool is not None:
            return
        try:
            import asyncpg
        except ImportError:
            raise SinkUnavailableError(
                "postgresql:// sinks need asyncpg: pip install 'postpress-async[postgres]'"
            ) from None
        where = _redact(self.url)
        try:
            pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self._pool_size,
                command_timeout=self.command_timeout,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise SinkUnavailableError(f"{where}: cannot connect ({exc})") from None
        try:
            async with pool.acquire() as conn, conn.transaction():
                # One schema creation at a time (several workers may open at once).
                await conn.execute("SELECT pg_advisory_xact_lock(7411)")
                for statement in _schema():
                    await conn.execute(statement)
                for table in COLUMNS:  # the tables may exist already: can we write them?
                    await conn.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE NOWAIT")
                await conn.execute("LOCK TABLE checkpoints IN ROW EXCLUSIVE MODE NOWAIT")
        except asyncpg.InsufficientPrivilegeError as exc:
            await pool.close()
            raise SinkUnavailableError(
                f"{where}: no permission to write the tables ({exc})"
            ) from None
        except asyncpg.LockNotAvailableError:
            pass  # someone is writing: the tables exist, and the permission check passed
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The stored plan of ``endpoint``."""
        text = await self._ready().fetchval("SELECT plan FROM plans WHERE endpoint = $1", endpoint)
        return None if text is None else ShardPlan.from_json(text)

    async def save_plan(self, plan: ShardPlan) -> None:
        """Store ``plan``, forgetting the checkpoints of any earlier plan of its endpoint."""
        async with self._ready().acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM checkpoints WHERE endpoint = $1", plan.endpoint)
            await conn.execute(
                "INSERT INTO plans (endpoint, plan) VALUES ($1, $2) "
                "ON CONFLICT (endpoint) DO UPDATE SET plan = excluded.plan",
                plan.endpoint,
                plan.to_json().decode(),
            )

    async def checkpoint(self, shard: Shard) -> Checkpoint:
        """The stored checkpoint of ``shard``."""
        text = await self._ready().fetchval(
            "SELECT checkpoint FROM checkpoints WHERE endpoint = $1 AND shard = $2",
            shard.endpoint,
            shard.label,
        )
        return Checkpoint() if text is None else msgspec.json.decode(text, type=Checkpoint)

    async def write(
        self, shard: Shard, items: Sequence[Any], checkpoint: Checkpoint, previous: Checkpoint
    ) -> None:
        """Upsert ``items`` and move the checkpoint, in one transaction (never cut half-way)."""
        table = shard.endpoint
        rows = [row(table, item) for item in items]
        pool = self._ready()
        # Shielded: a cancellation mid-statement would leave asyncpg's protocol mid-batch
        # (see the module docstring); command_timeout bounds how long the shield holds.
        with anyio.CancelScope(shield=True):
            await self._write(pool, shard, table, rows, checkpoint, previous)

    async def _write(
        self,
        pool: asyncpg.Pool,
        shard: Shard,
        table: str,
        rows: list[tuple[object, ...]],
        checkpoint: Checkpoint,
        previous: Checkpoint,
    ) -> None:
        async with pool.acquire() as conn, conn.transaction():
            if rows and self.method == "copy":
                await conn.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS _stage_{table} "
                    f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
                await conn.copy_records_to_table(
                    f"_stage_{table}", records=rows, columns=_names(table)
                )
                await conn.execute(_upsert_staged(table))
            elif rows:
                await conn.executemany(_upsert_values(table), rows)
            old = encode_checkpoint(previous)
            new = encode_checkpoint(checkpoint)
            if old == _FRESH:
                status = await conn.execute(_START, shard.endpoint, shard.label, new, len(rows))
            else:
                status = await conn.execute(_MOVE, shard.endpoint, shard.label, new, len(rows), old)
            if status not in {"INSERT 0 1", "UPDATE 1"}:
                raise ShardConflictError(
                    f"shard {shard.label} of {_redact(self.url)} moved since it was read; "
                    "another worker is writing it"
                )

    async def close(self) -> None:
        """Close the pool."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


def _redact(dsn: str) -> str:
    """The DSN without its password."""
    head, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return dsn
    credentials, at, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{head}://{user}{at}{host}"
