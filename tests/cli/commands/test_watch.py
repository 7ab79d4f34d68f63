"""`postpress watch`: new items as JSON lines to stdout, or exactly once into a store.

To stdout a watch prints and (with --state) saves its own position: at-least-once.
Into a store (--out FILE [--state STATE], --to URL) it is ingest's follow without the
backfill: exactly once, across kill -9 and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest

from postpress_async import AsyncPostpress
from postpress_async.testing import fake_dataset
from tests.cli._helpers import (
    WAIT,
    cli_env,
    file_ids,
    lines,
    run,
    run_until,
    start,
    vouched_lines,
    wait_until,
)

LIVE = ["--fake", "--fake-live-rate", "400", "--fake-late-ms", "20", "--poll-interval", "0.01"]
# Oldest-first holds within what one poll finds; a message listed late (older than one
# already delivered) comes in a later poll, so the global order is checked on time only.
ON_TIME = [*LIVE[:3], "--fake-late-ms", "0", *LIVE[5:]]


def _count(path: Path) -> int:
    return len(file_ids(path)) if path.exists() else 0


# -- to stdout ------------------------------------------------------------------------------


def test_watch_prints_new_messages_once_oldest_first() -> None:
    result = run("watch", "messages", *ON_TIME, "--max-items", "6")
    assert result.returncode == 0, result.stderr
    got = lines(result.stdout)
    assert len(got) == 6
    assert len({message["id"] for message in got}) == 6
    stamps = [message["timestamp"] for message in got]
    assert stamps == sorted(stamps)


def test_a_stdout_state_continues_and_refuses_other_filters(tmp_path: Path) -> None:
    state = tmp_path / "new.state"
    first = run("watch", "messages", *LIVE, "--max-items", "2", "--state", str(state))
    assert first.returncode == 0, first.stderr
    assert json.loads(state.read_bytes())["items"] == 2
    again = run("watch", "messages", *LIVE, "--max-items", "3", "--state", str(state))
    assert again.returncode == 0, again.stderr
    assert json.loads(state.read_bytes())["items"] == 5
    account = "acc_01HX4G4Q610000000000000000"
    other = run("watch", "messages", *LIVE, "--account-id", account, "--state", str(state))
    assert other.returncode == 2
    assert b"saved by another watch" in other.stderr


def test_a_watch_to_stdout_goes_past_an_item_it_cannot_read_and_says_so() -> None:
    """A bad record no longer stops the watch for good (a re-run met it again): every
    readable message is printed once, and each unreadable one is a warning on stderr."""
    dataset = fake_dataset(seed=1, messages=40, bad_records=True)
    unreadable = {bad.id for bad in dataset.bad_messages() if not bad.readable}
    readable = set(dataset.expected_message_ids()) - unreadable
    result = run(
        "watch", "messages", "--fake", "--fake-messages", "40", "--fake-bad-records",
        "--fake-live-rate", "0.001", "--poll-interval", "0.01",
        "--since", "2000-01-01T00:00:00Z", "--max-items", str(len(readable)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = [message["id"] for message in lines(result.stdout)]
    assert sorted(printed) == sorted(readable)
    warnings = [line for line in result.stderr.decode().splitlines() if line]
    assert len(warnings) >= len(unreadable), warnings  # said again if listed again
    assert all(line.startswith("warning: ") and "$.items[" in line for line in warnings)


@pytest.mark.parametrize(
    ("place", "verb"),
    [
        pytest.param("missing/new.state", "cannot write", id="missing-directory"),
        pytest.param(".", "cannot read", id="a-directory"),
    ],
)
def test_a_state_file_the_os_refuses_is_refused_before_anything_is_printed(
    tmp_path: Path, place: str, verb: str
) -> None:
    """Exit 2 naming STATE and the OS's reason, and no claim that a position was saved."""
    state = tmp_path / place
    result = run("watch", "messages", *LIVE, "--max-items", "2", "--state", str(state))
    assert result.returncode == 2, result.stderr
    text = result.stderr.decode()
    assert str(state) in text and verb in text
    assert "saved" not in text
    assert text.count("\n") == 1, text
    assert result.stdout == b""


# -- into a store ---------------------------------------------------------------------------


def test_watch_into_a_file_is_exactly_once_and_continues(tmp_path: Path) -> None:
    """`--out FILE --state STATE`: Ctrl-C (130) leaves FILE as STATE vouches; the same
    command continues, appending only new messages."""
    out, state = tmp_path / "new.jsonl", tmp_path / "new.state"
    watch = ["watch", "messages", *LIVE, "--out", str(out), "--state", str(state)]
    first = run_until(lambda: vouched_lines(out, state) >= 5, *watch)
    assert first.returncode == 130, first.stderr
    assert first.stdout == b""
    assert first.stderr.count(b"interrupted") == 1
    assert b"Run the same command to continue" in first.stderr
    assert json.loads(state.read_bytes())["offset"] == out.stat().st_size
    kept = _count(out)
    again = run_until(lambda: vouched_lines(out, state) >= kept + 5, *watch)
    assert again.returncode == 130, again.stderr
    got = file_ids(out)
    assert len(got) == len(set(got)) >= kept + 5
    assert not out.with_name("new.jsonl.checkpoint").exists(), "the sidecar is at --state"


