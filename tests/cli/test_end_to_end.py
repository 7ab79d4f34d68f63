"""The CLI as a user runs it: real processes against a fake API in another process.

The fake runs standalone (``python -m postpress_async.testing --port 0``) or in this
process (to read its request counter); the CLI always runs as its own process, with
``--base-url``/``--api-key`` as against the real API. What a store holds is checked
against the fake's ground truth (``GET {root}/_fake/truth/messages``): every id once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from postpress_async.testing import Dataset, FakePostpress, Faults

from ._helpers import WAIT, Result, cli_env, file_ids, vouched_lines, wait_until

KEY = "pp_test_key"


# -- the fake in its own process ------------------------------------------------------------


class Standalone:
    """``python -m postpress_async.testing`` running; its URL and ground truth."""

    def __init__(self, *args: str) -> None:
        live_for = float(args[args.index("--live-for") + 1]) if "--live-for" in args else 0.0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "postpress_async.testing", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(),
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().decode()
        # A live feed pauses now and then (its arrivals are random): the truth is final
        # only once its --live-for has run out. The feed starts before the ready line, so
        # it has ended by ``feed_ends`` counted from here; counted from before the start,
        # the interpreter's start-up (a second on a busy machine) went uncounted.
        self.feed_ends = time.monotonic() + live_for
        self.url = ready.split(" listening on ", 1)[1].split(" ", 1)[0]
        self.root = re.sub(r"/(api/)?v1$", "", self.url)

    def truth(self) -> list[str]:
        """The ids a complete listing of messages returns now."""
        request = urllib.request.Request(
            f"{self.root}/_fake/truth/messages", headers={"X-API-KEY": KEY}
        )
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            ids: list[str] = json.loads(response.read())["ids"]
        return ids

    def settled(self) -> list[str]:
        """The truth once the live feed has stopped (its time is up, then two equal
        answers in a row: a message listed late still counts)."""
        _pause(max(0.0, self.feed_ends - time.monotonic()))
        last: list[str] = []
        for _ in range(200):
            now = self.truth()
            if now and now == last:
                return now
            last = now
            _pause(0.1)
        raise AssertionError("the fake's feed never settled")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.communicate(timeout=WAIT)


def _pause(seconds: float) -> None:
    time.sleep(seconds)


@pytest.fixture
def standalone() -> Iterator[type[Standalone]]:
    """Start standalone fakes with ``standalone(*args)``; all are stopped after the test."""
    started: list[Standalone] = []

    def make(*args: str) -> Standalone:
        server = Standalone(*args)
        started.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in started:
        server.stop()


def cli(server_url: str, *args: str) -> list[str]:
    """The command line of ``postpress`` against ``server_url``."""
    return [
        sys.executable, "-m", "postpress_async", *args, "--base-url", server_url, "--api-key", KEY,
    ]  # fmt: skip


def run_cli(server_url: str, *args: str) -> Result:
    done = subprocess.run(
        cli(server_url, *args), capture_output=True, env=cli_env(), timeout=WAIT * 2, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


def start_cli(server_url: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cli(server_url, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env()
    )


def end(process: subprocess.Popen[bytes], sig: int) -> tuple[int, bytes]:
    """Send ``sig`` (if still running) and wait: the exit code and stderr."""
    if process.poll() is None:
        process.send_signal(sig)
    _, err = process.communicate(timeout=WAIT)
    return process.returncode, err


def db_ids(path: Path) -> list[str]:
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return [row[0] for row in db.execute("SELECT id FROM messages")]
    except sqlite3.Error:  # not created yet, or locked mid-commit
        return []


def new_count(stderr: bytes) -> int:
    found = re.search(rb"exported ([\d,]+) new messages", stderr)
    assert found is not None, stderr
    return int(found.group(1).replace(b",", b""))


# -- runs and re-runs -----------------------------------------------------------------------


async def acli(server_url: str, *args: str) -> Result:
    """The CLI as a process, awaited: the fake in this process goes on serving meanwhile."""
    process = await asyncio.create_subprocess_exec(
        *cli(server_url, *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
    )
    out, err = await asyncio.wait_for(process.communicate(), WAIT * 2)
    assert process.returncode is not None
    return Result(process.returncode, out, err)


@pytest.mark.slow
async def test_a_rerun_after_arrivals_stores_exactly_the_new_ones(tmp_path: Path) -> None:
    """First run; messages arrive; the same command again stores exactly those, once; a
    third run finds nothing new."""
    db = tmp_path / "m.db"
    export = ["export", "messages", "--to", f"sqlite:///{db}", "--shards", "4"]
    async with FakePostpress(dataset=Dataset(messages=1500), api_key=KEY) as server:
        first = await acli(server.url, *export)
        assert first.returncode == 0, first.stderr
        assert new_count(first.stderr) == 1500
        assert sorted(db_ids(db)) == sorted(server.truth("messages"))
        arrived = server.add_messages(7) + server.add_messages(5)
        again = await acli(server.url, *export)
        assert again.returncode == 0, again.stderr
        assert new_count(again.stderr) == 12
        assert sorted(db_ids(db)) == sorted(server.truth("messages"))
        assert set(arrived) <= set(db_ids(db))
        third = await acli(server.url, *export)
        assert third.returncode == 0, third.stderr
        assert new_count(third.stderr) == 0


@pytest.mark.slow
def test_follow_killed_then_restarted_has_every_id_once(
    tmp_path: Path, standalone: type[Standalone]
) -> None:
    """`export --follow` into a file while messages arrive: kill -9, restart, Ctrl-C (130,
    "interrupted" once); once the feed stops, the same export without --follow catches up.
    The file holds the ground truth, each id once."""
    server = standalone("--messages", "800", "--live-rate", "100", "--live-for", "6")
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    follow = [*export, "--follow", "--poll-interval", "0.05"]

    def lines() -> int:  # a reader of a file being appended to counts what is vouched for
        return vouched_lines(out)

    process = start_cli(server.url, *follow)
    try:
        wait_until(lambda: lines() >= 850, "the backfill and a few new messages")
    finally:
        end(process, signal.SIGKILL)
    before = lines()
    process = start_cli(server.url, *follow)
    try:  # lines this process wrote: it runs its follow when the Ctrl-C comes
        wait_until(lambda: lines() >= before + 50, "50 more lines")
    finally:
        code, err = end(process, signal.SIGINT)
    assert code == 130, err
    assert err.count(b"interrupted") == 1, err
    assert b"Traceback" not in err
    truth = server.settled()
    kept = lines()
    again = run_cli(server.url, *export)
    assert again.returncode == 0, again.stderr
    assert new_count(again.stderr) == len(truth) - kept
    got = file_ids(out)
    assert len(got) == len(set(got)), "an id stored twice"
    assert set(got) == set(truth)
    last = run_cli(server.url, *export)
    assert new_count(last.stderr) == 0, "the position was committed with the rows"


@pytest.mark.slow
def test_sigint_exits_130_with_the_position_committed(
    tmp_path: Path, standalone: type[Standalone]
) -> None:
    """Ctrl-C mid-backfill: 130; the store holds exactly what its positions cover, and the
    same command finishes with every id once."""
    server = standalone("--messages", "3000", "--latency", "0.04")
    db = tmp_path / "m.db"
    export = ["export", "messages", "--to", f"sqlite:///{db}", "--limit", "50", "--shards", "2"]
    process = start_cli(server.url, *export)
    try:
        wait_until(lambda: len(db_ids(db)) >= 200, "a few pages committed")
    finally:
        code, err = end(process, signal.SIGINT)
    assert code == 130, err
    assert err.count(b"interrupted") == 1, err
    with contextlib.closing(sqlite3.connect(db)) as conn:
        covered = conn.execute("SELECT sum(items) FROM positions").fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert covered == rows < 3000
    result = run_cli(server.url, *export)
    assert result.returncode == 0, result.stderr
    assert new_count(result.stderr) == 3000 - rows
    assert sorted(db_ids(db)) == sorted(server.truth())


# -- one writer a store: the second is refused before its first request ---------------------


@pytest.fixture
async def two_fakes() -> AsyncIterator[tuple[FakePostpress, FakePostpress]]:
    """Two fakes in this process: one slow, for the export that holds the store; one whose
    request counter proves the second export asked nothing."""
    slow = FakePostpress(dataset=Dataset(messages=4000), api_key=KEY, faults=Faults(latency=0.05))
    idle = FakePostpress(dataset=Dataset(messages=50), api_key=KEY)
    async with slow, idle:
        yield slow, idle


async def _second_is_locked_out(
    store: list[str], fakes: tuple[FakePostpress, FakePostpress], started: object
) -> None:
    slow, idle = fakes
    first = await asyncio.create_subprocess_exec(
        *cli(slow.url, "export", "messages", *store, "--limit", "20", "--shards", "2"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
    )
    try:
        for _ in range(int(WAIT / 0.02)):
            if started():  # type: ignore[operator]
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the first export never committed a page")
        assert first.returncode is None, "still running: it holds the store"
        second = await asyncio.create_subprocess_exec(
            *cli(idle.url, "export", "messages", *store),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=cli_env(),
        )
        _, err = await asyncio.wait_for(second.communicate(), WAIT)
        assert second.returncode == 5, err
        assert b"another export or follow is writing" in err
        assert idle.stats.requests == 0, "refused before its first request"
    finally:
        if first.returncode is None:
            first.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(first.communicate(), WAIT)
    assert first.returncode in (0, 130), err


@pytest.mark.slow
async def test_a_second_export_into_the_same_sqlite_file_is_refused(
    tmp_path: Path, two_fakes: tuple[FakePostpress, FakePostpress]
) -> None:
    db = tmp_path / "m.db"
    await _second_is_locked_out(
        ["--to", f"sqlite:///{db}"], two_fakes, lambda: len(db_ids(db)) >= 20
    )


@pytest.mark.slow
async def test_a_second_export_into_the_same_directory_is_refused(
    tmp_path: Path, two_fakes: tuple[FakePostpress, FakePostpress]
) -> None:
    parts = tmp_path / "parts"

    def started() -> bool:
        return any(p.stat().st_size for p in parts.glob("*.jsonl")) if parts.exists() else False

    await _second_is_locked_out(["--out", f"{parts}/"], two_fakes, started)


@pytest.mark.slow
async def test_a_second_export_into_the_same_postgresql_database_is_refused(
    pg_url: str, two_fakes: tuple[FakePostpress, FakePostpress]
) -> None:
    import asyncpg

    async def rows() -> int:
        conn = await asyncpg.connect(pg_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM messages"))
        except asyncpg.UndefinedTableError:
            return 0
        finally:
            await conn.close()

    seen = [0]

    def started() -> bool:
        return seen[0] >= 20

    async def watch_rows() -> None:
        while seen[0] < 20:
            seen[0] = await rows()
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch_rows())
    try:
        await _second_is_locked_out(["--to", pg_url], two_fakes, started)
    finally:
        watcher.cancel()


# -- verify ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_verify_agrees_then_finds_a_deleted_row(
    tmp_path: Path, standalone: type[Standalone]
) -> None:
    server = standalone("--messages", "1200")
    db = tmp_path / "m.db"
    url = f"sqlite:///{db}"
    assert run_cli(server.url, "export", "messages", "--to", url, "--quiet").returncode == 0
    agreed = run_cli(server.url, "verify", "messages", "--to", url)
    assert agreed.returncode == 0, agreed.stderr
    assert b"1,200" in agreed.stdout + agreed.stderr
    victim = db_ids(db)[17]
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("DELETE FROM messages WHERE id = ?", (victim,))
    differs = run_cli(server.url, "verify", "messages", "--to", url)
    assert differs.returncode == 1, differs.stderr
    assert victim.encode() in differs.stdout + differs.stderr


@pytest.mark.slow
def test_the_standalone_fake_is_reached_with_base_url_and_api_key(
    standalone: type[Standalone], tmp_path: Path
) -> None:
    """This module's plumbing: one small export into SQLite (the CLI in process)."""
    from ._helpers import run

    server = standalone("--messages", "120")
    db = tmp_path / "m.db"
    result = run(
        "export", "messages", "--to", f"sqlite:///{db}", "--base-url", server.url,
        "--api-key", KEY, "--shards", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(db_ids(db)) == sorted(server.truth())
    assert os.path.exists(db)
