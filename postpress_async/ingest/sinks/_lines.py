"""A durable append-only JSON lines file and its sidecar: the one writer of the file sinks.

``FILE`` holds one JSON line an item (``data`` as the API sent it, then ``\\n``); its
sidecar (``FILE.checkpoint``, or any path given) is one JSON document, replaced
atomically, that vouches for it (:class:`Sidecar`, version 2)::

    {"version": 2, "endpoint": "messages",
     "offset": 1048576, "count": 2500,            # bytes of FILE that are complete; lines
     "rejects_offset": 412, "rejects": 1,         # the same for FILE.rejects.jsonl
     "plan": {...the ShardPlan...} | null,
     "positions": {"all": {"position": {...Checkpoint...}, "items": 2501, "pages": 11},
                   "follow": {"position": {...WatchState...}, "items": 0, "pages": 0}}}

A commit appends the batch's lines (a ``writev`` a page of them, one fsync), then its rejects
to ``FILE.rejects.jsonl`` (fsynced; a reject is known by its bytes, and one whose bytes
the file already holds is not written again: the digests of the file's rejects are read
once, at the first commit that brings one, see :func:`held_rejects`), then replaces the
sidecar with every position moved (a temporary file written and fsynced, renamed over it). The invariant, as the CLI's
exporter kept it: **the first ``offset`` bytes of FILE hold exactly the rows before the
stored positions, and they are on disk before the sidecar that names them.** A crash
between the two leaves the old sidecar: the next writer cuts FILE back to its offset
(the lines after it were never vouched for) and the pages are fetched again; a write
the OS refuses (a full disk) is cut back at once, so a reader meets whole lines. A FILE
*shorter* than its offset lost lines the positions count as stored: refused, never
padded.

The rename is not followed by a sync of the directory on every commit (that is one
fsync of three, a third of a small commit's wall time): a rename is atomic, so a power
cut before the directory reaches the disk leaves the previous sidecar, whose offset
ends before the newer lines, which are cut and fetched again: progress may be lost,
never mixed or doubled, as with the SQLite sink's ``synchronous=NORMAL``. The next
commit's fsyncs usually carry the rename along (a journaling file system commits its
metadata in order); :meth:`LinesFile.close` syncs the directory, and a sidecar that is
created (a new file, a new plan) is synced at once, so a file is never left without one.

Blocking calls, for a worker thread: :class:`LinesFile` serialises them with a lock.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

import msgspec

from postpress_async._durable import fsync_dir, replace_file, write_atomic
from postpress_async._exceptions import ShardConflictError, SinkUnavailableError
from postpress_async._filelock import OutputLock, lock_output
from postpress_async._params import MAX_LIMIT
from postpress_async._rows import Reject, Row, digest

from ._base import Move, last_of_each
from ._sidecar import NULL, SIDECAR_VERSION, Sidecar, StoredPosition, count_lines, read_sidecar
from ._writev import write_all, write_failure

__all__ = [
    "NULL",
    "SIDECAR_VERSION",
    "LinesFile",
    "Sidecar",
    "StoredPosition",
    "count_lines",
    "held_rejects",
    "line_bytes",
    "reject_lines",
    "verdict",
    "write_lines",
]

_NL: Final = b"\n"
_BINARY: Final = getattr(os, "O_BINARY", 0)
_data = itemgetter(-1)


def line_bytes(rows: Sequence[Row], line_breaks: bool | None = None) -> list[bytes]:
    """The rows' JSON lines as buffers for ``writev``: each ``data`` then ``\\n``.

    One join over the whole batch (C speed, no per-item Python); a raw line break in an
    item (only possible as whitespace in pretty-printed JSON) would split its line: each
    item's CR and LF then become spaces (the same JSON value). ``line_breaks=False`` (the
    reader found none in the pages' bodies) skips looking; otherwise the joined bytes are
    checked: exactly ``len(rows) - 1`` newlines and no CR is the fast path.
    """
    if not rows:
        return []
    joined = _NL.join(map(_data, rows))
    if line_breaks is not False and (joined.count(_NL) != len(rows) - 1 or b"\r" in joined):
        joined = _NL.join([one_line(data) for data in map(_data, rows)])
    return [joined, _NL]


#: Rows joined into one buffer at a time: a full page. Pages queue behind a slow fsync
#: and are committed as one group (up to 17): joined whole, the group's copy would make
#: an export's peak memory grow with the largest group it meets, so with its length.
JOIN_ROWS: Final = MAX_LIMIT


def write_lines(fd: int, rows: Sequence[Row], line_breaks: bool | None = None) -> int:
    """Write the rows' JSON lines (see :func:`line_bytes`) to ``fd``, ``JOIN_ROWS`` rows
    joined at a time; the bytes written."""
    written = 0
    for start in range(0, len(rows), JOIN_ROWS):
        written += write_all(fd, line_bytes(rows[start : start + JOIN_ROWS], line_breaks))
    return written


def one_line(data: Any) -> bytes:
    """``data`` with its raw CR and LF (JSON whitespace only) replaced by spaces."""
    text = bytes(data)
    if b"\n" in text or b"\r" in text:
        return text.replace(b"\r", b" ").replace(b"\n", b" ")
    return text


def reject_lines(rejects: Sequence[Reject]) -> bytes:
    """``{"reason": "...", "item": <the raw JSON verbatim>}`` a line."""
    encode = msgspec.json.encode
    return b"".join(
        [
            b'{"reason":%b,"item":%b}\n' % (encode(reject.reason), one_line(reject.raw) or b"null")
            for reject in rejects
        ]
    )


_ITEM: Final = b',"item":'


def held_rejects(path: Path, offset: int) -> set[str]:
    """The digests of the rejects in the first ``offset`` bytes of a rejects file.

    Each line is ``{"reason":<a JSON string>,"item":<the item>}``: the item starts after
    the first ``,"item":`` (a JSON string escapes its quotes, so the reason holds none).
    """
    if not offset:
        return set()
    with path.open("rb") as file:
        held = file.read(offset)
    return {digest(line[line.index(_ITEM) + len(_ITEM) : -1]) for line in held.split(_NL) if line}


def _unheld(rejects: Sequence[Reject], held: set[str]) -> tuple[list[Reject], list[str]]:
    """The rejects whose bytes (as a line holds them) are not in ``held`` nor earlier in
    ``rejects``, and their digests."""
    kept: dict[str, Reject] = {}
    for reject in rejects:
        mark = digest(one_line(reject.raw) or b"null")
        if mark not in held and mark not in kept:
            kept[mark] = reject
    return list(kept.values()), list(kept)


def verdict(stored: dict[str, StoredPosition], moves: Sequence[Move], where: str) -> bool:
    """Compare-and-set of ``moves``: ``True`` to apply, ``False`` for a replay (all at ``new``).

    Raises :class:`ShardConflictError` when a position is neither where the writer read it
    nor where this batch leaves it: another writer moved it; nothing may be stored.
    """

    def held(name: str) -> bytes | None:
        found = stored.get(name)
        return None if found is None else bytes(found.position)

    if all(held(move.name) == move.previous for move in moves):
        return True
    if moves and all(held(move.name) == move.new for move in moves):
        return False
    # Name the position that is neither where the writer read it nor where it would go.
    moved = next(
        (m.name for m in moves if held(m.name) not in (m.previous, m.new)),
        next(m.name for m in moves if held(m.name) != m.previous),
    )
    raise ShardConflictError(
        f"{where}: the position {moved!r} moved since it was read (another writer is "
        "writing it); this batch is refused and nothing of it was stored"
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _ends_a_line(path: Path, offset: int) -> bool:
    """Whether byte ``offset`` of ``path`` (1-based: the last one vouched for) is ``\\n``."""
    with path.open("rb") as file:
        file.seek(offset - 1)
        return file.read(1) == _NL


class LinesFile:
    """One JSON lines file, its rejects file and its sidecar (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        sidecar: Path,
        *,
        legacy_plan: Path | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.path = path
        self.sidecar = sidecar
        self.rejects_path = path.with_name(path.name + ".rejects.jsonl")
        #: Where the previous ingest sink kept its plan (one file: ``FILE.plan.json``).
        self.legacy_plan = legacy_plan
        #: The endpoint the file's name says it holds (part files), for old sidecars.
        self.endpoint = endpoint
        self.state = Sidecar()
        #: What was converted when the sidecar was read (``None``: it was version 2).
        self.upgraded: str | None = None
        self._lock = threading.Lock()
        self._writer: OutputLock | None = None
        self._fd: int | None = None
        self._rejects_fd: int | None = None
        #: The digests of the rejects the file holds (read at the first commit of one).
        self._held: set[str] | None = None
        #: A commit failed half-way: cut both files back before the next one.
        self._dirty = False
        #: The sidecar was renamed since its directory was last synced.
        self._renamed = False

    @property
    def writing(self) -> bool:
        """Whether this file is open for writing (its lock held)."""
        return self._fd is not None

    # -- opening ----------------------------------------------------------------------

    def load(self, *, writer: bool = False) -> Sidecar | None:
        """Read the sidecar (converted in memory if old); ``None`` if there is none.

        Refuses a sidecar that cannot be read, and a file that is not vouched for (the
        remedy said as to a ``writer``, or to a reader such as verify, which has no
        ``--force``).
        """
        found = self._read()
        if found is None:
            beside = self.path.with_name(self.path.name + ".checkpoint")
            if _size(self.path) and beside != self.sidecar and beside.exists():
                raise SinkUnavailableError(
                    f"{self.path} was written with its sidecar beside it, {beside}, not "
                    f"{self.sidecar}: leave --state out to continue it, or choose "
                    "another file"
                )
            if _size(self.path):
                remedy = "add --force to overwrite" if writer else "nothing to compare"
                raise SinkUnavailableError(
                    f"{self.path} is not an export's file (no {self.sidecar.name}): "
                    f"{remedy}, or choose another file"
                )
            return None
        state, self.upgraded = found
        self._check_lengths(state, writer)
        return state

    def _read(self) -> tuple[Sidecar, str | None] | None:
        return read_sidecar(
            self.sidecar, self.path, legacy_plan=self.legacy_plan, endpoint=self.endpoint
        )

    def _check_lengths(self, state: Sidecar, writer: bool) -> None:
        remedy = "add --force to start over" if writer else "export again with --force"
        for path, offset in ((self.path, state.offset), (self.rejects_path, state.rejects_offset)):
            size = _size(path)
            if size < offset:
                raise SinkUnavailableError(
                    f"{path} is shorter than {self.sidecar} records ({size:,} < {offset:,} "
                    "bytes): it was cut or changed after the export wrote it, and lines the "
                    f"positions count as stored are gone; restore it, or {remedy}"
                )
            if offset and not _ends_a_line(path, offset):
                raise SinkUnavailableError(
                    f"{path} was changed inside what {self.sidecar} records (no line ends "
                    f"at byte {offset:,}, where its committed lines end): lines were added, "
                    "removed or edited by hand, and cutting it back there would leave half "
                    f"a line; restore it, or {remedy}"
                )

    def refresh(self) -> Sidecar:
        """The sidecar as on disk now (a reader's view; the writer's own state if writing)."""
        if self.writing:
            return self.state
        found = self._read()
        return Sidecar() if found is None else found[0]

    def open_writer(self, *, force: bool, lock: bool = True) -> None:
        """Take the file's lock, read the sidecar, cut both files back to what it vouches for.

        ``force``: a file that is not ours, shorter than its sidecar or with an unreadable
        sidecar starts over (truncated) instead of being refused. A sidecar of an older
        format is converted and written back as version 2.
        """
        with self._lock:
            if self.writing:
                return
            self._writer = lock_output(self.path) if lock else None
            try:
                self._open_locked(force)
            except BaseException:
                self._close_locked()
                raise

    def _open_locked(self, force: bool) -> None:
        try:
            state = self.load(writer=True)
        except SinkUnavailableError:
            if not force:
                raise
            state = None
        save = state is None or self.upgraded is not None
        self.state = state if state is not None else Sidecar()
        self._held = None  # read again if needed: another writer may have added some
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _BINARY, 0o666)
        if save:
            # Vouch for the file before the first line: a crash after an append must find
            # a sidecar, or the file would look like somebody else's.
            write_atomic(self.sidecar, msgspec.json.encode(self.state))
            if self.legacy_plan is not None and self.upgraded is not None:
                self.legacy_plan.unlink(missing_ok=True)
        self._cut()

    def _cut(self) -> None:
        """Cut FILE and the rejects file back to the sidecar's offsets (and seek there)."""
        assert self._fd is not None
        state = self.state
        if os.fstat(self._fd).st_size != state.offset:
            os.ftruncate(self._fd, state.offset)
            os.fsync(self._fd)
        os.lseek(self._fd, state.offset, os.SEEK_SET)
        if self._rejects_fd is None and (state.rejects_offset or self.rejects_path.exists()):
            self._rejects_fd = os.open(self.rejects_path, os.O_RDWR | os.O_CREAT | _BINARY, 0o666)
        if self._rejects_fd is not None:
            if os.fstat(self._rejects_fd).st_size != state.rejects_offset:
                os.ftruncate(self._rejects_fd, state.rejects_offset)
                os.fsync(self._rejects_fd)
            os.lseek(self._rejects_fd, state.rejects_offset, os.SEEK_SET)
        self._dirty = False

    # -- writing ----------------------------------------------------------------------

    def reset(self, endpoint: str, plan: bytes | None) -> None:
        """Start over: no line, no reject, no position; ``plan`` stored (a new export)."""
        with self._lock:
            self._require_writer()
            state = Sidecar(endpoint=endpoint, plan=NULL if plan is None else msgspec.Raw(plan))
            # The sidecar first: a crash before the cut leaves a longer file, cut at open.
            try:
                write_atomic(self.sidecar, msgspec.json.encode(state))
                self.state = state
                self._cut()
            except OSError as exc:
                self._dirty = True
                raise write_failure(self.path, exc) from exc
            self._held = set()

    def commit(
        self,
        endpoint: str,
        rows: Sequence[Row],
        rejects: Sequence[Reject],
        moves: Sequence[Move],
        *,
        current: dict[str, StoredPosition] | None = None,
        line_breaks: bool | None = None,
        held: set[str] | None = None,
    ) -> int | None:
        """Append ``rows`` and ``rejects``, then store ``moves``: the rejects written,
        ``None`` for a replay (nothing written).

        ``current``: the positions the moves continue from, when they are not all in this
        sidecar (part files: see :class:`~.files.PartFilesSink`); default, this sidecar's.
        ``line_breaks``: the batch's (see :func:`line_bytes`). ``held``: the digests of
        the rejects the store holds (part files: every part's), default this file's; a
        reject among them is not written again, and those written are added.
        """
        with self._lock:
            self._require_writer()
            state = self.state
            if state.endpoint is not None and state.endpoint != endpoint:
                raise SinkUnavailableError(
                    f"{self.path} holds {state.endpoint}; a file holds one endpoint: "
                    f"write {endpoint} to another file"
                )
            before = state.positions if current is None else current
            if not verdict(before, moves, str(self.path)):
                return None
            positions = dict(state.positions)
            for move in moves:
                msgspec.json.decode(move.new)  # a position must be JSON: the sidecar embeds it
                old = before.get(move.name)
                positions[move.name] = StoredPosition(
                    position=msgspec.Raw(move.new),
                    items=move.items + (old.items if old else 0),
                    pages=move.pages + (old.pages if old else 0),
                    seq=1 + (old.seq if old else 0),
                )
            rows = last_of_each(rows)
            marks: list[str] = []
            if rejects:
                if held is None:
                    held = self.held_rejects()
                rejects, marks = _unheld(rejects, held)
            rejected = reject_lines(rejects)
            try:
                new = self._append(state, endpoint, rows, line_breaks, rejected, len(rejects))
                new.positions = positions
                self.write_sidecar(new)
            except BaseException as exc:
                self._dirty = True  # the next commit cuts what this one left after the offset
                if isinstance(exc, OSError):
                    with contextlib.suppress(OSError):  # now (a full disk ends the run):
                        self._cut()  # until a next run, a reader meets whole lines only
                    raise write_failure(self.path, exc) from exc
                raise
            self.state = new
            if held is not None:
                held.update(marks)
            return len(rejects)

    def held_rejects(self) -> set[str]:
        """The digests of the rejects this file holds, read once (kept up to date after)."""
        if self._held is None:
            self._held = held_rejects(self.rejects_path, self.state.rejects_offset)
        return self._held

    def _append(
        self,
        state: Sidecar,
        endpoint: str,
        rows: Sequence[Row],
        line_breaks: bool | None,
        rejected: bytes,
        rejects: int,
    ) -> Sidecar:
        """Append lines and rejects durably; the sidecar state that vouches for them."""
        assert self._fd is not None
        if self._dirty:
            self._cut()
        written = write_lines(self._fd, rows, line_breaks)
        if written:
            os.fsync(self._fd)
        if rejected:
            if self._rejects_fd is None:
                self._rejects_fd = os.open(
                    self.rejects_path, os.O_RDWR | os.O_CREAT | _BINARY, 0o666
                )
                os.lseek(self._rejects_fd, state.rejects_offset, os.SEEK_SET)
            write_all(self._rejects_fd, [rejected])
            os.fsync(self._rejects_fd)
        return Sidecar(
            endpoint=endpoint,
            offset=state.offset + written,
            count=state.count + len(rows),
            rejects_offset=state.rejects_offset + len(rejected),
            rejects=state.rejects + rejects,
            plan=state.plan,
        )

    def write_sidecar(self, state: Sidecar) -> None:
        """Replace the sidecar with ``state``: atomic, its directory synced at close (see
        the module docstring). A seam for crash tests."""
        replace_file(self.sidecar, msgspec.json.encode(state))
        self._renamed = True

    def _require_writer(self) -> None:
        if self._fd is None:
            raise SinkUnavailableError(
                f"{self.path} is not open for writing (opened with writer=False, or closed)"
            )

    def close(self) -> None:
        """Close the files and release the lock; closing again does nothing."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        for fd in (self._fd, self._rejects_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._rejects_fd = None
        if self._renamed:
            self._renamed = False
            fsync_dir(self.sidecar.parent)
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()
