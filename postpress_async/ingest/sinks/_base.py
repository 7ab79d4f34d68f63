"""The sink contract: what every store of an export implements, and the values it takes.

The sink is the only store of an export. Per endpoint it holds the rows, the stored
:class:`~postpress_async.ingest.ShardPlan`, the named positions that say where each part
of the job stands (each shard's :class:`~postpress_async.Checkpoint` under the shard's
label; the follow position under :data:`FOLLOW`) and the items that could not be read
(rejects, each once: known by its bytes). A :class:`Batch` of rows, rejects and the
positions that cover them is committed in one atomic step (one transaction; for files,
an append then one atomic replace of the sidecar): after any crash the store holds
exactly the rows before each stored position, so resuming from it loses nothing and
repeats nothing (Airbyte's "state after the records it covers", in its strongest form).

Every :class:`Move` names the position it continues from (``previous``): a sink refuses
a batch whose ``previous`` is not the stored one with :class:`ShardConflictError`, so a
worker presumed dead that writes again cannot store a page twice. After a lost
connection a sink may replay a batch: a position already equal to ``new`` means the
batch was committed before the connection broke.

Rows are ``(id, *values, data)``: the values of :data:`TABLES` ``[endpoint]`` (only the
sink's ``columns``, in ``TABLES`` order), ``data`` the item's bytes exactly as the API
sent them (``bytes`` or ``msgspec.Raw``). Each sink maps the logical kinds
(``text``, ``time``, ``int``) to its own types.

A new sink is one module in this package, one line in ``sinks/__init__.SCHEMES``, and
the contract suite (``tests/ingest/sinks/``) run against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Final, Literal, NamedTuple, Protocol

import msgspec

from postpress_async._exceptions import InvalidParameterError, StateMismatchError
from postpress_async._positions import Checkpoint
from postpress_async._rows import TABLES, Column, Kind, Reject, Row
from postpress_async.ingest._shards import Endpoint, ShardPlan

__all__ = [
    "FOLLOW",
    "TABLES",
    "Batch",
    "Column",
    "Kind",
    "Move",
    "Reach",
    "Reject",
    "Row",
    "Sink",
    "Stored",
    "last_of_each",
]

#: Who may write to a sink at once: one process, processes of one machine, or anyone.
Reach = Literal["process", "machine", "network"]

#: The name of an endpoint's follow position (a shard's position is under its label).
FOLLOW: Final = "follow"


class Move(NamedTuple):
    """One named position moved by a batch, from the one the writer read to ``new``."""

    #: A shard's label, or :data:`FOLLOW`.
    name: str
    #: The encoded position the writer read (``None``: none was stored).
    previous: bytes | None
    #: The encoded position after this batch's rows.
    new: bytes
    #: Rows and rejects this move covers.
    items: int
    #: Pages it covers.
    pages: int


class Batch(NamedTuple):
    """What one commit stores: rows, rejects and the moves that cover them, atomically."""

    endpoint: Endpoint
    #: ``(id, *values, data)``; the last row of an id wins within a batch.
    rows: list[Row]
    rejects: list[Reject]
    #: At most one move a name.
    moves: list[Move]
    #: Whether any row's ``data`` may hold a raw line break (pretty-printed JSON):
    #: ``False`` only when every page was read and found to have none, so a JSON lines
    #: store can skip scanning its rows; ``None``: not known (the store checks).
    line_breaks: bool | None = None


class Stored(NamedTuple):
    """A position as the store holds it."""

    #: The encoded position (msgspec JSON of a Checkpoint, WatchState or AccountsSeen).
    position: bytes
    #: Rows (and rejects) committed under this name, in total, and pages.
    items: int
    pages: int


def shard_checkpoint(stored: Stored | None) -> Checkpoint:
    """A shard's stored position (none stored: the start of its listing)."""
    if stored is None:
        return Checkpoint()
    try:
        return msgspec.json.decode(stored.position, type=Checkpoint)
    except msgspec.DecodeError:
        raise StateMismatchError(
            "a stored shard position is not a checkpoint; start over with force=True (--force)"
        ) from None


