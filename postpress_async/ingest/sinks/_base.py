"""The sink protocol and the table schema every database sink shares.

A sink stores pages together with the checkpoint of the shard they came from, in one
atomic step: after any crash the store holds exactly the pages before each shard's
stored checkpoint, so resuming from it loses nothing and repeats nothing (Airbyte's
"state after the records it covers", in its strongest form: one transaction).

Every write names the checkpoint it continues from (``previous``); a sink refuses a
write whose ``previous`` is not the stored one with :class:`ShardConflictError`. So a
worker presumed dead that wakes up and writes again cannot duplicate a page that its
replacement already wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final, Literal, Protocol

import msgspec

from postpress_async._encoding import encode_json
from postpress_async._positions import Checkpoint
from postpress_async._time import format_datetime
from postpress_async.ingest._shards import Endpoint, Shard, ShardPlan

__all__ = [
    "COLUMNS",
    "Column",
    "Reach",
    "Sink",
    "encode_checkpoint",
    "row",
    "utc_text",
]

#: Who may write to a sink at once: one process, processes of one machine, or anyone.
Reach = Literal["process", "machine", "network"]


class Sink(Protocol):
    """Where an export's pages go, each with its shard's checkpoint, atomically."""

    #: The URL that opens this sink again (a worker on another machine gets it).
    url: str
    reach: Reach

    async def open(self) -> None:
        """Connect and create what is missing; :class:`SinkUnavailableError` if it cannot serve."""

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The plan stored for ``endpoint``, if an export of it was started here."""

    async def save_plan(self, plan: ShardPlan) -> None:
        """Store ``plan`` and forget every checkpoint (and file data) of an earlier one."""

    async def checkpoint(self, shard: Shard) -> Checkpoint:
        """Where ``shard`` stands in this store (a fresh checkpoint if it never started)."""

    async def write(
        self, shard: Shard, items: Sequence[Any], checkpoint: Checkpoint, previous: Checkpoint
    ) -> None:
        """Store ``items`` and move ``shard`` from ``previous`` to ``checkpoint``, atomically."""

    async def close(self) -> None:
        """Release connections and files (idempotent)."""


def encode_checkpoint(checkpoint: Checkpoint) -> str:
    """A checkpoint as the JSON text the stores compare."""
    return msgspec.json.encode(checkpoint).decode()


def utc_text(moment: datetime | None) -> str | None:
    """The API's ``YYYY-MM-DDTHH:MM:SS.sssZ`` (sorts as text, like the API's own)."""
    return None if moment is None else format_datetime(moment)


class Column:
    """One typed query column: its name, SQLite and PostgreSQL types, and its value."""

    __slots__ = ("get", "name", "pg", "sqlite")

    def __init__(self, name: str, sqlite: str, pg: str, get: Callable[[Any], object]) -> None:
        self.name = name
        self.sqlite = sqlite
        self.pg = pg
        self.get = get


def _attr(name: str) -> Callable[[Any], object]:
    return lambda item: getattr(item, name, None)


#: The typed columns of each table, beside ``id`` and ``data`` (the whole object as JSON).
#: Times stay datetimes here; SQLite stores them as the API's UTC text.
COLUMNS: Final[dict[str, tuple[Column, ...]]] = {
    "messages": (
        Column("account_id", "TEXT", "text", _attr("account_id")),
        Column("chat_id", "TEXT", "text", _attr("chat_id")),
        Column("sender_id", "TEXT", "text", _attr("sender_id")),
        Column("timestamp", "TEXT", "timestamptz", _attr("timestamp")),
        Column("text", "TEXT", "text", _attr("text")),
        Column("is_sender", "INTEGER", "integer", _attr("is_sender")),
    ),
    "chats": (
        Column("account_id", "TEXT", "text", _attr("account_id")),
        Column("account_type", "TEXT", "text", _attr("account_type")),
        Column("name", "TEXT", "text", _attr("name")),
        Column("timestamp", "TEXT", "timestamptz", _attr("timestamp")),
        Column("unread_count", "INTEGER", "integer", _attr("unread_count")),
    ),
    "accounts": (
        Column("type", "TEXT", "text", _attr("type")),
        Column("name", "TEXT", "text", _attr("name")),
        Column("created_at", "TEXT", "timestamptz", _attr("created_at")),
    ),
}


def row(endpoint: str, item: Any) -> tuple[object, ...]:
    """``(id, *typed columns, data)`` of one item, times as datetimes."""
    values = [column.get(item) for column in COLUMNS[endpoint]]
    return (item.id, *values, encode_json(item).decode())
