"""Writing buffers to a file descriptor in as few system calls as possible.

The file sinks append a batch's lines (and write a sidecar) with :func:`write_all`: one
``os.writev`` for up to ``IOV_MAX`` buffers, a short write resumed where it stopped
(``os.write`` a buffer where there is no ``writev``: Windows); :func:`write_failure` is
the error a write the OS refuses becomes.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from postpress_async._exceptions import SinkFailedError

__all__ = ["write_all", "write_failure"]


def _iov_max() -> int:
    """Buffers one ``os.writev`` call takes at most (Linux and macOS: 1024; POSIX: >= 16)."""
    try:
        limit = os.sysconf("SC_IOV_MAX")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - Windows, odd platforms
        return 16
    return limit if limit > 0 else 1024


_IOV_MAX: Final = _iov_max()
_writev = getattr(os, "writev", None)


def write_all(fd: int, chunks: Sequence[Any]) -> int:
    """Write ``chunks`` to ``fd`` in order in as few system calls as possible; bytes written.

    In a worker thread each system call gives up the GIL and must win it back from the
    busy event loop, so the number of calls, not the bytes, is what a commit pays.
    """
    views = [memoryview(chunk) for chunk in chunks if len(chunk)]
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


def write_failure(path: Path, exc: OSError) -> SinkFailedError:
    """The OS refused a write to the store at ``path``: the error naming it, and the cause."""
    cause = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return SinkFailedError(
            f"{path}: the disk is full ({cause}): free some space, then run the same "
            "command again (what was committed stays)"
        )
    return SinkFailedError(
        f"{path}: writing failed ({cause}); what was committed stays: fix the cause, then "
        "run the same command again"
    )
