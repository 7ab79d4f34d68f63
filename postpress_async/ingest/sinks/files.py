"""JSON lines sinks: one file for every shard, or a directory with a part file a shard.

Each file ``F`` has a sidecar ``F.checkpoint`` (JSON: the byte ``offset`` up to which
``F`` is complete, and the checkpoint, items and pages of each shard it holds). A page
is appended, flushed and fsynced, then the sidecar is replaced atomically (temp file,
fsync, rename, fsync of the directory). A crash between the two leaves the old
sidecar, whose ``offset`` ends before the page: reopening truncates ``F`` there, and
the shard fetches that page again. The stored plan lives beside, in ``F.plan.json``
(one file) or ``DIR/plan-<endpoint>.json`` (part files).

One file takes the pages of all shards in turn, so only the process that owns it
may write: it serves the local engine. A directory of part files (one a shard) serves
processes and machines that share the directory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import msgspec

from postpress_async._durable import write_atomic
from postpress_async._encoding import encode_json
from postpress_async._exceptions import ShardConflictError, SinkUnavailableError
from postpress_async._filelock import OutputLock, lock_output
from postpress_async._positions import Checkpoint
from postpress_async.ingest._shards import Endpoint, Shard, ShardPlan

from ._base import Reach

__all__ = ["JsonLinesSink", "PartFilesSink"]


class _Progress(msgspec.Struct, kw_only=True):
    checkpoint: Checkpoint = msgspec.field(default_factory=Checkpoint)
    items: int = 0
    pages: int = 0


class _Sidecar(msgspec.Struct, kw_only=True):
    offset: int = 0
    shards: dict[str, _Progress] = msgspec.field(default_factory=dict)


class _LinesFile:
    """One JSON lines file and its sidecar; blocking calls, for a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sidecar_path = path.with_name(path.name + ".checkpoint")
        self._file: BinaryIO | None = None
        self._writer: OutputLock | None = None
        self._lock = threading.Lock()
        self.state = self._read()

    def _read(self) -> _Sidecar:
        try:
            return msgspec.json.decode(self.sidecar_path.read_bytes(), type=_Sidecar)
        except FileNotFoundError:
            return _Sidecar()
        except msgspec.DecodeError as exc:
            raise SinkUnavailableError(f"{self.sidecar_path} is not a checkpoint ({exc})") from None

    def _open(self) -> BinaryIO:
        if self._file is None:
            # One writer a file, across processes and machines sharing the directory.
            self._writer = lock_output(self.path)
            self.state = self._read()  # as the last writer left it
            file = open(self.path, "r+b")  # noqa: SIM115
            file.truncate(self.state.offset)  # drop a page written after the last checkpoint
            file.seek(self.state.offset)
            self._file = file
        return self._file

    def progress(self, label: str) -> _Progress:
        with self._lock:
            return self.state.shards.get(label) or _Progress()

    def write(self, label: str, data: bytes, items: int, new: Checkpoint, old: Checkpoint) -> None:
        with self._lock:
            file = self._open()
            current = self.state.shards.get(label) or _Progress()
            if current.checkpoint != old:
                raise ShardConflictError(
                    f"shard {label} of {self.path} moved since it was read; "
                    "another writer is writing it"
                )
            if data:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            self.state.offset += len(data)
            self.state.shards[label] = _Progress(
                checkpoint=new, items=current.items + items, pages=current.pages + 1
            )
            write_atomic(self.sidecar_path, msgspec.json.encode(self.state))

    def reset(self) -> None:
        with self._lock:
            self.close()
            self.state = _Sidecar()
            self.sidecar_path.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()


def _lines(items: Sequence[Any]) -> bytes:
    return b"".join(encode_json(item) + b"\n" for item in items)


def _load_plan(path: Path) -> ShardPlan | None:
    try:
        return ShardPlan.from_json(path.read_bytes())
    except FileNotFoundError:
        return None


