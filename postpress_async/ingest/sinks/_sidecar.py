"""The file sinks' sidecar (version 2), and the older state files it is read from.

Version 2 is :class:`Sidecar` (see :mod:`._lines` for an example). Three older files
vouched for JSON lines before it; :func:`read_sidecar` reads each and converts it:

* the previous ingest file sink's ``FILE.checkpoint`` (``{"offset", "shards": {label:
  {"checkpoint", "items", "pages"}}}``, no version; its plan in ``FILE.plan.json`` for
  one file, ``DIR/plan-<endpoint>.json`` for part files): the same facts, exactly: the
  offset, each shard's checkpoint as its position (items, pages), the plan;
* ``postpress export``'s ``FILE.checkpoint`` (``ExportState``, version 1: a command,
  one ``list()`` checkpoint a window, the offset): its lines stay vouched for, but its
  checkpoints do not become positions. They are cursors of one ``list()`` stream a
  ``--windows`` window, taken with filters normalised for the old command and without
  the follow state ingest needs; ingest cuts its own shards, and a position that only
  looks like one would resume the wrong listing. So it converts to a sidecar with its
  endpoint and no plan: the next export finds no plan, makes one, and ``save_plan``
  starts the file over (no ``--force`` needed: the checkpoint shows the file is an
  export's). Nothing is lost but the time to fetch those pages again;
* ``postpress watch --state STATE``'s ``WatchFile`` (version 1: the
  :class:`~postpress_async.WatchState`, the ``--out`` offset, items): the follow position,
  exactly (the same WatchState), the offset, the items: the watch goes on from it.

A sidecar newer than this code, or one that is not JSON, is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import msgspec

from postpress_async._exceptions import SinkUnavailableError
from postpress_async._positions import Checkpoint, WatchState
from postpress_async._rows import TABLES
from postpress_async.ingest._shards import ShardPlan

from ._base import FOLLOW

__all__ = ["NULL", "SIDECAR_VERSION", "Sidecar", "StoredPosition", "count_lines", "read_sidecar"]

SIDECAR_VERSION: Final = 2
#: The JSON ``null``: the plan of a sidecar that holds none.
NULL: Final = msgspec.Raw(b"null")


class StoredPosition(msgspec.Struct, kw_only=True, gc=False):
    """A named position: its encoded value exactly as committed, and what it covers."""

    position: msgspec.Raw
    items: int = 0
    pages: int = 0
    #: Moves of this name so far: where several sidecars name it (part files), the
    #: highest is the current one.
    seq: int = 0


class Sidecar(msgspec.Struct, kw_only=True):
    """What a JSON lines file holds (version 2)."""

    version: int = SIDECAR_VERSION
    #: The one endpoint the file holds (``None``: nothing yet).
    endpoint: str | None = None
    #: Bytes of the file that are complete, and the lines in them.
    offset: int = 0
    count: int = 0
    #: The same for the rejects file.
    rejects_offset: int = 0
    rejects: int = 0
    #: The stored :class:`ShardPlan` as JSON (``null``: none).
    plan: msgspec.Raw = NULL
    #: Every position, by name (a shard's label, or ``follow``).
    positions: dict[str, StoredPosition] = msgspec.field(default_factory=dict)


class _OldProgress(msgspec.Struct):
    checkpoint: Checkpoint = msgspec.field(default_factory=Checkpoint)
    items: int = 0
    pages: int = 0


class _OldSinkSidecar(msgspec.Struct):
    offset: int = 0
    shards: dict[str, _OldProgress] = msgspec.field(default_factory=dict)


class _OldCommand(msgspec.Struct):
    resource: str


class _OldExport(msgspec.Struct):
    version: int
    fingerprint: str
    command: _OldCommand
    streams: list[Checkpoint]
    offset: int = 0


class _OldWatch(msgspec.Struct):
    version: int
    fingerprint: str
    watch: WatchState
    offset: int = 0
    items: int = 0


def count_lines(path: Path, end: int) -> int:
    """Newlines in the first ``end`` bytes of ``path`` (streaming, a megabyte at a time)."""
    lines = 0
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return 0
    with file:
        while end > 0:
            block = file.read(min(end, 1 << 20))
            if not block:
                break
            end -= len(block)
            lines += block.count(b"\n")
    return lines


def read_sidecar(
    path: Path,
    data: Path,
    *,
    legacy_plan: Path | None = None,
    endpoint: str | None = None,
) -> tuple[Sidecar, str | None] | None:
    """The sidecar at ``path`` of the JSON lines file ``data``, and what was converted.

    ``None``: there is no sidecar. The note is ``None`` for a version 2 sidecar, else a
    sentence saying what it was converted from. ``legacy_plan``: where the previous
    ingest sink kept the plan; ``endpoint``: the endpoint the file holds if its name says
    so (part files).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SinkUnavailableError(f"{path} cannot be read ({exc.strerror or exc})") from None
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise _unreadable(path, str(exc)) from None
    if not isinstance(doc, dict):
        raise _unreadable(path, "not a JSON object")
    version = doc.get("version")
    try:
        if version == SIDECAR_VERSION:
            return msgspec.json.decode(raw, type=Sidecar), None
        if isinstance(version, int) and version > SIDECAR_VERSION:
            raise SinkUnavailableError(
                f"{path} has sidecar version {version}, written by a newer postpress-async "
                f"(this one reads up to {SIDECAR_VERSION}): upgrade it, or choose another file"
            )
        if "shards" in doc and version is None:
            return _from_old_sink(raw, path, data, legacy_plan, endpoint)
        if "streams" in doc and "command" in doc:
            return _from_export(raw, path, data)
        if "watch" in doc:
            return _from_watch(raw, path, data)
    except msgspec.DecodeError as exc:
        raise _unreadable(path, str(exc)) from None
    raise _unreadable(path, "not a checkpoint this version knows")


