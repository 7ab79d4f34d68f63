"""Ctrl-C: "interrupted" once, exit 130, however the stop reaches the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from typing import Any

import pytest

from postpress_async.cli import ExitCode, _app
from tests.helpers import asyncpg_or_skip

from ._helpers import WAIT, run


def _with_command(
    monkeypatch: pytest.MonkeyPatch, command: Any, *, hint: bool | None = True
) -> list[str]:
    """Make ``postpress accounts list`` run ``command``; return the stops a hint was asked for.

    ``hint``: True, the command prints a hint when it stops; False, its hint has nothing
    to say; None, it has no hint.
    """
    hints: list[str] = []
    parse = _app.parse

    def stopped(args: argparse.Namespace, argv: list[str], what: str) -> bool:
        hints.append(what)
        if hint:
            print(f"{what}; the position is kept", file=sys.stderr)
        return bool(hint)

    def parsed(argv: list[str]) -> argparse.Namespace:
        args = parse(argv)
        args.run = command
        if hint is not None:
            args.stopped = stopped
        return args

    monkeypatch.setattr(_app, "parse", parsed)
    return hints


async def _ctrl_c(args: argparse.Namespace, ctx: object) -> None:
    """A command stopped by Ctrl-C while it waits."""
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.sleep(WAIT)


# The second Ctrl-C may land while asyncio.run awaits its executor's shutdown: asyncio
# then leaves that coroutine unawaited, which Python reports when it is collected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_second_ctrl_c_during_the_shutdown_says_interrupted_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first Ctrl-C cancels the command; a second one while asyncio.run waits for a worker
    thread raises KeyboardInterrupt out of it. Both are the same stop: one line, one hint."""
    cancelled, release = threading.Event(), threading.Event()

    def worker() -> None:
        assert cancelled.wait(WAIT)
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C: asyncio.run waits for us
        release.wait(WAIT)

    async def command(args: argparse.Namespace, ctx: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C
        try:
            await asyncio.to_thread(worker)
        finally:
            cancelled.set()

    hints = _with_command(monkeypatch, command)
    try:
        result = run("accounts", "list")
    finally:
        release.set()
    assert result.returncode == ExitCode.INTERRUPTED
    assert result.stderr.decode().count("interrupted") == 1, result.stderr
    assert hints == ["interrupted"]


def test_ctrl_c_says_interrupted_once_and_asks_for_the_hint_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hints = _with_command(monkeypatch, _ctrl_c)
    result = run("accounts", "list")
    assert result.returncode == 130
    assert result.stderr == b"interrupted; the position is kept\n"
    assert hints == ["interrupted"]


def test_a_command_without_a_hint_says_just_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_command(monkeypatch, _ctrl_c, hint=None)
    result = run("accounts", "list")
    assert result.returncode == 130
    assert result.stderr == b"interrupted\n"


def test_a_hint_that_has_nothing_to_say_leaves_just_interrupted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _with_command(monkeypatch, _ctrl_c, hint=False)
    result = run("accounts", "list")
    assert result.returncode == 130
    assert result.stderr == b"interrupted\n"


def test_asyncio_run_failing_after_a_second_ctrl_c_is_still_the_interruption(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second Ctrl-C during asyncio.run's shutdown can leave its loop stopped under a
    later step, which raises "Event loop stopped before Future completed" (its context:
    the KeyboardInterrupt). That is the same stop: 130 and one line, not an error."""
    real = asyncio.run

    def run_then_fail(main: Any) -> Any:
        real(main)
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("Event loop stopped before Future completed.") from None

    hints = _with_command(monkeypatch, _ctrl_c)
    monkeypatch.setattr(asyncio, "run", run_then_fail)
    result = run("accounts", "list")
    assert result.returncode == 130, result.stderr
    assert result.stderr == b"interrupted; the position is kept\n"
    assert hints == ["interrupted"]


async def _terminated(args: argparse.Namespace, ctx: object) -> None:
    """A command stopped by SIGTERM (docker stop, systemd, kill) while it waits."""
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(WAIT)


def test_sigterm_stops_cleanly_with_the_documented_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """143, as a container's stop expects; an exit code of the one table, listed by --help."""
    hints = _with_command(monkeypatch, _terminated)
    result = run("accounts", "list")
    assert result.returncode == ExitCode.TERMINATED == 128 + signal.SIGTERM
    assert result.stderr == b"interrupted; the position is kept\n"
    assert hints == ["interrupted"]
    listed = " ".join(run("--help").stdout.decode().split()).split("exit codes:", 1)[1]
    assert f" {int(ExitCode.TERMINATED)} " in listed


@pytest.mark.slow  # needs asyncpg, which CI's slow stage installs
@pytest.mark.parametrize("command", ["export", "watch"])
def test_the_resume_hint_never_shows_the_stores_password(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the store's database does not answer yet: the hint names the store as
    its summary would, without the password of the URL on the command line."""
    asyncpg_or_skip()
    import socket

    from postpress_async.ingest.sinks import _pg

    from ._helpers import run_until

    monkeypatch.setattr(_pg, "CONNECT_GRACE", 0.05)  # the silent server never finishes it

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        silent.setblocking(False)
        port = silent.getsockname()[1]
        accepted: list[socket.socket] = []

        def connecting() -> bool:
            try:
                accepted.append(silent.accept()[0])
            except BlockingIOError:
                return False
            return True

        url = f"postgresql://etl:s3cret@127.0.0.1:{port}/pp"
        result = run_until(connecting, "--fake", command, "messages", "--to", url)
        for conn in accepted:
            conn.close()
    assert result.returncode == ExitCode.INTERRUPTED, result.stderr
    text = result.stderr.decode()
    assert f"postgresql://etl@127.0.0.1:{port}/pp" in text, text
    assert "s3cret" not in text, text
