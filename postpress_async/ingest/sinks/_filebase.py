"""What both JSON lines sinks share: reading what their files hold, and small helpers.

Verify reads a sink's ``count``, ``span``, ``stored_ids`` and ``rejects``: :class:`FileReads`
answers them from the files themselves (up to what each sidecar vouches for), decoding
only ``id`` and the time of each line with a light msgspec Struct, a megabyte of lines at
a time (bounded memory, whatever the file's size).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, TypeVar

import anyio
import msgspec

from postpress_async._exceptions import SinkUnavailableError
from postpress_async._surrogates import repair_lone_surrogates
from postpress_async.ingest._shards import Endpoint

from ._base import Stored
from ._lines import LinesFile
from ._sidecar import Sidecar, StoredPosition

__all__ = [
    "FileReads",
    "holds",
    "in_thread",
    "in_window",
    "newest",
    "read_stamps",
    "stored",
    "time_columns",
    "unwritable",
]

T = TypeVar("T")
_NL: Final = b"\n"


def time_columns(endpoint: str | None) -> tuple[str, ...] | None:
    """The one typed column a JSON lines sink reads rows with: the endpoint's time.

    ``None`` (every column) while the endpoint is not known: always valid, only slower.
    """
    if endpoint is None:
        return None
    return ("created_at",) if endpoint == "accounts" else ("timestamp",)


async def in_thread(call: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(call)


def unwritable(url: str, exc: OSError) -> SinkUnavailableError:
    """The OS refused a file of the sink at open: the file it named, and its reason."""
    named = "" if exc.filename is None else str(exc.filename)
    where = f" {named}" if named and named.rstrip("/") != url.rstrip("/") else ""
    return SinkUnavailableError(f"{url}: cannot write{where} ({exc.strerror or exc})")


def holds(state: Sidecar) -> bool:
    """Whether the file holds anything of its endpoint (a plan alone does not count)."""
    return bool(state.offset or state.rejects_offset or state.positions)


def stored(found: dict[str, StoredPosition]) -> dict[str, Stored]:
    return {
        name: Stored(bytes(stored.position), stored.items, stored.pages)
        for name, stored in found.items()
    }


def newest(found: Iterable[StoredPosition | None]) -> StoredPosition | None:
    """The current one of a name's stored positions (the highest ``seq``)."""
    best: StoredPosition | None = None
    for stored in found:
        if stored is not None and (best is None or stored.seq > best.seq):
            best = stored
    return best


def in_window(moment: datetime | None, after: datetime | None, before: datetime | None) -> bool:
    if moment is None:
        return after is None and before is None
    return (after is None or moment > after) and (before is None or moment < before)


