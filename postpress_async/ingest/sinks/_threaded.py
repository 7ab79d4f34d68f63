"""What the stores behind one DB-API connection in a worker thread share: SQLite, DuckDB.

Both take ``?`` parameters and run every call through their ``_call(work)``: ``work(db)``
in the store's worker thread, one call at a time, an engine error in one line. Reading
the plan, the positions and the counts, and saving a plan, are the same statements on
both; only how a write transaction begins differs (``_BEGIN``). PostgreSQL (asyncpg,
``$n`` parameters, a pool) has its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from postpress_async.ingest._shards import Endpoint, ShardPlan

from ._base import Stored
from ._sql import table_of

__all__ = ["Connection", "ThreadedStore", "stored_positions"]


class Connection(Protocol):
    """The part of a DB-API connection these statements use."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


DB = TypeVar("DB", bound=Connection)
T = TypeVar("T")


def stored_positions(db: Connection, endpoint: str) -> dict[str, bytes]:
    """Each position of ``endpoint`` as stored (read inside a commit's transaction)."""
    found = db.execute("SELECT name, position FROM positions WHERE endpoint = ?", [endpoint])
    return {name: text.encode() for name, text in found.fetchall()}


class ThreadedStore(Generic[DB]):
    """The reads and ``save_plan`` of the :class:`~._base.Sink` contract, on ``_call``."""

    #: The statement that begins a write transaction.
    _BEGIN: str = "BEGIN TRANSACTION"

    async def _call(self, work: Callable[[DB], T]) -> T:
        raise NotImplementedError

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
