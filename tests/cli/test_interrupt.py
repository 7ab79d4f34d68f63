"""Ctrl-C: "interrupted" once, exit 130, however the stop reaches the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import threading
from typing import Any

import pytest

from postpress_async.cli import ExitCode, _app

from ._helpers import WAIT, run


def _with_command(monkeypatch: pytest.MonkeyPatch, command: Any) -> list[str]:
    """Make ``postpress accounts list`` run ``command``; return the hints it is asked for."""
    hints: list[str] = []
    parse = _app.parse

    def parsed(argv: list[str]) -> argparse.Namespace:
        args = parse(argv)
        args.run = command
        args.stopped = lambda args, argv, what: hints.append(what)
        return args

    monkeypatch.setattr(_app, "parse", parsed)
    return hints


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
    async def command(args: argparse.Namespace, ctx: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(WAIT)

    hints = _with_command(monkeypatch, command)
    result = run("accounts", "list")
    assert result.returncode == 130
    assert result.stderr == b"interrupted\n"
    assert hints == ["interrupted"]
