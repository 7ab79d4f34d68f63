"""The export's checkpoint file and the output it vouches for.

``FILE.jsonl.checkpoint`` is JSON::

    {"version": 1,
     "fingerprint": "3f0c9a...",          # sha256 of "command", to refuse a changed resume
     "command": {"resource": "messages", "source": "https://...", "filters": {...},
                 "windows": [["2026-05-01T00:00:00.000Z", "..."], ...] or null,
                 "max_items": null},
     "streams": [{"cursor": "...", "offset": 0, "done": false}, ...],  # one per window
     "offset": 1048576,                   # bytes of FILE that are complete
     "items": 2500, "pages": 25, "done": false}

The invariant that makes a resumed export exactly-once: **the first ``offset`` bytes
of the output hold exactly the items before ``streams`` (each stream's checkpoint),
and they are on disk before the checkpoint that names them is.** :meth:`Output.commit`
keeps it: append the lines of one or more pages (a group commit, when the writer fell
behind the walk), flush and fsync the output once, then replace the checkpoint
atomically (temp file, fsync, ``os.replace``, fsync the directory) with the state after
the last of those pages. A crash before the replace leaves the old checkpoint, whose
``offset`` ends before the new lines; resuming truncates the output there (dropping
those lines and any partial one) and fetches those pages again from the old cursor.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import msgspec

from postpress_async import Checkpoint, fsync_dir, write_atomic

from ._errors import UsageError

__all__ = [
    "AppendOnly",
    "ExportCommand",
    "ExportState",
    "Output",
    "PageLines",
    "checkpoint_path",
    "load_state",
]

VERSION = 1


class ExportCommand(msgspec.Struct, frozen=True, kw_only=True):
    """What an export asks for; a resume must ask for the same."""

    resource: str
    #: The API base URL, or the fake dataset's identity under ``--fake``.
    source: str
    #: Normalised filters (datetimes in the API's UTC format).
    filters: dict[str, Any]
    #: The ``(after, before)`` of each window with ``--windows``, else ``None``.
    windows: list[tuple[str, str]] | None = None
    max_items: int | None = None

    def fingerprint(self) -> str:
        """A stable hash of the command."""
        return hashlib.sha256(msgspec.json.encode(self, order="sorted")).hexdigest()[:16]

    def differences(self, other: ExportCommand) -> list[str]:
        """What differs between two commands, as ``name: saved -> now`` phrases."""
        mine = msgspec.to_builtins(self)
        theirs = msgspec.to_builtins(other)
        out = [
            f"{key}: {mine[key]!r} -> {theirs[key]!r}"
            for key in ("resource", "source", "windows", "max_items")
            if mine[key] != theirs[key]
        ]
        for key in sorted(set(mine["filters"]) | set(theirs["filters"])):
            old, new = mine["filters"].get(key), theirs["filters"].get(key)
            if old != new:
                out.append(f"{key}: {old!r} -> {new!r}")
        return out


class ExportState(msgspec.Struct, kw_only=True):
    """The checkpoint file's content (see the module docstring)."""

    version: int = VERSION
    fingerprint: str
    command: ExportCommand
    streams: list[Checkpoint]
    offset: int = 0
    items: int = 0
    pages: int = 0
    done: bool = False


def checkpoint_path(out: Path) -> Path:
    """``FILE.jsonl`` -> ``FILE.jsonl.checkpoint``."""
    return out.with_name(out.name + ".checkpoint")