def _unreadable(path: Path, why: str) -> SinkUnavailableError:
    return SinkUnavailableError(
        f"{path} is not a readable checkpoint ({why}): add --force to start over, or choose "
        "another file"
    )


def _endpoint(path: Path, name: str) -> str:
    if name not in TABLES:
        raise _unreadable(path, f"unknown endpoint {name!r}")
    return name


def _from_old_sink(
    raw: bytes, path: Path, data: Path, legacy_plan: Path | None, endpoint: str | None
) -> tuple[Sidecar, str]:
    old = msgspec.json.decode(raw, type=_OldSinkSidecar)
    plan: Any = NULL
    if legacy_plan is not None:
        try:
            text = legacy_plan.read_bytes()
        except FileNotFoundError:
            pass
        else:
            try:
                endpoint = ShardPlan.from_json(text).endpoint
            except ValueError as exc:
                raise _unreadable(legacy_plan, str(exc)) from None
            plan = msgspec.Raw(text)
    positions = {
        label: StoredPosition(
            position=msgspec.Raw(msgspec.json.encode(progress.checkpoint)),
            items=progress.items,
            pages=progress.pages,
        )
        for label, progress in old.shards.items()
    }
    state = Sidecar(
        endpoint=None if endpoint is None else _endpoint(path, endpoint),
        offset=old.offset,
        count=count_lines(data, old.offset),
        plan=plan,
        positions=positions,
    )
    return state, f"{path}: converted from the previous ingest file sink's checkpoint"


def _from_export(raw: bytes, path: Path, data: Path) -> tuple[Sidecar, str]:
    old = msgspec.json.decode(raw, type=_OldExport)
    state = Sidecar(
        endpoint=_endpoint(path, old.command.resource),
        offset=old.offset,
        count=count_lines(data, old.offset),
    )
    return state, (
        f"{path} was written by postpress export before ingest: its list cursors are not "
        "shard positions, so the export starts over under a new plan (the file is "
        "rewritten from its first line)"
    )


def _from_watch(raw: bytes, path: Path, data: Path) -> tuple[Sidecar, str]:
    old = msgspec.json.decode(raw, type=_OldWatch)
    follow = StoredPosition(
        position=msgspec.Raw(msgspec.json.encode(old.watch)), items=old.items, pages=0
    )
    state = Sidecar(
        endpoint=_endpoint(path, old.watch.kind),
        offset=old.offset,
        count=count_lines(data, old.offset),
        positions={FOLLOW: follow},
    )
    return state, f"{path}: converted from a postpress watch --state file; the watch goes on"