class JsonLinesSink:
    """One JSON lines file for all shards (its sidecar holds every shard's checkpoint)."""

    reach: Reach = "process"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self._file: _LinesFile | None = None

    def __repr__(self) -> str:
        return f"JsonLinesSink({self.url!r})"

    def _lines(self) -> _LinesFile:
        if self._file is None:
            raise SinkUnavailableError(f"{self.url} is not open")
        return self._file

    async def open(self) -> None:
        """Read the sidecar (if any); refuse a directory that does not exist."""
        if not self.path.parent.is_dir():
            raise SinkUnavailableError(
                f"{self.url}: the directory {self.path.parent} does not exist"
            )
        if self._file is None:
            self._file = await anyio.to_thread.run_sync(_LinesFile, self.path)

    def _plan_path(self) -> Path:
        return self.path.with_name(self.path.name + ".plan.json")

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The plan stored beside the file."""
        plan = await anyio.to_thread.run_sync(_load_plan, self._plan_path())
        return plan if plan is not None and plan.endpoint == endpoint else None

    async def save_plan(self, plan: ShardPlan) -> None:
        """Start the file over for ``plan``."""

        def save() -> None:
            self._lines().reset()
            write_atomic(self._plan_path(), plan.to_json())

        await anyio.to_thread.run_sync(save)

    async def checkpoint(self, shard: Shard) -> Checkpoint:
        """The shard's checkpoint from the sidecar."""
        return self._lines().progress(shard.label).checkpoint

    async def write(
        self, shard: Shard, items: Sequence[Any], checkpoint: Checkpoint, previous: Checkpoint
    ) -> None:
        """Append the page durably, then record it in the sidecar."""
        data = _lines(items)
        file = self._lines()
        await anyio.to_thread.run_sync(
            lambda: file.write(shard.label, data, len(items), checkpoint, previous)
        )

    async def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()

    def finished(self) -> bool:
        """Whether every shard in the sidecar is done (the plan's shards, that is)."""
        return all(p.checkpoint.done for p in self._lines().state.shards.values())


class PartFilesSink:
    """A directory with one JSON lines part file a shard (``<endpoint>-<label>.jsonl``)."""

    reach: Reach = "network"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.url = str(self.directory).rstrip("/") + "/"
        self._files: dict[str, _LinesFile] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PartFilesSink({self.url!r})"

    async def open(self) -> None:
        """Create the directory if its parent exists."""

        def create() -> None:
            try:
                self.directory.mkdir(exist_ok=True)
            except OSError as exc:
                raise SinkUnavailableError(
                    f"{self.url}: cannot create the directory ({exc})"
                ) from None
            if not os.access(self.directory, os.W_OK):
                raise SinkUnavailableError(f"{self.url}: the directory is not writable")

        await anyio.to_thread.run_sync(create)

    def part(self, shard: Shard) -> Path:
        """The part file of ``shard``."""
        return self.directory / f"{shard.endpoint}-{shard.label}.jsonl"

    def _file(self, shard: Shard) -> _LinesFile:
        with self._lock:
            lines = self._files.get(shard.label)
            if lines is None:
                lines = self._files[shard.label] = _LinesFile(self.part(shard))
            return lines

    def _plan_path(self, endpoint: str) -> Path:
        return self.directory / f"plan-{endpoint}.json"

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The plan stored in the directory."""
        return await anyio.to_thread.run_sync(_load_plan, self._plan_path(endpoint))

    async def save_plan(self, plan: ShardPlan) -> None:
        """Remove the endpoint's old part files, then store ``plan``."""

        def save() -> None:
            for old in self.directory.glob(f"{plan.endpoint}-*.jsonl*"):
                old.unlink()
            with self._lock:
                self._files.clear()
            write_atomic(self._plan_path(plan.endpoint), plan.to_json())

        await anyio.to_thread.run_sync(save)

    async def checkpoint(self, shard: Shard) -> Checkpoint:
        """The checkpoint in the shard's sidecar."""
        lines = await anyio.to_thread.run_sync(self._file, shard)
        return lines.progress(shard.label).checkpoint

    async def write(
        self, shard: Shard, items: Sequence[Any], checkpoint: Checkpoint, previous: Checkpoint
    ) -> None:
        """Append to the shard's part file durably, then record it in its sidecar."""
        data = _lines(items)
        lines = self._file(shard)
        await anyio.to_thread.run_sync(
            lambda: lines.write(shard.label, data, len(items), checkpoint, previous)
        )

    async def close(self) -> None:
        """Close every part file."""
        with self._lock:
            for lines in self._files.values():
                lines.close()
            self._files.clear()
