"""JSON lines sinks: one file (:class:`JsonLinesSink`), or a directory of part files.

A line is an item exactly as the API sent it, then ``\\n``. Beside each file its sidecar
(``FILE.checkpoint``) vouches for it: the bytes that are complete, the plan, every
position, the rejects (``FILE.rejects.jsonl``, one ``{"reason", "item"}`` a line); see
:mod:`._lines` for the format and the append-then-sidecar commit that makes a resumed
export exactly once, and :mod:`._sidecar` for the older state files it converts.

The safety rules live here, once, for the CLI and the library alike:

* a non-empty file with no sidecar is not an export's file: refused (``force``
  overwrites it);
* a file shorter than its sidecar's offset lost committed lines: refused, never padded;
  a longer one is cut back to the offset (lines written after the last commit), unless
  no line ends there (lines edited inside it): refused too, never cut mid-line;
* one writer: the file's own lock (:func:`postpress_async._filelock.lock_output`) while open with
  ``writer=True``; a file holds one endpoint.

:class:`PartFilesSink` (in :mod:`._parts`) keeps such files in a directory, for Dask
workers on a shared directory. A batch goes whole into one part file, rows, rejects and
every move in that part's one append + sidecar replace, so each part is always
consistent with its own sidecar and no batch is ever half stored: a crash between two
batches leaves each part's positions covering exactly its own rows. A Dask worker's
batches move its own shard only, so each shard gets its part
(``DIR/<endpoint>-<label>.jsonl``; the follow position's is ``<endpoint>-follow.jsonl``).
The local engine's batches carry pages of several shards at once (the batch does not
say which row came from which shard), so one lands in the part of the shard that
brought most of its items. A name whose position was stored in several parts over time
is current where its ``seq`` is highest; whoever moves a name holds that name's part
lock first, so the moves of one name never race. The plan is in
``DIR/plan-<endpoint>.json``, the one-writer lock in ``DIR/.lock`` (held by the
coordinator; workers open with ``writer=False`` and lock the parts they write).
"""

from __future__ import annotations

import os
from pathlib import Path

from postpress_async._exceptions import InvalidParameterError, SinkUnavailableError
from postpress_async.ingest._shards import Endpoint, ShardPlan

from ._base import Batch, Reach, Stored
from ._filebase import FileReads, holds, in_thread, stored, unwritable
from ._lines import LinesFile
from ._parts import PartFilesSink
from ._sidecar import Sidecar

__all__ = ["JsonLinesSink", "PartFilesSink"]


