"""The database sinks' factories for the contract suite: SQLite, PostgreSQL, DuckDB."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Literal

import pytest

from postpress_async.ingest.sinks._base import Sink
from postpress_async.ingest.sinks.sqlite import SQLiteSink
from tests.helpers import asyncpg_or_skip

from ._kit import Entry, Kit


class SQLiteKit(Kit):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def new_sink(self) -> Sink:
        return SQLiteSink(self.path)

    def _query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.path)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    async def data(self, endpoint: str) -> dict[str, bytes]:
        return dict(self._query(f"SELECT id, CAST(data AS BLOB) FROM {endpoint}"))

    async def typed(self, endpoint: str, column: str) -> dict[str, Any]:
        return dict(self._query(f"SELECT id, {column} FROM {endpoint}"))

    async def reject_raws(self, endpoint: str) -> list[bytes]:
        return [
            raw for (raw,) in self._query("SELECT raw FROM rejects WHERE endpoint = ?", endpoint)
        ]


def sqlite_kit(request: pytest.FixtureRequest) -> Kit:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return SQLiteKit(tmp_path / "m.db")


class PostgresKit(Kit):
    nul = "replace"

    def __init__(self, url: str, copy: Literal["binary", "text"]) -> None:
        super().__init__()
        self.url = url
        self.copy = copy

    def new_sink(self) -> Sink:
        from postpress_async.ingest.sinks.postgres import PostgresSink

        return PostgresSink(self.url, copy=self.copy)

    async def _query(self, sql: str, *params: Any) -> list[Any]:
        conn = await asyncpg_or_skip().connect(self.url)
        try:
            return list(await conn.fetch(sql, *params))
        finally:
            await conn.close()

    async def data(self, endpoint: str) -> dict[str, bytes]:
        found = await self._query(f"SELECT id, data::text FROM {endpoint}")
        return {id_: text.encode() for id_, text in found}

    async def typed(self, endpoint: str, column: str) -> dict[str, Any]:
        return dict(await self._query(f"SELECT id, {column} FROM {endpoint}"))

    async def reject_raws(self, endpoint: str) -> list[bytes]:
        found = await self._query("SELECT raw FROM rejects WHERE endpoint = $1", endpoint)
        return [raw for (raw,) in found]


def postgres_kit(copy: Literal["binary", "text"]) -> Any:
    def make(request: pytest.FixtureRequest) -> Kit:
        asyncpg_or_skip()
        return PostgresKit(request.getfixturevalue("pg_url"), copy)

    return make


def duckdb_or_skip() -> Any:
    """duckdb (an optional extra): skipped without it, except where CI requires every extra."""
    if os.environ.get("README_TEST_REQUIRE_ALL"):
        import duckdb  # CI installed the extras: a missing one fails, never skips

        return duckdb
    return pytest.importorskip("duckdb")


class DuckDBKit(Kit):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def new_sink(self) -> Sink:
        from postpress_async.ingest.sinks.duckdb import DuckDBSink

        return DuckDBSink(self.path)

    def _query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        db = duckdb_or_skip().connect(str(self.path), read_only=True)
        try:
            found: list[tuple[Any, ...]] = db.execute(sql, list(params)).fetchall()
            return found
        finally:
            db.close()

    async def data(self, endpoint: str) -> dict[str, bytes]:
        return dict(self._query(f"SELECT id, encode(data) FROM {endpoint}"))

    async def typed(self, endpoint: str, column: str) -> dict[str, Any]:
        return dict(self._query(f"SELECT id, {column} FROM {endpoint}"))

    async def reject_raws(self, endpoint: str) -> list[bytes]:
        return [
            raw for (raw,) in self._query("SELECT raw FROM rejects WHERE endpoint = ?", endpoint)
        ]


def duckdb_kit(request: pytest.FixtureRequest) -> Kit:
    duckdb_or_skip()
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return DuckDBKit(tmp_path / "m.duckdb")


#: name -> entry; see ``_kit.py``.
SINKS: dict[str, Entry] = {
    "sqlite": Entry(sqlite_kit),
    "duckdb": Entry(duckdb_kit),
    "postgres": Entry(postgres_kit("binary"), slow=True),
    "postgres-copy-text": Entry(postgres_kit("text"), slow=True),
}
