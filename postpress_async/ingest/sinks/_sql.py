"""What the database sinks (SQLite, PostgreSQL, DuckDB) share, written once.

* the schema of the store, rendered with each engine's types (:func:`schema`): tables
  ``accounts``, ``chats``, ``messages`` (``id`` primary key, the typed columns of
  ``TABLES``, ``data`` the item's exact JSON), ``positions``, ``plans``, ``rejects`` and
  ``meta`` (``schema = 3``), and the indexes on messages;
* the rejects known by their bytes (:func:`new_rejects`): a reject is keyed by its
  endpoint and the digest of its exact bytes, and one the store holds is not stored
  again (``ON CONFLICT DO NOTHING``), whichever path lists it again (the follow's
  overlap, a re-run, a resumed shard); a store of schema 2 (no digest) is upgraded in
  place when opened (:func:`upgraded_rejects`);
* the compare-and-set of a batch's moves (:func:`settle`): every move continues from the
  stored position, or the batch is refused whole; a batch whose positions are all
  already its ``new`` ones was committed before a lost connection, and is not stored
  twice;
* the item a store cannot hold as sent because its bytes are not UTF-8
  (:func:`not_utf8`): named, so the run stops on it with a line a user can act on;
* strict time bounds at the API's millisecond precision (:func:`ms_bounds`), and the
  query of the ids between two of them (:func:`ids_query`).

Pure: no engine is imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

from postpress_async._exceptions import (
    InvalidParameterError,
    ShardConflictError,
    SinkFailedError,
    SinkUnavailableError,
)
from postpress_async._rows import Reject, digest
from postpress_async._time import to_ms
from postpress_async.ingest._shards import Endpoint

from ._base import TABLES, Batch, Kind, Row

__all__ = [
    "META_SCHEMA",
    "OUR_TABLES",
    "UPGRADABLE",
    "Types",
    "column_names",
    "ids_query",
    "ms_bounds",
    "new_rejects",
    "not_utf8",
    "rejects_table",
    "schema",
    "settle",
    "table_of",
    "time_column",
    "upgraded_rejects",
    "upsert",
    "version_error",
]

#: The version of the stores' layout this release writes and reads (``meta.schema``).
META_SCHEMA: Final = "3"

#: The earlier layout a store is upgraded from when opened: schema 2 had no ``digest``
#: on its rejects (nothing else differs).
UPGRADABLE: Final = "2"

#: Every table a store holds (an earlier release's ``checkpoints`` is not one of them).
OUR_TABLES: Final = (*TABLES, "positions", "plans", "rejects", "meta")


class Types(NamedTuple):
    """One engine's column types."""

    kinds: Mapping[Kind, str]  # text, time, int
    data: str  # the item's exact JSON
    blob: str  # a reject's exact bytes
    counter: str  # items and pages of a position


def version_error(url: str, version: str | None, elsewhere: str) -> SinkUnavailableError | None:
    """Why a store whose ``meta`` holds ``version`` cannot be opened (``None``: it can,
    as it is or upgraded). No schema row: a table ``meta`` of someone else's (a store of
    ours is created with its row, in one transaction). ``elsewhere``: where to export
    instead ("export to a new file")."""
    if version in (META_SCHEMA, UPGRADABLE):
        return None
    if version is None:
        return SinkUnavailableError(
            f"{url} holds a table `meta` but no postpress store (no schema row in it): {elsewhere}"
        )
    return SinkUnavailableError(
        f"{url} holds a store of schema {version!r}, this release reads schema "
        f"{META_SCHEMA}: use a newer release, or {elsewhere}"
    )


def table_of(endpoint: str) -> Endpoint:
    """``endpoint`` checked: it is also the table's name, so never anything else."""
    if endpoint not in TABLES:
        raise InvalidParameterError(
            "endpoint", f"{endpoint!r} has no table; expected one of {', '.join(TABLES)}"
        )
    return endpoint


def column_names(endpoint: Endpoint) -> list[str]:
    """``id``, the typed columns in ``TABLES`` order, ``data``: a row's layout."""
    return ["id", *(column.name for column in TABLES[endpoint]), "data"]