class JsonLinesSink(FileReads):
    """One JSON lines file for every shard of one endpoint; see the module docstring.

    ``state``: where the sidecar is (default ``FILE.checkpoint``; ``postpress watch --out
    FILE --state STATE`` gives it, and an old watch state file there is converted).
    ``force``: a file that is not an export's (or is damaged, or holds another endpoint)
    is overwritten instead of refused; a forced new export also calls :meth:`save_plan`,
    which starts the file over.
    """

    reach: Reach = "process"

    def __init__(
        self, path: str | Path, *, state: str | Path | None = None, force: bool = False
    ) -> None:
        self.path: Path = Path(path)
        self.url: str = str(self.path)
        self.force = force
        sidecar = self.path.with_name(self.path.name + ".checkpoint")
        legacy: Path | None = self.path.with_name(self.path.name + ".plan.json")
        if state is not None:
            sidecar, legacy = Path(state), None
        self._file = LinesFile(self.path, sidecar, legacy_plan=legacy)
        if state is not None:
            _own_file(sidecar, self.path, self._file.rejects_path)
        self._endpoint: str | None = None
        self._columns: tuple[str, ...] | None = None
        self._writer = False

    def __repr__(self) -> str:
        return f"JsonLinesSink({self.url!r})"

    @property
    def state_path(self) -> Path:
        """The sidecar's path."""
        return self._file.sidecar

    @property
    def rejects_path(self) -> Path:
        """``FILE.rejects.jsonl``."""
        return self._file.rejects_path

    @property
    def upgraded(self) -> str | None:
        """What :meth:`open` converted from an older state file (a sentence), if anything."""
        return self._file.upgraded

    async def open(self, *, writer: bool = True) -> None:
        """Lock the file (``writer``), read its sidecar, cut it back to what that vouches for.

        Raises :class:`~postpress_async.OutputLockedError` if another writer holds it and
        :class:`~postpress_async.ingest.SinkUnavailableError` for a file that is not an
        export's, is shorter than its sidecar says, sits in a missing directory, or
        that the OS refuses to open (naming the file and the OS's reason); a reader, for
        a file that does not exist.
        """
        for where in (self.path, self.state_path):
            if not where.parent.is_dir():
                raise SinkUnavailableError(f"{where}: the directory {where.parent} does not exist")
        if self.path.is_dir():
            raise SinkUnavailableError(
                f"{self.url} is a directory: write part files to {self.url.rstrip('/')}/, "
                "or give a file"
            )
        if not writer and not self.path.exists():  # verify: a typo is not an empty store
            raise SinkUnavailableError(
                f"{self.url}: no store there ({self.path} does not exist): check the path"
            )
        if self.path.exists() and not self.path.is_file():
            raise SinkUnavailableError(
                f"{self.url} is not a regular file (a pipe, a terminal or a device): an "
                "export cuts back and continues its file; give a file, or stream JSON "
                "lines with `postpress messages list` or `postpress watch` to stdout"
            )
        if writer:
            try:
                await in_thread(lambda: self._file.open_writer(force=self.force))
            except OSError as exc:
                raise unwritable(self.url, exc) from None
            state: Sidecar | None = self._file.state
        else:
            state = await in_thread(self._file.load)
        self._writer = writer
        self._endpoint = None if state is None else state.endpoint

    async def close(self) -> None:
        """Close the file and release its lock (closing again does nothing)."""
        self._file.close()

    async def _state(self) -> Sidecar:
        return self._file.state if self._writer else await in_thread(self._file.refresh)

    def _files(self, endpoint: str) -> list[tuple[LinesFile, Sidecar]]:
        state = self._file.refresh()
        return [(self._file, state)] if state.endpoint == endpoint else []

    def _other(self, held: str, asked: str) -> SinkUnavailableError:
        if not self._writer:  # a reader (verify) only compares: nothing to overwrite
            return SinkUnavailableError(
                f"{self.url} holds an export of {held}, not {asked}; a file holds one "
                f"endpoint and verify compares one: verify {held} with it, or give the "
                f"file that holds {asked}"
            )
        return SinkUnavailableError(
            f"{self.url} holds an export of {held}; a file holds one endpoint: write {asked} "
            "to another file, or add --force to overwrite it"
        )

    async def load_plan(self, endpoint: Endpoint) -> ShardPlan | None:
        """The plan stored in the sidecar (refuses a file that holds another endpoint)."""
        self._endpoint = endpoint
        state = await self._state()
        if state.endpoint != endpoint:
            if state.endpoint is not None and holds(state) and not self.force:
                raise self._other(state.endpoint, endpoint)
            return None
        if bytes(state.plan) == b"null":
            return None
        return ShardPlan.from_json(bytes(state.plan))

    async def save_plan(self, plan: ShardPlan) -> None:
        """Start the file over for ``plan``: no line, no reject, no position; the plan kept."""
        self._endpoint = plan.endpoint
        state = self._file.state
        if state.endpoint not in (None, plan.endpoint) and holds(state) and not self.force:
            raise self._other(str(state.endpoint), plan.endpoint)
        data = plan.to_json()
        await in_thread(lambda: self._file.reset(plan.endpoint, data))

    async def positions(self, endpoint: Endpoint) -> dict[str, Stored]:
        """Every position stored for ``endpoint``."""
        self._endpoint = endpoint
        state = await self._state()
        return stored(state.positions) if state.endpoint == endpoint else {}

    async def commit(self, batch: Batch) -> int:
        """Append the batch's lines and rejects, then store its moves (a worker thread):
        the rejects stored (one whose bytes the file holds is not written again)."""
        stored = await in_thread(
            lambda: self._file.commit(
                batch.endpoint,
                batch.rows,
                batch.rejects,
                batch.moves,
                line_breaks=batch.line_breaks,
            )
        )
        return 0 if stored is None else stored


def _own_file(sidecar: Path, path: Path, rejects: Path) -> None:
    """Refuse a sidecar path that is the file itself or its rejects file."""
    for taken in (path, rejects):
        if os.path.abspath(sidecar) == os.path.abspath(taken):
            raise InvalidParameterError(
                "state",
                f"must be a file of its own, not {taken} (the sidecar would be written over "
                "it): give another path, or leave it out for "
                f"{path.name}.checkpoint beside the file",
            )
