"""Running the CLI, in this process or as a subprocess, and reading what it wrote.

Most tests call :func:`run`: ``postpress_async.cli.main(argv)`` in this process with its
own stdout, stderr and environment (tens of milliseconds, not a second of interpreter
start-up). Only what needs a real process (signals, ``kill -9``, a closed pipe) uses
:func:`start` or :func:`run_process`, and is marked ``slow``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

from postpress_async.cli import main
from postpress_async.testing import Dataset, fake_dataset

#: The CLI's --fake defaults: seed 1, 1000 messages.
SEED = 1
DATASET = fake_dataset(seed=SEED, messages=1000)
WAIT = 30.0  # upper bound on any wait for a subprocess; never reached when things work


def cli_env(**extra: str) -> dict[str, str]:
    """The environment without any postpress settings of the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTPRESS_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclasses.dataclass(frozen=True)
class Result:
    """What a finished CLI run left: its exit code and everything it wrote."""

    returncode: int
    stdout: bytes
    stderr: bytes


def run(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """Run the CLI to completion in this process, as ``postpress ARGS`` would in a shell.

    The environment is this process's without any ``POSTPRESS_*`` variable, plus ``env``;
    stdout and stderr are fresh pipes-like buffers (not terminals). From a coroutine, use
    :func:`arun`: the CLI runs its own event loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("run() inside an event loop: use `await arun(...)`")
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", newline="\n", write_through=True)
    logger = logging.getLogger("postpress_async")
    handlers, level = list(logger.handlers), logger.level
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POSTPRESS_")}
    try:
        with (
            mock.patch.dict(os.environ, {**environ, **(env or {})}, clear=True),
            mock.patch.object(sys, "stdout", stdout),
            mock.patch.object(sys, "stderr", stderr),
        ):
            code = main(list(args))
        return Result(code, out.getvalue(), err.getvalue())
    finally:
        logger.handlers[:] = handlers  # --debug adds a handler on the captured stderr
        logger.setLevel(level)


def run_until(
    condition: Callable[[], bool], *args: str, env: Mapping[str, str] | None = None
) -> Result:
    """:func:`run` a command that runs until stopped (a follow), and Ctrl-C it once
    ``condition()`` holds (or after ``WAIT`` seconds, so a broken CLI fails, not hangs).

    The SIGINT comes from another thread, as a terminal's would: the CLI's own handler
    in this (the main) thread turns it into a clean stop, exit 130.
    """
    done = threading.Event()

    def interrupt() -> None:
        deadline = time.monotonic() + WAIT
        while not done.wait(0.01):
            if condition() or time.monotonic() > deadline:
                os.kill(os.getpid(), signal.SIGINT)
                return

    watcher = threading.Thread(target=interrupt)
    watcher.start()
    try:
        return run(*args, env=env)
    finally:
        done.set()
        watcher.join()


async def arun(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """:func:`run` from a coroutine: the CLI's event loop runs in a worker thread."""
    return await asyncio.to_thread(run, *args, env=env)


def run_process(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m postpress_async ARGS`` as a real process (for ``slow`` tests)."""
    return subprocess.run(
        [sys.executable, "-m", "postpress_async", *args],
        capture_output=True,
        env=cli_env(),
        timeout=WAIT * 2,
        check=False,
    )


def start(*args: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the CLI in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "postpress_async", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=cwd,
    )


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds (bounded, so a broken CLI fails instead of hanging)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


def lines(data: bytes) -> list[dict[str, Any]]:
    """JSON lines -> objects. Split on ``\\n`` only: U+2028 inside a string is not a line end."""
    return [json.loads(line) for line in data.split(b"\n") if line]


def ids(data: bytes) -> list[str]:
    return [obj["id"] for obj in lines(data)]


def vouched_lines(out: Path, state: Path | None = None) -> int:
    """Lines of ``out`` its sidecar (``state``, or ``out.checkpoint``) vouches for, 0 before
    the first commit. What a reader of a file being written may count: an append in progress,
    or one a ``kill -9`` cut, can end the file with half a line the sidecar does not name."""
    state = state or out.with_name(out.name + ".checkpoint")
    try:
        offset = int(json.loads(state.read_bytes())["offset"])
    except (FileNotFoundError, ValueError, KeyError):
        return 0
    with open(out, "rb") as file:
        return file.read(offset).count(b"\n")


def file_ids(path: Path) -> list[str]:
    """Ids of a JSON lines file no writer is appending to; fails on a partial or unreadable
    line."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the file ends with a partial line"
    return ids(data)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_messages_match(objects: Sequence[dict[str, Any]], dataset: Dataset) -> None:
    """Each output message carries the dataset's values for its key fields."""
    for obj in objects:
        index = dataset.find_message(obj["id"])
        assert index is not None, obj["id"]
        wire = json.loads(dataset.message_json(index))
        for key in ("chat_id", "account_id", "sender_id", "text", "provider_id"):
            assert obj.get(key) == wire.get(key), (obj["id"], key)
        assert moment(obj["timestamp"]) == moment(wire["timestamp"])