def upsert(endpoint: Endpoint, source: str) -> str:
    """The statement that stores the rows of ``source`` (``VALUES ...`` or ``SELECT ...``,
    in :func:`column_names` order): a row whose id the table holds replaces all of it."""
    names = column_names(endpoint)
    updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
    return (
        f"INSERT INTO {endpoint} ({', '.join(names)}) {source} "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


def time_column(endpoint: Endpoint) -> str:
    """The column ``span`` and ``stored_ids`` read: ``timestamp`` (accounts: ``created_at``)."""
    return next(column.name for column in TABLES[endpoint] if column.kind == "time")


def schema(types: Types) -> list[str]:
    """``CREATE ... IF NOT EXISTS`` statements of a whole store, in order."""
    tables = [
        f"CREATE TABLE IF NOT EXISTS {table} (id {types.kinds['text']} PRIMARY KEY, "
        + "".join(f"{column.name} {types.kinds[column.kind]}, " for column in columns)
        + f"data {types.data} NOT NULL)"
        for table, columns in TABLES.items()
    ]
    text, counter = types.kinds["text"], types.counter
    return [
        *tables,
        f"CREATE TABLE IF NOT EXISTS positions (endpoint {text} NOT NULL, name {text} NOT NULL, "
        f"position {text} NOT NULL, items {counter} NOT NULL, pages {counter} NOT NULL, "
        "PRIMARY KEY (endpoint, name))",
        f"CREATE TABLE IF NOT EXISTS plans (endpoint {text} PRIMARY KEY, plan {text} NOT NULL)",
        rejects_table(types),
        f"CREATE TABLE IF NOT EXISTS meta (key {text} PRIMARY KEY, value {text} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS messages_account_time ON messages (account_id, timestamp)",
        "CREATE INDEX IF NOT EXISTS messages_chat_time ON messages (chat_id, timestamp)",
        "CREATE INDEX IF NOT EXISTS messages_time ON messages (timestamp)",
    ]


def rejects_table(types: Types) -> str:
    """The ``rejects`` table: one row a reject of an endpoint, known by its bytes' digest."""
    text = types.kinds["text"]
    return (
        f"CREATE TABLE IF NOT EXISTS rejects (endpoint {text} NOT NULL, digest {text} NOT NULL, "
        f"raw {types.blob} NOT NULL, reason {text} NOT NULL, "
        f'"at" {types.kinds["time"]} NOT NULL, '  # quoted: DuckDB reserves at
        "PRIMARY KEY (endpoint, digest))"
    )


def new_rejects(endpoint: Endpoint, rejects: Sequence[Reject]) -> list[tuple[str, str, bytes, str]]:
    """``(endpoint, digest, raw, reason)`` of each reject, the first of equal bytes only.

    The store's insert skips a digest it holds (``ON CONFLICT DO NOTHING``); repeats
    within the batch are dropped here, so no engine meets one key twice in a statement.
    """
    found: dict[str, tuple[str, str, bytes, str]] = {}
    for reject in rejects:
        raw = bytes(reject.raw)
        key = digest(raw)
        if key not in found:
            found[key] = (endpoint, key, raw, reject.reason)
    return list(found.values())


def upgraded_rejects(held: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """A schema 2 store's rejects ``(endpoint, raw, reason, at)``, oldest first, as rows of
    schema 3 ``(endpoint, digest, raw, reason, at)``: the first of equal bytes kept."""
    kept: dict[tuple[Any, str], tuple[Any, ...]] = {}
    for endpoint, raw, reason, at in held:
        data = bytes(raw)
        key = digest(data)
        if (endpoint, key) not in kept:
            kept[endpoint, key] = (endpoint, key, data, reason, at)
    return list(kept.values())


def settle(stored: Mapping[str, bytes], batch: Batch, where: str) -> bool:
    """Check a batch's moves against the stored positions (read in the same transaction).

    ``True``: every position already equals its move's ``new`` (and one of them moves):
    the batch was committed before a lost connection; store nothing. ``False``: every
    position equals its move's ``previous`` (``None``: absent), store the batch. Else
    :class:`ShardConflictError`: another writer moved a position since it was read, and
    nothing of the batch is stored. A batch whose moves all stay put is stored again
    (its rows are upserted; it carries nothing a replay could double).
    """
    moves = batch.moves
    if (
        moves
        and all(stored.get(move.name) == move.new for move in moves)
        and any(move.previous != move.new for move in moves)
    ):
        return True
    for move in moves:
        if stored.get(move.name) != move.previous:
            state = "absent" if move.name not in stored else "at another position"
            raise ShardConflictError(
                f"{where}: the {batch.endpoint} position {move.name!r} is {state}, not where "
                "this writer read it: another writer is storing it; this batch was not stored"
            )
    return False


def not_utf8(url: str, rows: Sequence[Row], column: str) -> SinkFailedError | None:
    """The error naming the first row whose ``data`` is not UTF-8 (``None``: all are).

    ``column`` names what cannot hold such bytes as the API sent them ("DuckDB's
    VARCHAR"). Only the ``data`` bytes can be: typed text was decoded when read.
    """
    for row in rows:
        exc = _decode_error(row[-1])
        if exc is not None:
            return SinkFailedError(
                f"{url}: the item {row[0]!r} is not valid UTF-8 ({exc.reason} at byte "
                f"{exc.start}); {column} cannot hold its bytes as the API sent them"
            )
    return None


def _decode_error(data: Any) -> UnicodeDecodeError | None:
    try:
        str(data, "utf-8")
    except UnicodeDecodeError as exc:
        return exc
    return None


def ms_bounds(after: datetime | None, before: datetime | None) -> tuple[int | None, int | None]:
    """Strict bounds as whole milliseconds: ``after < t < before`` for a time ``t`` in ms.

    The stores hold the API's millisecond times, so ``after`` rounds down and ``before``
    rounds up: the same rows match as with the exact bounds.
    """
    low = None if after is None else to_ms(after)
    if before is None:
        return low, None
    high = to_ms(before)
    if before.microsecond % 1000:
        high += 1
    return low, high


def ids_query(
    endpoint: Endpoint, bounds: tuple[Any, Any], placeholder: Callable[[int], str]
) -> tuple[str, list[Any]]:
    """The ``SELECT id`` of ``endpoint``'s rows strictly between ``bounds`` and its parameters.

    ``bounds`` is ``(after, before)``, each ``None`` for open, in the form the engine
    compares with its time column; ``placeholder(n)`` writes the ``n``-th parameter
    (from 1) in the engine's syntax: ``"?"``, ``"$1"``, ``"?::TIMESTAMPTZ"``.
    """
    table = table_of(endpoint)
    time = time_column(table)
    where: list[str] = []
    params: list[Any] = []
    for bound, op in zip(bounds, (">", "<"), strict=True):
        if bound is not None:
            params.append(bound)
            where.append(f"{time} {op} {placeholder(len(params))}")
    return f"SELECT id FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else ""), params
