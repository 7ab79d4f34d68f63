"""One writer per output: the OS lock behind ``postpress export`` (and any sink)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from postpress_async import OutputLockedError
from postpress_async._filelock import lock_output


def test_a_second_writer_is_refused_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with lock_output(out) as lock:
        assert lock.held
        with pytest.raises(OutputLockedError, match="being written by another export") as caught:
            lock_output(out)
    assert caught.value.path == str(out)
    assert not lock.held


def test_the_lock_is_free_again_after_release(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lock_output(out).release()
    with lock_output(out):
        pass


def test_locking_creates_but_never_truncates(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with lock_output(out):
        assert out.read_bytes() == b""
    out.write_bytes(b"kept\n")
    with lock_output(out):
        assert out.read_bytes() == b"kept\n"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    """The kernel drops the lock with the process: kill -9 never blocks the next run."""
    out = tmp_path / "out.jsonl"
    code = (
        "import sys; from postpress_async import lock_output\n"
        f"lock = lock_output({str(out)!r}); print('locked', flush=True); sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(OutputLockedError):
            lock_output(out)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()
    with lock_output(out):
        pass
