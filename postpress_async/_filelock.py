"""One writer per output: an OS file lock held for as long as something writes there.

Two exports aimed at the same file would interleave their lines and overwrite each
other's checkpoint. :func:`lock_output` takes an exclusive, non-blocking lock on the
file itself (created empty if missing, never truncated): ``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows. A second writer, in this process or another, is refused
at once with :class:`OutputLockedError`. The kernel drops the lock when the process
ends, however it ends, so a ``kill -9`` never leaves a stale lock behind and a
``--resume`` afterwards just works. A sink that writes a directory locks one file in it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

from ._exceptions import OutputLockedError

__all__ = ["OutputLock", "lock_output"]

#: Windows locks byte ranges, and a locked range refuses other handles' writes too; a
#: byte far past any real output keeps the lock off the data.
_WINDOWS_LOCK_OFFSET = 0x7FFF_FFFE


class OutputLock:
    """An exclusive lock on one file, released by :meth:`release` or at process exit."""

    __slots__ = ("_fd", "path")

    def __init__(self, path: Path, fd: int) -> None:
        self.path: Path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """Whether this lock is still held."""
        return self._fd is not None

    def release(self) -> None:
        """Let the next writer in; releasing again does nothing."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock (flock and msvcrt alike)

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"OutputLock({str(self.path)!r}, held={self.held})"


def lock_output(path: str | os.PathLike[str]) -> OutputLock:
    """Lock ``path`` for writing, or raise OutputLockedError if another writer holds it.

    The file is created (empty) if it does not exist and is never truncated here.
    Hold the returned lock for the whole write, e.g. ``with lock_output(out): ...``.
    """
    target = Path(path)
    fd = os.open(target, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    try:
        locked = _try_lock(fd)
    except BaseException:
        os.close(fd)
        raise
    if not locked:
        os.close(fd)
        raise OutputLockedError(str(target))
    return OutputLock(target, fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        # flock, not fcntl/lockf: its locks belong to the open file, so a second open in
        # this same process is refused too, and closing another descriptor of the file
        # does not drop it.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
