"""`postpress watch`: new messages as JSON lines; exactly once into a file across kill -9."""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from postpress_async import AsyncPostpress

from ._helpers import WAIT, cli_env, file_ids, lines, run, start, wait_until

LIVE = ["--fake", "--fake-live-rate", "400", "--fake-late-ms", "20", "--poll-interval", "0.01"]
# Oldest-first holds within what one poll finds; a message listed late (older than one
# already delivered) comes in a later poll, so the global order is checked on time only.
ON_TIME = [*LIVE[:3], "--fake-late-ms", "0", *LIVE[5:]]


def test_watch_prints_new_messages_once_oldest_first() -> None:
    result = run("watch", "messages", *ON_TIME, "--max-items", "6")
    assert result.returncode == 0, result.stderr
    got = lines(result.stdout)
    assert len(got) == 6
    assert len({message["id"] for message in got}) == 6
    stamps = [message["timestamp"] for message in got]
    assert stamps == sorted(stamps)


def test_watch_appends_to_a_file_and_continues_from_its_state(tmp_path: Path) -> None:
    out, state = tmp_path / "new.jsonl", tmp_path / "new.state"
    first = run(
        "watch", "messages", *LIVE, "--max-items", "5", "--out", str(out), "--state", str(state)
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout == b""
    again = run(
        "watch", "messages", *LIVE, "--max-items", "3", "--out", str(out), "--state", str(state)
    )
    assert again.returncode == 0, again.stderr
    got = file_ids(out)
    assert len(got) == len(set(got)) == 8
    saved = json.loads(state.read_bytes())
    assert saved["items"] == 8
    assert saved["offset"] == out.stat().st_size


def test_a_state_of_other_filters_is_refused(tmp_path: Path) -> None:
    out, state = tmp_path / "new.jsonl", tmp_path / "new.state"
    account = "acc_01HX4G4Q610000000000000000"
    first = run("watch", "messages", *LIVE, "--max-items", "1", "--state", str(state))
    assert first.returncode == 0, first.stderr
    other = run("watch", "messages", *LIVE, "--account-id", account, "--state", str(state))
    assert other.returncode == 2
    assert b"saved by another watch" in other.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--out", "x.jsonl"], b"--out needs --state", id="out-without-state"),
        pytest.param(["--since", "2026-05-01T00:00:00"], b"no time zone", id="naive-since"),
        pytest.param(["--poll-interval", "0"], b"must be > 0", id="zero-interval"),
        pytest.param(["--limit", "0"], b"limit", id="limit"),
    ],
)
def test_bad_options_are_refused_before_anything_starts(args: list[str], message: bytes) -> None:
    result = run("watch", "messages", "--fake", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_help_says_what_stdout_and_a_file_promise() -> None:
    result = run("watch", "messages", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.decode().split())
    assert "at-least-once" in text
    assert "exactly once" in text


# -- real processes: kill -9, Ctrl-C -----------------------------------------------------


def _fake_server(*extra: str) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "postpress_async.testing", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert process.stdout is not None
    ready = process.stdout.readline().decode()
    url = ready.split(" listening on ", 1)[1].split(" ", 1)[0]
    return process, url


def _count(path: Path) -> int:
    return len(file_ids(path)) if path.exists() else 0


def _written(path: Path, lines: int) -> bool:
    return _count(path) >= lines


async def _listed(url: str, since: datetime) -> list[str]:
    async with AsyncPostpress(api_key="pp_test_key", base_url=url) as client:
        return [m.id async for m in client.messages.list(after=since, limit=250)]


def _end(process: subprocess.Popen[bytes], sig: int) -> tuple[int, bytes]:
    """Send ``sig`` (if still running), wait, and close the pipes: the exit code and stderr."""
    if process.poll() is None:
        process.send_signal(sig)
    _, err = process.communicate(timeout=WAIT)
    return process.returncode, err


@pytest.mark.slow
async def test_kill_9_and_restarts_leave_every_new_message_in_the_file_once(
    tmp_path: Path,
) -> None:
    """A live server (bursts, late listings); the watcher is killed twice, then finishes."""
    since = datetime.now(timezone.utc)
    server, url = _fake_server("--live-rate", "100", "--late-ms", "80", "--live-for", "5")
    out, state = tmp_path / "new.jsonl", tmp_path / "new.state"
    watch = [
        "watch", "messages", "--base-url", url, "--api-key", "pp_test_key",
        "--since", since.isoformat(), "--out", str(out), "--state", str(state),
        "--poll-interval", "0.05", "--overlap", "2", "--limit", "50",
    ]  # fmt: skip
    try:
        for at_least in (20, 150):
            process = start(*watch)
            try:
                wait_until(functools.partial(_written, out, at_least), f"{at_least} lines")
            finally:
                _end(process, signal.SIGKILL)
        assert server.poll() is None
        expected: list[str] = []
        for _ in range(100):  # until the feed has stopped and its late messages are listed
            listed = await _listed(url, since)
            if listed and listed == expected:
                break
            expected = listed
            await _sleep(0.5)
        remaining = len(expected) - json.loads(state.read_bytes())["items"]
        if remaining:
            code, err = _end(start(*watch, "--max-items", str(remaining)), 0)
            assert code == 0, err
    finally:
        _end(server, signal.SIGINT)
    got = file_ids(out)
    assert len(got) > 150
    assert len(got) == len(set(got))
    assert set(got) == set(expected)


async def _sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)


@pytest.mark.slow
def test_ctrl_c_stops_with_130_and_the_state_saved(tmp_path: Path) -> None:
    out, state = tmp_path / "new.jsonl", tmp_path / "new.state"
    process = start("watch", "messages", *LIVE, "--out", str(out), "--state", str(state))
    try:
        wait_until(lambda: _count(out) >= 5, "5 lines")
    finally:
        code, err = _end(process, signal.SIGINT)
    assert code == 130, err
    assert b"Run the same command to continue" in err
    saved = json.loads(state.read_bytes())
    assert saved["items"] == len(file_ids(out))
    assert saved["offset"] == out.stat().st_size
