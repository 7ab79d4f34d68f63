"""Real servers for the slow tests: a throwaway PostgreSQL cluster, started and stopped here.

PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
user (``runuser``) in a temp directory it owns. A component missing from the machine
skips the test, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def missing(what: str) -> None:
    """Skip for a component the platform lacks; in CI, fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must provide {what}")
    pytest.skip(f"{what} is not available here")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A running PostgreSQL on a free port with trust auth; yields the superuser's DSN."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        missing("PostgreSQL (initdb, pg_ctl)")
    assert initdb is not None and pg_ctl is not None
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    top = Path(tempfile.mkdtemp(prefix="postpress-pg-"))
    data, sockets = top / "data", top / "run"
    sockets.mkdir()
    if as_root:
        shutil.chown(top, "postgres")
        shutil.chown(sockets, "postgres")
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"], **run
    )
    port = _start(prefix, pg_ctl, data, sockets, top / "log")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        pid_file = data / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], **run)
        if postmaster is not None and _alive(postmaster):  # never leave our server behind
            os.kill(postmaster, signal.SIGKILL)
        shutil.rmtree(top, ignore_errors=True)


def _start(prefix: list[str], pg_ctl: str, data: Path, sockets: Path, log: Path) -> int:
    """Start the cluster on a free port; its port. A port probed free can be taken before
    the server binds it (by any process on the machine): then a new one, three times."""
    for attempt in range(3):
        port = free_port()
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]
        started = subprocess.run(command, capture_output=True, timeout=120, check=False)
        if started.returncode == 0:
            return port
        taken = "could not bind" in (log.read_text() if log.exists() else "")
        if not taken or attempt == 2:
            started.check_returncode()
    raise AssertionError("unreachable")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
