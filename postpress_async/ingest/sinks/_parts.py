"""A directory of JSON lines part files: :class:`PartFilesSink` (see :mod:`.files`)."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Final

from postpress_async._durable import fsync_dir, write_atomic
from postpress_async._exceptions import (
    OutputLockedError,
    ShardConflictError,
    SinkUnavailableError,
)
from postpress_async._filelock import OutputLock, lock_output
from postpress_async.ingest._shards import Endpoint, ShardPlan

from ._base import Batch, Reach, Stored
from ._filebase import FileReads, in_thread, newest, stored, unwritable
from ._lines import LinesFile, held_rejects
from ._sidecar import Sidecar, StoredPosition
from ._writev import write_failure

__all__ = ["PartFilesSink"]


#: A shard label that can name a part file (the planner's: ``all``, ``tw003``, ``a012w001``).
_LABEL: Final = re.compile(r"[A-Za-z0-9_-]+")


class PartFilesSink(FileReads):
    """A directory with one JSON lines part file a shard; see the module docstring.

    ``force``: part files that are not an export's are overwritten instead of refused.
    """

    reach: Reach = "network"

    def __init__(self, directory: str | Path, *, force: bool = False) -> None:
        self.directory: Path = Path(directory)
        self.url: str = str(self.directory).rstrip("/") + "/"
        self.force = force
        self._parts: dict[tuple[str, str], LinesFile] = {}
        #: Where each name whose part this process holds stands (endpoint, name).
        self._current: dict[tuple[str, str], StoredPosition | None] = {}
        self._lock = threading.Lock()
        self._writer: OutputLock | None = None
        self._endpoint: str | None = None
        self._columns: tuple[str, ...] | None = None
        #: The digests of every part's rejects, by endpoint (read at the first commit of one).
        self._held: dict[str, set[str]] = {}

    def __repr__(self) -> str:
        return f"PartFilesSink({self.url!r})"

    def part(self, endpoint: str, name: str) -> Path:
        """The part file of the position ``name`` (a shard's label, or ``follow``)."""
        if not _LABEL.fullmatch(name):
            raise ValueError(f"{name!r} cannot name a part file (letters, digits, _ and -)")
        return self.directory / f"{endpoint}-{name}.jsonl"

    async def open(self, *, writer: bool = True) -> None:
        """Create the directory if its parent exists; ``writer``: take ``DIR/.lock``.

        Raises :class:`~postpress_async.ingest.SinkUnavailableError` for a directory that
        cannot be created or written, or whose lock file the OS refuses to open; a reader
        (verify, a Dask worker) creates none: it refuses a directory that does not exist.
        """

        def create() -> None:
            if not writer and not self.directory.is_dir():
                raise SinkUnavailableError(
                    f"{self.url}: no store there ({self.directory} does not exist): check "
                    "the path (on a worker: is the directory shared with it?)"
                )
            try:
                self.directory.mkdir(exist_ok=True)
            except OSError as exc:
                raise SinkUnavailableError(
                    f"{self.url}: cannot create the directory ({exc.strerror or exc})"
                ) from None
            if not os.access(self.directory, os.W_OK):
                raise SinkUnavailableError(f"{self.url}: the directory is not writable")
            if writer and self._writer is None:
                try:
                    self._writer = lock_output(self.directory / ".lock")
                except OutputLockedError:  # named as the store, not its lock file
                    raise OutputLockedError(self.url) from None
                except OSError as exc:
                    raise unwritable(self.url, exc) from None

        await in_thread(create)

    async def close(self) -> None:
        """Close every part and release the locks (closing again does nothing)."""
        with self._lock:
            parts = list(self._parts.values())
            self._parts.clear()
            self._current.clear()
            self._held.clear()
        for lines in parts:
            lines.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()

    def _file(self, endpoint: str, name: str) -> LinesFile:
        with self._lock:
            lines = self._parts.get((endpoint, name))
            if lines is None:
                path = self.part(endpoint, name)
                lines = self._parts[endpoint, name] = LinesFile(
                    path, path.with_name(path.name + ".checkpoint"), endpoint=endpoint
                )
            return lines

    def _names(self, endpoint: str) -> list[str]:
        """The positions with a part in the directory (by their sidecars)."""
        pattern = re.compile(re.escape(endpoint) + r"-([A-Za-z0-9_-]+)\.jsonl\.checkpoint")
        found = (pattern.fullmatch(name) for name in os.listdir(self.directory))
        return sorted(match[1] for match in found if match)

    def _files(self, endpoint: str) -> list[tuple[LinesFile, Sidecar]]:
        files = [self._file(endpoint, name) for name in self._names(endpoint)]
        return [(lines, self._checked(lines)) for lines in files]

    def _checked(self, lines: LinesFile) -> Sidecar:
        """A part's sidecar, the part refused if changed by hand (see :meth:`LinesFile.load`)
        as its writer would refuse it, unless it is this process's or ``force`` starts over."""
        if lines.writing or self.force:
            return lines.refresh()
        found = lines.load()
        return Sidecar() if found is None else found

    def _plan_path(self, endpoint: str) -> Path:
        return self.directory / f"plan-{endpoint}.json"

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The plan stored in the directory."""
        self._endpoint = endpoint

        def load() -> ShardPlan | None:
            try:
                return ShardPlan.from_json(self._plan_path(endpoint).read_bytes())
            except FileNotFoundError:
                return None

        return await in_thread(load)

    async def save_plan(self, plan: ShardPlan) -> None:
        """Remove the endpoint's parts (refusing any another process writes), store ``plan``.

        Raises :class:`~postpress_async.ingest.SinkFailedError` if the OS refuses (a full
        disk)."""
        self._endpoint = plan.endpoint
        try:
            await in_thread(lambda: self._save_plan(plan))
        except OSError as exc:
            raise write_failure(self.directory, exc) from exc

    def _save_plan(self, plan: ShardPlan) -> None:
        endpoint = plan.endpoint
        with self._lock:
            stale = [key for key in self._parts if key[0] == endpoint]
            for key in stale:
                self._parts.pop(key).close()
                self._current.pop(key, None)
            self._held.pop(endpoint, None)
        # A label has no dot: what follows its ".jsonl" is a sidecar's or rejects' suffix.
        part = re.compile(re.escape(endpoint) + r"-[A-Za-z0-9_-]+\.jsonl")
        beside = re.compile(part.pattern + r"\..+")
        ours = sorted(
            name
            for name in os.listdir(self.directory)
            if part.fullmatch(name) or beside.fullmatch(name)
        )
        locks: list[OutputLock] = []
        try:
            for name in ours:
                path = self.directory / name
                if not part.fullmatch(name):
                    continue  # a sidecar, a rejects file, a sidecar's temporary file
                sidecar = path.with_name(name + ".checkpoint")
                if path.stat().st_size and not sidecar.exists() and not self.force:
                    raise SinkUnavailableError(
                        f"{path} is not an export's part file (no {sidecar.name}): add --force "
                        "to overwrite it, or choose another directory"
                    )
                locks.append(lock_output(path))  # nobody may be writing a part we remove
            # The plan first: a crash half-way leaves no plan, and the next run removes
            # the rest before it stores its own.
            self._plan_path(endpoint).unlink(missing_ok=True)
            fsync_dir(self.directory)
            for name in ours:
                (self.directory / name).unlink(missing_ok=True)
            fsync_dir(self.directory)
            write_atomic(self._plan_path(endpoint), plan.to_json())
        finally:
            for lock in locks:
                lock.release()

    async def positions(self, endpoint: Endpoint) -> dict[str, Stored]:
        """Every position of ``endpoint``, from the parts' sidecars."""
        self._endpoint = endpoint

        def read() -> dict[str, Stored]:
            found: dict[str, StoredPosition] = {}
            for _, state in self._files(endpoint):
                for name, position in state.positions.items():
                    current = newest((found.get(name), position))
                    assert current is not None
                    found[name] = current
            return stored(found)

        return await in_thread(read)

    async def commit(self, batch: Batch) -> int:
        """The batch, whole, into one part (see the module docstring): the rejects stored."""
        return await in_thread(lambda: self._commit(batch))

    def _commit(self, batch: Batch) -> int:
        endpoint, moves = batch.endpoint, batch.moves
        if not moves:
            if batch.rows or batch.rejects:
                raise ValueError("part files store rows under a position: the batch moves none")
            return 0
        current: dict[str, StoredPosition] = {}
        for move in moves:
            held = self._claim(endpoint, move.name)
            if held is not None:
                current[move.name] = held
        # The part of the shard that brought most of the batch (the first of equals).
        target = self._file(endpoint, max(moves, key=lambda move: move.items).name)
        stored = target.commit(
            endpoint,
            batch.rows,
            batch.rejects,
            moves,
            current=current,
            line_breaks=batch.line_breaks,
            held=self._held_rejects(endpoint) if batch.rejects else None,
        )
        if stored is None:
            return 0  # a replay: stored before
        for move in moves:
            self._current[endpoint, move.name] = target.state.positions[move.name]
        return stored

    def _held_rejects(self, endpoint: str) -> set[str]:
        """The digests of the rejects every part of ``endpoint`` holds: a reject is known
        by its bytes, whichever part holds it (read once, kept up to date by the commits)."""
        held = self._held.get(endpoint)
        if held is None:
            held = self._held[endpoint] = set()
            for lines, state in self._files(endpoint):
                held |= held_rejects(lines.rejects_path, state.rejects_offset)
        return held

    def _claim(self, endpoint: str, name: str) -> StoredPosition | None:
        """Lock the part of ``name`` (once) and return where ``name`` stands now."""
        key = (endpoint, name)
        if key not in self._current:
            lines = self._file(endpoint, name)
            try:
                lines.open_writer(force=self.force)
            except OutputLockedError:
                raise ShardConflictError(
                    f"{lines.path} is being written by another worker (it holds the part's "
                    f"lock); the position {name!r} has one writer at a time"
                ) from None
            except OSError as exc:  # a new part's sidecar on a full disk
                raise write_failure(lines.path, exc) from exc
            # Holding the lock, nobody else moves `name`: read it once, then keep it.
            self._current[key] = newest(
                state.positions.get(name) for _, state in self._files(endpoint)
            )
        return self._current[key]