class FileReads:
    """What both file sinks share: the columns they read rows with, and what verify reads
    of the files an endpoint's rows are in."""

    #: The endpoint the sink was last asked about, and the columns set from outside.
    _endpoint: str | None = None
    _columns: tuple[str, ...] | None = None

    @property
    def columns(self) -> tuple[str, ...] | None:
        """``("timestamp",)``, or ``("created_at",)`` when the file holds accounts.

        The time column of the endpoint the sink holds, or of the last ``load_plan``,
        ``save_plan`` or ``positions`` call (the runner makes one before it reads rows);
        ``None`` (every column) before any. The sink itself stores ``id`` and ``data``
        only: the time is for the follow, which derives positions from it.
        """
        return self._columns if self._columns is not None else time_columns(self._endpoint)

    @columns.setter
    def columns(self, value: tuple[str, ...] | None) -> None:
        self._columns = value

    def _files(self, endpoint: str) -> list[tuple[LinesFile, Sidecar]]:
        raise NotImplementedError

    async def count(self, endpoint: Endpoint) -> int:
        """Lines stored for ``endpoint``: what the sidecars vouch for (no file is read)."""
        return await in_thread(lambda: sum(s.count for _, s in self._files(endpoint)))

    async def rejects(self, endpoint: Endpoint) -> int:
        """Rejects stored for ``endpoint``: what the sidecars vouch for."""
        return await in_thread(lambda: sum(s.rejects for _, s in self._files(endpoint)))

    def _stamps(self, endpoint: str) -> Iterable[tuple[str, datetime | None]]:
        for lines, state in self._files(endpoint):
            yield from read_stamps(lines.path, state.offset, endpoint)

    async def span(self, endpoint: Endpoint) -> tuple[datetime, datetime] | None:
        """The oldest and newest time of the stored lines (``None``: none has one)."""

        def scan() -> tuple[datetime, datetime] | None:
            low = high = None
            for _, moment in self._stamps(endpoint):
                if moment is not None:
                    low = moment if low is None or moment < low else low
                    high = moment if high is None or moment > high else high
            return None if low is None or high is None else (low, high)

        return await in_thread(scan)

    async def stored_ids(
        self, endpoint: Endpoint, *, after: datetime | None, before: datetime | None
    ) -> list[str]:
        """Ids of the stored lines with ``after < time < before`` (``None``: open)."""
        return await in_thread(
            lambda: [
                key for key, moment in self._stamps(endpoint) if in_window(moment, after, before)
            ]
        )


class _Stamp(msgspec.Struct, gc=False):
    id: str
    timestamp: datetime | None = None


class _AccountStamp(msgspec.Struct, gc=False, rename={"timestamp": "created_at"}):
    id: str
    timestamp: datetime | None = None


_STAMPS: Final[dict[str, tuple[msgspec.json.Decoder[list[Any]], msgspec.json.Decoder[Any]]]] = {
    name: (msgspec.json.Decoder(list[kind]), msgspec.json.Decoder(kind))  # type: ignore[valid-type]
    for name, kind in (("messages", _Stamp), ("chats", _Stamp), ("accounts", _AccountStamp))
}
_CHUNK: Final = 1 << 20


def _chunks(path: Path, end: int) -> Iterator[bytes]:
    """The first ``end`` bytes of ``path`` in pieces of whole lines (about 1 MiB each)."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return
    with file:
        left = end
        tail = b""
        while left > 0:
            block = file.read(min(_CHUNK, left))
            if not block:
                break
            left -= len(block)
            cut = block.rfind(_NL) + 1
            if not cut:
                tail += block
                continue
            yield tail + block[:cut]
            tail = block[cut:]


def read_stamps(path: Path, end: int, endpoint: str) -> Iterator[tuple[str, datetime | None]]:
    """``(id, time)`` of each line in the first ``end`` bytes (time: ``timestamp``, or
    ``created_at`` for accounts), decoding a megabyte of lines at a time. A time sent
    without a zone is read as UTC, as the rows' typed columns read it."""
    many, one = _STAMPS[endpoint]
    for chunk in _chunks(path, end):
        array = b"[" + chunk[:-1].replace(_NL, b",") + b"]"
        try:
            stamps = many.decode(array)
        except msgspec.DecodeError:
            stamps = _slowly(many, one, array, chunk)
        for stamp in stamps:
            moment = stamp.timestamp
            if moment is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            yield stamp.id, moment


def _slowly(
    many: msgspec.json.Decoder[list[Any]],
    one: msgspec.json.Decoder[Any],
    array: bytes,
    chunk: bytes,
) -> list[Any]:
    """Lone surrogate escapes repaired (the usual cause), else line by line; a line still
    unreadable is skipped."""
    repaired = repair_lone_surrogates(array)
    if repaired is not None:
        try:
            return many.decode(repaired)
        except msgspec.DecodeError:
            pass
    stamps = []
    for line in chunk.splitlines():
        try:
            stamps.append(one.decode(repair_lone_surrogates(line) or line))
        except msgspec.DecodeError:  # noqa: PERF203 - the slow path
            continue
    return stamps