def load_state(path: Path) -> ExportState | None:
    """The saved state, ``None`` if there is no checkpoint file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        state = msgspec.json.decode(data, type=ExportState)
    except msgspec.DecodeError as exc:
        raise UsageError(
            f"{path} is not a readable checkpoint ({exc}); use --force to start over"
        ) from None
    if state.version != VERSION:
        raise UsageError(f"{path} has checkpoint version {state.version}; expected {VERSION}")
    return state


def _iov_max() -> int:
    """Buffers one ``os.writev`` call takes at most (Linux and macOS: 1024; POSIX: >= 16)."""
    try:
        limit = os.sysconf("SC_IOV_MAX")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - Windows, odd platforms
        return 16
    return limit if limit > 0 else 1024


_IOV_MAX = _iov_max()


def _write_all(fd: int, chunks: Sequence[bytes]) -> int:
    """Write ``chunks`` to ``fd`` in order, in as few system calls as the platform allows.

    One ``writev`` for a whole group of pages where there is one: in a worker thread each
    system call gives up the GIL and must win it back from the busy event loop, so the
    number of calls, not the bytes, is what a group commit pays. Returns the bytes written.
    """
    views = [memoryview(chunk) for chunk in chunks if chunk]
    total = sum(len(view) for view in views)
    first = 0
    while first < len(views):
        if _writev is None:  # pragma: no cover - Windows
            written = os.write(fd, views[first])
        else:
            written = _writev(fd, views[first : first + _IOV_MAX])
        while written:  # drop what was written; a short write leaves part of a view
            size = len(views[first])
            if written < size:
                views[first] = views[first][written:]
                break
            written -= size
            first += 1
    return total


_writev = getattr(os, "writev", None)


class AppendOnly:
    """A file whose first ``offset`` bytes are vouched for: what follows is cut, then appended.

    The one durable writer of the CLI: ``export`` and ``watch`` append lines with
    :meth:`append` (write, flush, fsync) and only then record the new offset in their
    state file with :func:`write_atomic`, so a crash anywhere leaves a state whose
    offset ends at a complete line the state accounts for.
    """

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        # Unbuffered: every append is handed to the kernel whole (see _write_all).
        file: BinaryIO = open(path, "r+b" if path.exists() else "w+b", buffering=0)  # noqa: SIM115
        self._file = file
        try:
            file.truncate(offset)
            file.seek(offset)
            os.fsync(file.fileno())
        except BaseException:
            file.close()
            raise

    def append(self, *chunks: bytes) -> None:
        """Append ``chunks`` in order and wait until they are on disk, with one fsync.

        Blocking: run it in a thread, or accept that it blocks the loop for a moment.
        """
        fd = self._file.fileno()
        if _write_all(fd, chunks):
            os.fsync(fd)

    def close(self) -> None:
        """Close the file; closing again does nothing."""
        self._file.close()


class PageLines(NamedTuple):
    """One page as the export commits it: its JSON lines and where its stream stands after it."""

    data: bytes
    items: int
    #: Which stream (window) the page came from: an index into ``ExportState.streams``.
    stream: int
    checkpoint: Checkpoint


class Output:
    """The export file, opened at the state's offset, and the checkpoint that follows it."""

    def __init__(self, path: Path, state: ExportState) -> None:
        self.path = path
        self.checkpoint = checkpoint_path(path)
        self.state = state
        self._file = AppendOnly(path, state.offset)
        try:
            self.save()
        except BaseException:
            self._file.close()
            raise

    def save(self) -> None:
        """Write the checkpoint file from the current state."""
        write_atomic(self.checkpoint, msgspec.json.encode(self.state))

    def commit(self, data: bytes, *, items: int, stream: int, checkpoint: Checkpoint) -> None:
        """Append one page's lines durably, then record them in the checkpoint (blocking)."""
        self.commit_group([PageLines(data, items, stream, checkpoint)])

    def commit_group(self, pages: Sequence[PageLines]) -> None:
        """Append the pages' lines durably (one fsync), then record them in the checkpoint.

        One checkpoint for the group, saved after the last page's lines are on disk: it
        never names a line that is not. Blocking (it fsyncs): run it in a worker thread.
        """
        self._file.append(*(page.data for page in pages))
        state = self.state
        for page in pages:
            state.offset += len(page.data)
            state.items += page.items
            state.pages += 1
            state.streams[page.stream] = page.checkpoint
        self.save()

    def finish(self) -> None:
        """Mark the export complete, then drop the checkpoint: nothing is left to resume."""
        self.state.done = True
        try:
            self.save()
        finally:
            self.close()
        with contextlib.suppress(FileNotFoundError):
            self.checkpoint.unlink()
        fsync_dir(self.checkpoint.parent)

    def close(self) -> None:
        """Close the output (the checkpoint stays); closing again does nothing."""
        self._file.close()