def test_a_watch_state_of_the_previous_release_is_converted(tmp_path: Path) -> None:
    """A v1 `--state` file (the watch's position and the file's offset) goes on as it was."""
    out, state = tmp_path / "new.jsonl", tmp_path / "new.state"
    printed = run("watch", "messages", *LIVE, "--max-items", "4", "--state", str(state))
    assert printed.returncode == 0, printed.stderr
    out.write_bytes(printed.stdout)  # what the old `watch --out FILE --state STATE` wrote
    old = json.loads(state.read_bytes())
    assert old["version"] == 1
    old["offset"] = len(printed.stdout)
    state.write_bytes(msgspec.json.encode(old))
    watch = ["watch", "messages", *LIVE, "--out", str(out), "--state", str(state)]
    result = run_until(lambda: vouched_lines(out, state) >= 8, *watch)
    assert result.returncode == 130, result.stderr
    got = file_ids(out)
    assert got[:4] == [obj["id"] for obj in lines(printed.stdout)]
    assert len(got) == len(set(got)) >= 8
    assert json.loads(state.read_bytes())["version"] == 2


def stored(db: Path) -> int:
    """The messages a SQLite store holds so far (0 before its table exists)."""
    try:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_watch_into_sqlite_commits_each_batch_with_its_position(tmp_path: Path) -> None:
    db = tmp_path / "m.db"

    watch = ["watch", "messages", *LIVE, "--to", f"sqlite:///{db}"]
    result = run_until(lambda: stored(db) >= 5, *watch)
    assert result.returncode == 130, result.stderr
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (position,) = conn.execute(
            "SELECT position FROM positions WHERE endpoint = 'messages' AND name = 'follow'"
        ).fetchone()
    assert json.loads(position)["kind"] == "messages"


def test_watch_into_a_store_tells_the_runs_notes(tmp_path: Path) -> None:
    """A store that already follows ignores --since, and says so on stderr as export does."""
    db = tmp_path / "m.db"

    watch = ["watch", "messages", *LIVE, "--to", f"sqlite:///{db}"]
    first = run_until(lambda: stored(db) >= 3, *watch)
    assert first.returncode == 130, first.stderr
    assert b"note:" not in first.stderr
    kept = stored(db)
    again = run_until(lambda: stored(db) >= kept + 3, *watch, "--since", "2026-01-01T00:00:00Z")
    assert again.returncode == 130, again.stderr
    assert again.stderr.count(b"note: --since ignored: the store follows from its own") == 1
    assert b"force" not in again.stderr, "a watch has no --force"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--since", "2026-05-01T00:00:00"], b"no time zone", id="naive-since"),
        pytest.param(
            ["--since", "yesterday"],
            b"error: --since: not an ISO 8601 datetime: 'yesterday' (expected e.g. "
            b"2025-12-31T23:59:59.999Z, 2025-12-31 23:59+01:00, 2025-12-31 or "
            b"20251231T235959Z), or give 'now'",
            id="bad-since-names-now",
        ),
        pytest.param(
            ["--poll-interval", "0"], b"must be a finite number > 0, got 0", id="zero-interval"
        ),
        pytest.param(["--limit", "0"], b"limit", id="limit"),
        pytest.param(["--to", "sqlite:///x.db", "--state", "s"], b"--state goes", id="state"),
        pytest.param(["--to", "sqlite:///x.db", "--out", "x.jsonl"], b"not both", id="both"),
        pytest.param(["--out", "x.jsonl", "--max-items", "3"], b"--max-items", id="max-items"),
        pytest.param(["--to", "x.db"], b"sqlite:///x.db", id="a-path-that-means-sqlite"),
    ],
)
def test_bad_options_are_refused_before_anything_starts(
    args: list[str], message: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("watch", "messages", "--fake", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == [], "nothing written"


@pytest.mark.parametrize("now", ["NOW", "Now", " now "])
def test_since_now_is_read_in_any_case(now: str) -> None:
    """``--since NOW`` is the documented 'now', not a datetime that fails to parse."""
    from postpress_async.cli.commands.watch import since_of

    assert since_of(now) == "now"


def test_help_says_what_stdout_and_a_store_promise() -> None:
    result = run("watch", "messages", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.decode().split())
    assert "at-least-once" in text
    assert "exactly once" in text
    assert "never this machine's clock" in text


# -- real processes: kill -9, Ctrl-C -------------------------------------------------------


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


def _written(out: Path, state: Path, at_least: int) -> bool:
    return vouched_lines(out, state) >= at_least


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
    """A live server (bursts, late listings); the watcher is killed twice, then caught up."""
    since = datetime.now(timezone.utc)
    server, url = _fake_server("--live-rate", "100", "--late-ms", "80", "--live-for", "5")
    feed_ends = time.monotonic() + 5  # its arrivals are random: it may pause before that
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
                wait_until(functools.partial(_written, out, state, at_least), f"{at_least} lines")
            finally:
                _end(process, signal.SIGKILL)
        assert server.poll() is None
        await _sleep(max(0.0, feed_ends - time.monotonic()))
        expected: list[str] = []
        for _ in range(100):  # until the feed has stopped and its late messages are listed
            listed = await _listed(url, since)
            if listed and listed == expected:
                break
            expected = listed
            await _sleep(0.5)
        # Lines this run writes (so it runs its follow when the Ctrl-C comes), unless the
        # killed ones already caught up.
        if vouched_lines(out, state) < len(expected):
            process = start(*watch)
            try:
                wait_until(
                    functools.partial(_written, out, state, len(expected)), "caught up with the API"
                )
            finally:
                code, err = _end(process, signal.SIGINT)
            assert code == 130, err
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
        wait_until(lambda: vouched_lines(out, state) >= 5, "5 lines")
    finally:
        code, err = _end(process, signal.SIGINT)
    assert code == 130, err
    assert err.count(b"interrupted") == 1, err
    assert b"Run the same command to continue" in err
    saved = json.loads(state.read_bytes())
    assert saved["offset"] == out.stat().st_size
