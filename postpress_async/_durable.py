"""Durable file writes: a file replaced whole (temp file, fsync, rename, fsync the directory).

The file sinks' sidecars (and the stdout watch's ``--state``) rely on it: after a crash at
any instant the file holds the old content or the new, never a mix.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["fsync_dir", "replace_file", "write_atomic"]


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (where the platform can).

    A file's own ``fsync`` does not persist its directory entry: call this after creating,
    renaming or removing a file whose presence must survive a crash. A no-op where the
    platform or file system cannot sync a directory (Windows).
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open a directory (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse to sync a directory
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file whole.

    ``data`` goes to a temporary file beside ``path`` (unique to this process), is synced,
    renamed over ``path`` and the directory is synced: a reader, or a run after a crash
    or ``kill -9``, sees the previous content or ``data``, never a mix or an empty file.
    It is what the CLI's export checkpoint and ``postpress watch --state`` use::

        write_atomic(Path("state.json"), msgspec.json.encode(stream.checkpoint))
    """
    replace_file(path, data)
    fsync_dir(path.parent)


def replace_file(path: Path, data: bytes) -> None:
    """:func:`write_atomic` but the directory's sync, left to the caller (a store syncs
    its directory once, at close): a synced temporary file renamed over ``path``; on a
    failure (a full disk) the temporary file is removed, ``path`` left as it was."""
    # Unique per process: two writers (or a stale file of a killed one) never share it.
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # a full disk: no half-written file left beside it
            temp.unlink()
        raise