async def stored_plan(sink: Sink, endpoint: Endpoint) -> ShardPlan | None:
    """The plan ``sink`` holds for ``endpoint``; one this release cannot read is
    :class:`~postpress_async.StateMismatchError` naming the store and the way out (it is
    the store's, not an argument: never the decoder's ``plan:`` parameter error)."""
    try:
        return await sink.load_plan(endpoint)
    except InvalidParameterError as exc:
        if isinstance(exc, StateMismatchError) or exc.param != "plan":
            raise
        raise StateMismatchError(
            f"{sink.url} holds a plan of {endpoint} this release cannot read ({exc}); "
            "start the export over with force=True (--force)"
        ) from None


def unfinished(plan: ShardPlan, positions: dict[str, Stored]) -> int:
    """How many of ``plan``'s shards the store does not hold to their end."""
    return sum(not shard_checkpoint(positions.get(s.label)).done for s in plan.shards)


def opening_url(sink: Sink) -> str:
    """The URL another process (an engine's worker) opens ``sink`` with: its ``given_url``
    where it has one (the URL as given, with the password ``url`` leaves out), else
    ``url``. It goes to the workers only, never into a message."""
    given = getattr(sink, "given_url", None)
    return given if isinstance(given, str) else sink.url


class Sink(Protocol):
    """Where an export's rows and positions go; see the module docstring."""

    #: The URL that opens this sink again; never a password (it is shown in messages). A
    #: sink whose URL held a password has ``given_url`` too (see :func:`opening_url`).
    url: str
    reach: Reach

    # A settable property, not a variable: an attribute and a property with a setter
    # (the file sinks') both match it, for pyright as for mypy (pyright does not take a
    # property for a protocol's variable).
    @property
    def columns(self) -> tuple[str, ...] | None:
        """The typed columns this sink stores (``None``: all of ``TABLES``); a row stream
        for it reads only these."""

    @columns.setter
    def columns(self, value: tuple[str, ...] | None) -> None: ...

    async def open(self, *, writer: bool = True) -> None:
        """Connect and create what is missing.

        ``writer=True`` takes the store's one-writer lock: another export or follow
        writing it makes this raise :class:`~postpress_async.OutputLockedError` (exit 5),
        before any request. A Dask worker opens with ``writer=False`` (its coordinator
        holds the lock). A store that cannot serve raises
        :class:`~postpress_async.ingest.SinkUnavailableError` naming it and the cause.
        """

    async def close(self) -> None:
        """Release connections, files and the lock (closing again does nothing)."""

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The plan stored for ``endpoint``, if an export of it was started here."""

    async def save_plan(self, plan: ShardPlan) -> None:
        """Store ``plan`` and forget every position of its endpoint (a new export).

        Files also drop the endpoint's rows (the file starts over); databases keep theirs
        (they are upserted again).
        """

    async def positions(self, endpoint: Endpoint) -> dict[str, Stored]:
        """Every position stored for ``endpoint``, by name."""

    async def commit(self, batch: Batch) -> int | None:
        """Store the batch's rows, rejects and moves atomically (see the module docstring).

        Returns the rejects it set aside: a reject is known by its endpoint and its bytes,
        and one the store holds already is not stored again (nor one repeated in the
        batch), so a reject listed twice is stored once. ``None`` stands for all of the
        batch's (a sink of an earlier release says nothing).
        """

    async def count(self, endpoint: Endpoint) -> int:
        """Rows stored for ``endpoint``."""

    async def span(self, endpoint: Endpoint) -> tuple[datetime, datetime] | None:
        """The oldest and newest time (``timestamp``; accounts ``created_at``) stored."""

    async def stored_ids(
        self, endpoint: Endpoint, *, after: datetime | None, before: datetime | None
    ) -> list[str]:
        """Ids of the stored rows with ``after < time < before`` (``None``: open).

        A row without a time matches only when both bounds are ``None``.
        """

    async def rejects(self, endpoint: Endpoint) -> int:
        """Items of ``endpoint`` set aside so far (they could not be read)."""


_id = itemgetter(0)


def last_of_each(rows: Sequence[Row]) -> Sequence[Row]:
    """``rows`` without the earlier rows of an id repeated in the batch (the last one wins).

    A listing that shifts while it is read can hand out an item twice in one group of
    pages; one set of the ids tells (C speed), and only then are rows dropped.
    """
    ids = list(map(_id, rows))
    if len(set(ids)) == len(ids):
        return rows
    last = {key: index for index, key in enumerate(ids)}
    return [row for index, row in enumerate(rows) if last[row[0]] == index]
