"""`postpress export`: one exporter (ingest) for every store; a re-run continues, never repeats.

In process against ``--fake``; what needs a real process (SIGKILL, SIGINT) is ``slow``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from postpress_async.testing import FakePostpress, fake_dataset
from tests.cli._helpers import file_ids, run, start, vouched_lines, wait_until

#: Exports run in this process: a few pages each, enough to cross page and shard edges.
FEW = 600
FEW_DATASET = fake_dataset(seed=1, messages=FEW)
FAKE = ["--fake", "--fake-messages", str(FEW)]
#: Exports stopped mid-way run as processes (``slow``): long enough to be caught midway.
MESSAGES = 3000
DATASET = fake_dataset(seed=1, messages=MESSAGES)
SLOW = ["--fake", "--fake-messages", str(MESSAGES), "--fake-latency", "0.04"]
LONG = ["--fake", "--fake-messages", str(MESSAGES)]


def sidecar(out: Path) -> Path:
    return out.with_name(out.name + ".checkpoint")


def test_out_dash_is_refused_not_written_to_a_file_named_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-`` means stdout to a shell user; an export writes a store it can resume."""
    monkeypatch.chdir(tmp_path)
    for command in (["export", "messages"], ["watch", "messages"], ["verify", "messages"]):
        result = run(*FAKE, *command, "--out", "-")
        assert result.returncode == 2, result.stderr
        assert b"stdout" in result.stderr and b"messages list" in result.stderr
    assert os.listdir(tmp_path) == []


def test_force_overwrites_a_part_file_that_is_not_an_exports(tmp_path: Path) -> None:
    """The refusal says "add --force"; with it, the directory's stray part is replaced."""
    directory = tmp_path / "parts"
    directory.mkdir()
    (directory / "messages-all.jsonl").write_bytes(b"my own notes\n")
    refused = run(*FAKE, "export", "messages", "--out", f"{directory}/")
    assert refused.returncode == 2 and b"add --force" in refused.stderr
    result = run(*FAKE, "export", "messages", "--out", f"{directory}/", "--force")
    assert result.returncode == 0, result.stderr
    held = b"".join(path.read_bytes() for path in directory.glob("messages-*.jsonl"))
    assert b"my own notes" not in held and held.count(b"\n") == FEW


def db_ids(path: Path, table: str = "messages") -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [row[0] for row in db.execute(f"SELECT id FROM {table}")]


# -- one file: a plain stream --------------------------------------------------------------


def test_export_messages_to_a_file_is_the_listing_once(tmp_path: Path) -> None:
    """`--out FILE`: every message once, in the API's order, the API's bytes, one summary."""
    out = tmp_path / "messages.jsonl"
    result = run(*FAKE, "export", "messages", "--out", str(out), "--limit", "100")
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == FEW_DATASET.expected_message_ids()
    first = json.loads(out.read_bytes().split(b"\n", 1)[0])
    assert first == json.loads(FEW_DATASET.message_json(FEW_DATASET.find_message(first["id"]) or 0))
    text = result.stderr.decode()
    assert text.startswith(f"exported 600 new messages to {out} in "), text
    # A plain stream: six pages and the one listing that finds nothing newer, no probes.
    assert "; plan: 1 shard, complete); 0 rejects; 7 requests, 0 retries" in text, text
    assert "\r" not in text, "no progress line when stderr is not a terminal"
    assert text.count("\n") == 1


def test_lines_are_the_items_exactly_as_the_api_sent_them(tmp_path: Path) -> None:
    """Each line is the item's bytes from its page, unknown types and odd text included."""
    out = tmp_path / "messages.jsonl"
    assert run(*FAKE, "export", "messages", "--out", str(out), "--quiet").returncode == 0
    for line in out.read_bytes().splitlines()[:50]:
        index = FEW_DATASET.find_message(json.loads(line)["id"])
        assert index is not None
        assert line == FEW_DATASET.message_json(index)


def test_export_chats_with_filters_quietly(tmp_path: Path) -> None:
    """Filters apply to an export as to a listing; --quiet prints nothing."""
    out = tmp_path / "chats.jsonl"
    result = run(*FAKE, "export", "chats", "--out", str(out), "--account-type", "SLACK", "--quiet")
    assert result.returncode == 0, result.stderr
    assert sorted(file_ids(out)) == sorted(FEW_DATASET.expected_chat_ids(account_type="SLACK"))
    assert result.stderr == b""


def test_a_rerun_of_a_finished_export_exits_0_with_nothing_new(tmp_path: Path) -> None:
    """The same command again continues: 0 new, the file unchanged; --resume is accepted."""
    out = tmp_path / "messages.jsonl"
    export = [*FAKE, "export", "messages", "--out", str(out)]
    assert run(*export).returncode == 0
    before = out.read_bytes()
    for again in (run(*export), run(*export, "--resume")):
        assert again.returncode == 0, again.stderr
        assert again.stderr.decode().startswith("exported 0 new messages to "), again.stderr
        assert out.read_bytes() == before


def test_the_summary_counts_one_of_a_thing_in_the_singular(tmp_path: Path) -> None:
    """One message, one request: a cron log reads "1 new message", "1 request"."""
    out = tmp_path / "one.jsonl"
    export = ["--fake", "--fake-messages", "1", "export", "messages", "--out", str(out)]
    first = run(*export)
    assert first.returncode == 0, first.stderr
    assert first.stderr.decode().startswith(f"exported 1 new message to {out} in "), first.stderr
    again = run(*export)
    assert again.returncode == 0, again.stderr
    assert "; 0 rejects; 1 request, 0 retries\n" in again.stderr.decode(), again.stderr


def test_summary_words_follow_their_counts() -> None:
    """Every figure of the summary line takes the singular for 1 and the plural otherwise."""
    from postpress_async.cli.commands.export import summary
    from postpress_async.ingest import IngestResult
    from postpress_async.ingest._run import IngestProgress

    result = IngestResult(
        endpoint="chats", url="sqlite:///m.db", plan=None, results=[], backfilled=1,
        synced=0, items=2, rejects=1, new=1, changed=None, backfill_done=True,
        resumed=False, caught_up_to=None, notes=[], elapsed=1.0,
    )  # fmt: skip
    progress = IngestProgress(noun="chats", requests=1, retries=1)
    assert summary("chats", result, progress) == (
        "exported 1 new chat (1 updated) to sqlite:///m.db in 1.0 s (2/s; complete); "
        "1 reject; 1 request, 1 retry"
    )
    more = dataclasses.replace(result, rejects=2, new=3, items=3)
    assert summary("chats", more, IngestProgress(requests=2, retries=2)).endswith(
        "; 2 rejects; 2 requests, 2 retries"
    )


@pytest.mark.parametrize(
    ("elapsed", "shown"),
    [(0.04, "0.0 s"), (59.94, "59.9 s"), (59.96, "1 min 0 s"), (125.4, "2 min 5 s"),
     (5400.0, "1 h 30 min"), (90061.0, "25 h 1 min")],
)  # fmt: skip
def test_a_long_export_says_its_time_in_minutes_and_hours(elapsed: float, shown: str) -> None:
    """A backfill of hours reads "in 1 h 30 min", not "in 5400.0 s"."""
    from postpress_async.cli.commands.export import summary
    from postpress_async.ingest import IngestResult
    from postpress_async.ingest._run import IngestProgress

    result = IngestResult(
        endpoint="messages", url="m.jsonl", plan=None, results=[], backfilled=0, synced=0,
        items=0, rejects=0, new=0, changed=None, backfill_done=True, resumed=False,
        caught_up_to=None, notes=[], elapsed=elapsed,
    )  # fmt: skip
    assert f" to m.jsonl in {shown} (" in summary("messages", result, IngestProgress())


def test_windows_is_shards_by_time_with_a_note(tmp_path: Path) -> None:
    """`--windows 4` (the old flag) runs 4 shards cut by time and says so in one line."""
    out = tmp_path / "messages.jsonl"
    result = run(*FAKE, "export", "messages", "--out", str(out), "--windows", "4")
    assert result.returncode == 0, result.stderr
    text = result.stderr.decode()
    assert "note: --windows 4 is now --shards 4 --by time" in text
    assert "plan: 4 shards, complete" in text
    got = file_ids(out)
    assert len(got) == len(set(got))
    assert sorted(got) == sorted(FEW_DATASET.expected_message_ids())


def test_progress_line_can_be_forced(tmp_path: Path) -> None:
    """`--progress` draws the progress line (shards, items, rate, retries) on a pipe too."""
    out = tmp_path / "messages.jsonl"
    args = [*FAKE, "--fake-fault-rate", "0.05", "export", "messages", "--out", str(out)]
    result = run(*args, "--progress", "--limit", "50")
    assert result.returncode == 0, result.stderr
    drawn = result.stderr.decode().split("\r")[-1]
    assert "600 messages ·" in drawn
    assert "retries" in drawn
    assert "/s" in drawn
    assert "\r" not in result.stderr.decode(), "a pipe (a cron log) gets whole lines"


def test_a_file_that_is_not_an_export_is_refused_without_force(tmp_path: Path) -> None:
    """A non-empty file with no sidecar is never overwritten by accident; --force does."""
    out = tmp_path / "messages.jsonl"
    out.write_bytes(b'{"precious": true}\n')
    export = [*FAKE, "--fake-messages", "10", "export", "messages", "--out", str(out)]
    refused = run(*export)
    assert refused.returncode == 2, refused.stderr
    assert b"--force" in refused.stderr
    assert out.read_bytes() == b'{"precious": true}\n'
    forced = run(*export, "--force")
    assert forced.returncode == 0, forced.stderr
    assert sorted(file_ids(out)) == sorted(fake_dataset(seed=1, messages=10).expected_message_ids())


def test_a_file_shorter_than_its_position_is_refused(tmp_path: Path) -> None:
    """Bytes the sidecar vouches for are missing: refused (exit 2), never padded."""
    out = tmp_path / "messages.jsonl"
    export = [*FAKE, "export", "messages", "--out", str(out)]
    assert run(*export).returncode == 0
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    result = run(*export)
    assert result.returncode == 2, result.stderr
    assert b"shorter" in result.stderr
    assert out.read_bytes() == data[: len(data) // 2]


def test_other_filters_into_the_same_store_are_refused(tmp_path: Path) -> None:
    """A store holds one export of an endpoint: other filters are named and refused."""
    out = tmp_path / "messages.jsonl"
    export = [*FAKE, "export", "messages", "--out", str(out)]
    assert run(*export).returncode == 0
    sender = FEW_DATASET.message_row(0).sender_id
    result = run(*export, "--sender-id", sender)
    assert result.returncode == 2, result.stderr
    assert b"sender_id" in result.stderr
    assert b"--force" in result.stderr


def test_an_api_error_mid_export_is_one_line_and_the_rerun_continues(tmp_path: Path) -> None:
    """A failure the retries cannot absorb stops the export (exit 1); the same command
    again continues from what was committed and ends with every message once."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    failed = run(*FAKE, "--fake-fault-rate", "0.5", "--retries", "0", *export)
    assert failed.returncode == 1
    text = failed.stderr.decode()
    assert "Traceback" not in text
    assert "ExceptionGroup" not in text
    assert text.startswith("error: the API failed (")
    assert "run the same command again to continue" in text.splitlines()[-1]
    result = run(*FAKE, *export)
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == FEW_DATASET.expected_message_ids()


# -- databases and directories: planned shards ---------------------------------------------


def test_export_to_sqlite_in_shards_then_again_is_nothing_new(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    export = [*FAKE, "export", "messages", "--to", url]
    first = run(*export)
    assert first.returncode == 0, first.stderr
    assert "exported 600 new messages to " in first.stderr.decode()
    assert "plan: 8 shards, complete" in first.stderr.decode(), "8 shards by default"
    assert sorted(db_ids(tmp_path / "m.db")) == sorted(FEW_DATASET.expected_message_ids())
    again = run(*export)
    assert again.returncode == 0, again.stderr
    assert again.stderr.decode().startswith("exported 0 new messages to ")
    assert len(db_ids(tmp_path / "m.db")) == FEW


def test_force_starts_over_with_other_options(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    assert run(*FAKE, "export", "chats", "--to", url, "--shards", "2").returncode == 0
    other = run(*FAKE, "export", "chats", "--to", url, "--account-type", "SLACK")
    assert other.returncode == 2, other.stderr
    assert b"account_type" in other.stderr
    forced = run(*FAKE, "export", "chats", "--to", url, "--account-type", "SLACK", "--force")
    assert forced.returncode == 0, forced.stderr


def test_export_accounts_into_part_files(tmp_path: Path) -> None:
    out = tmp_path / "parts"
    result = run(*FAKE, "export", "accounts", "--out", f"{out}/", "--quiet")
    assert result.returncode == 0, result.stderr
    ids = [
        json.loads(line)["id"]
        for part in sorted(out.glob("accounts-*.jsonl"))
        if not part.name.endswith("-follow.jsonl")
        for line in part.read_bytes().splitlines()
    ]
    assert sorted(ids) == sorted(FEW_DATASET.expected_account_ids())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--to", "sqlite:///{tmp}/no/m.db"], "does not exist", id="missing-dir"),
        pytest.param(["--to", "mysql://x/y"], "unknown sink scheme", id="unknown-scheme"),
        pytest.param(["--to", "{tmp}/m.db"], "sqlite:///", id="a-path-that-means-sqlite"),
        pytest.param(
            ["--out", "{tmp}/m.jsonl", "--engine", "dask"], "one writer process", id="file-on-dask"
        ),
        pytest.param(
            ["--to", "sqlite:///{tmp}/m.db", "--engine", "dask", "--scheduler", "tcp://h:1"],
            "one machine",
            id="sqlite-on-a-cluster",
        ),
        pytest.param(
            ["--to", "sqlite:///{tmp}/m.db", "--workers", "2"], "--engine dask", id="workers"
        ),
        pytest.param(
            ["--to", "sqlite:///{tmp}/m.db", "--out", "{tmp}/x/"], "not both", id="to-and-out"
        ),
        pytest.param(
            ["--to", "sqlite:///{tmp}/m.db", "--max-items", "5"],
            "--max-items cannot be honoured",
            id="max-items",
        ),
        pytest.param(["--out", "{tmp}/m.jsonl", "--max-items", "5"], "--max-items", id="max-file"),
        pytest.param(["--shards", "2"], "say where", id="nowhere"),
        pytest.param(
            ["--out", "{tmp}/m.jsonl", "--windows", "2", "--shards", "2"],
            "give one of them",
            id="windows-and-shards",
        ),
        pytest.param(
            ["--out", "{tmp}/m.jsonl", "--poll-interval", "1"],
            "--poll-interval does nothing without --follow",
            id="poll-without-follow",
        ),
        pytest.param(
            ["--to", "sqlite:///{tmp}/m.db", "--follow", "--before", "2026-05-01T00:00:00Z"],
            "nothing new to follow",
            id="follow-a-frozen-window",
        ),
        pytest.param(["--to", "sqlite:///{tmp}/m.db", "--limit", "999"], "--limit", id="limit"),
        pytest.param(
            ["--out", "{tmp}/x/", "--shards", "1001"],
            "--shards: must be at most 1,000",
            id="shards",
        ),
    ],
)
async def test_what_cannot_run_is_a_usage_error_before_any_request(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    """Exit 2 with one line, and the API never asked: checked against a server's counter."""
    from tests.cli._helpers import arun

    args = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    async with FakePostpress(dataset=FEW_DATASET, api_key="pp_test_key") as server:
        result = await arun(
            "--api-key", "pp_test_key", "--base-url", server.url,
            "export", "messages", *args,
        )  # fmt: skip
        assert server.stats.requests == 0
    assert result.returncode == 2, result.stderr
    text = result.stderr.decode()
    assert message in text
    assert text.count("\n") == 1, text
    assert not (tmp_path / "m.db").exists()
    assert not (tmp_path / "m.jsonl").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="a dangling symlink")
@pytest.mark.parametrize("kind", ["file", "parts"])
async def test_a_place_the_os_refuses_is_a_usage_error_without_a_resume_hint(
    tmp_path: Path, kind: str
) -> None:
    """Exit 2 naming the path and the OS's reason, before any request; nothing "kept"."""
    from tests.cli._helpers import arun

    if kind == "file":
        out = tmp_path / "m.jsonl"
        out.symlink_to(tmp_path / "nowhere" / "m.jsonl")  # a link into a missing directory
        named, where = str(out), str(out)
    else:
        (tmp_path / "parts" / ".lock").mkdir(parents=True)
        named, where = str(tmp_path / "parts" / ".lock"), str(tmp_path / "parts") + "/"
    async with FakePostpress(dataset=FEW_DATASET, api_key="pp_test_key") as server:
        result = await arun(
            "--api-key", "pp_test_key", "--base-url", server.url,
            "export", "messages", "--out", where,
        )  # fmt: skip
        assert server.stats.requests == 0
    assert result.returncode == 2, result.stderr
    text = result.stderr.decode()
    assert named in text and "cannot write" in text
    assert "kept in" not in text
    assert text.count("\n") == 1, text


# -- real processes: kill -9, Ctrl-C -------------------------------------------------------


def _stop_midway(args: list[str], ready: object, sig: int) -> bytes:
    """Start an export, wait until ``ready()`` (a few pages committed), send ``sig``."""
    process = start(*args)
    try:
        wait_until(ready, "the export has committed a few pages")  # type: ignore[arg-type]
        os.kill(process.pid, sig)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    expected = -signal.SIGKILL if sig == signal.SIGKILL else 130
    assert process.returncode == expected, stderr
    return stderr


@pytest.mark.slow
def test_sigkill_then_the_same_command_gives_every_message_once(tmp_path: Path) -> None:
    """kill -9 mid-export, then the same command: the file equals the dataset, in order."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    _stop_midway([*SLOW, *export], lambda: vouched_lines(out) >= 300, signal.SIGKILL)
    assert vouched_lines(out) < MESSAGES
    result = run(*LONG, *export)
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == DATASET.expected_message_ids()


@pytest.mark.slow
def test_sigkill_of_a_sharded_sqlite_export_then_again_stores_every_id_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "m.db"
    export = ["export", "messages", "--to", f"sqlite:///{db}", "--limit", "25", "--shards", "4"]

    def committed() -> bool:
        try:
            return len(db_ids(db)) >= 300
        except sqlite3.Error:
            return False

    _stop_midway([*SLOW, *export], committed, signal.SIGKILL)
    result = run(*LONG, *export)
    assert result.returncode == 0, result.stderr
    got = db_ids(db)
    assert len(got) == len(set(got)) == MESSAGES
    assert sorted(got) == sorted(DATASET.expected_message_ids())


@pytest.mark.slow
def test_sigint_exits_130_with_the_position_committed(tmp_path: Path) -> None:
    """Ctrl-C: 130, "interrupted" once, the file exactly what its sidecar vouches for."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    stderr = _stop_midway([*SLOW, *export], lambda: vouched_lines(out) >= 300, signal.SIGINT)
    assert b"Traceback" not in stderr
    assert stderr.count(b"interrupted") == 1, stderr
    assert b"run the same command again to continue" in stderr
    offset = json.loads(sidecar(out).read_bytes())["offset"]
    assert out.stat().st_size == offset
    result = run(*LONG, *export)
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == DATASET.expected_message_ids()


@pytest.mark.slow
def test_lines_written_after_the_last_commit_are_cut(tmp_path: Path) -> None:
    """Whatever follows the committed offset (a torn partial line too) is written again."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    _stop_midway([*SLOW, *export], lambda: vouched_lines(out) >= 300, signal.SIGKILL)
    with open(out, "ab") as file:
        file.write(b'{"id":"msg_written_after_the_checkpoint"}\n{"id":"msg_torn')
    result = run(*LONG, *export)
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == DATASET.expected_message_ids()


@pytest.mark.slow
def test_a_stopped_export_with_other_filters_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    _stop_midway([*SLOW, *export], lambda: vouched_lines(out) >= 300, signal.SIGKILL)
    result = run(*LONG, *export, "--sender-id", DATASET.message_row(0).sender_id)
    assert result.returncode == 2
    assert b"sender_id" in result.stderr
    assert sidecar(out).exists()


@pytest.mark.slow
def test_a_second_sigint_stops_at_once_with_130(tmp_path: Path) -> None:
    """Ctrl-C twice: the second does not wait for a clean shutdown; still 130, one line."""
    out = tmp_path / "messages.jsonl"
    process = start(*SLOW, "export", "messages", "--out", str(out), "--limit", "50")
    try:
        wait_until(lambda: vouched_lines(out) > 0, "the export has committed a page")
        os.kill(process.pid, signal.SIGINT)
        os.kill(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert stderr.count(b"interrupted") == 1, stderr


@pytest.mark.slow
async def test_max_in_flight_caps_the_requests_in_flight(tmp_path: Path) -> None:
    """4 shards fetch at once; --max-in-flight 2 lets two requests be in flight at most."""
    from postpress_async.testing import Faults
    from tests.cli._helpers import arun

    peaks = []
    for name, cap in (("capped", ["--max-in-flight", "2"]), ("free", [])):
        async with FakePostpress(
            dataset=fake_dataset(seed=1, messages=300),
            api_key="pp_test_key",
            faults=Faults(latency=0.01),
        ) as server:
            result = await arun(
                "--api-key", "pp_test_key", "--base-url", server.url, "export", "messages",
                "--to", f"sqlite:///{tmp_path}/{name}.db", "--limit", "25", "--shards", "4", *cap,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            peaks.append(server.stats.peak_in_flight)
    assert peaks[0] <= 2 < peaks[1]


def test_max_in_flight_on_dask_is_the_budget_of_the_whole_cluster() -> None:
    """--engine dask: the cap goes to DaskEngine (shared by every worker), not to each client."""
    from postpress_async import AsyncPostpress
    from postpress_async.cli import _sync
    from postpress_async.cli._app import parse
    from postpress_async.ingest.engines.dask import DaskEngine

    args = parse(["export", "messages", "--to", "postgresql://h/db", "--engine", "dask",
                  "--max-in-flight", "6"])  # fmt: skip
    engine = _sync.engine_of(args)
    assert isinstance(engine, DaskEngine)
    assert engine.max_in_flight == 6
    client = AsyncPostpress(api_key="pp_test_key", base_url="https://api.example.com/v1")
    assert _sync.client_config(client, args).max_in_flight == client.limits.max_in_flight
    local = parse(["export", "messages", "--to", "sqlite:///m.db", "--max-in-flight", "6"])
    assert _sync.client_config(client, local).max_in_flight == 6


def test_follow_with_the_fake_backfills_then_stores_what_arrives(tmp_path: Path) -> None:
    """`--follow`: the backfill, then the fake's live messages into the same file, each
    once; Ctrl-C is exit 130 and one line saying so."""
    from tests.cli._helpers import run_until

    out = tmp_path / "messages.jsonl"
    follow = [*FAKE, "export", "messages", "--out", str(out), "--follow",
              "--poll-interval", "0.01", "--fake-live-rate", "400", "--fake-late-ms", "0"]  # fmt: skip
    result = run_until(lambda: vouched_lines(out) >= FEW + 20, *follow)
    assert result.returncode == 130, result.stderr
    assert result.stderr.decode().startswith("interrupted; every page stored so far is kept")
    assert result.stderr.count(b"\n") == 1
    got = file_ids(out)
    assert len(got) == len(set(got)) >= FEW + 20
    assert set(FEW_DATASET.expected_message_ids()) < set(got)


@pytest.mark.parametrize("store", ["{tmp}/m.jsonl", "sqlite:///{tmp}/m.db", "{tmp}/parts/"])
async def test_a_store_another_writer_holds_is_refused_with_exit_5_before_any_request(
    tmp_path: Path, store: str
) -> None:
    """Another export or follow holds the store: exit 5, one line naming it, no request."""
    from postpress_async.ingest import open_sink
    from tests.cli._helpers import arun

    target = store.replace("{tmp}", str(tmp_path))
    holder = open_sink(target)
    await holder.open()  # the writer's lock, as a running export holds it
    try:
        async with FakePostpress(dataset=FEW_DATASET, api_key="pp_test_key") as server:
            result = await arun(
                "--api-key", "pp_test_key", "--base-url", server.url,
                "export", "messages", "--to", target,
            )  # fmt: skip
            assert server.stats.requests == 0
    finally:
        await holder.close()
    assert result.returncode == 5, result.stderr
    text = result.stderr.decode()
    assert text.startswith(f"error: another export or follow is writing {target}:"), text
    assert text.count("\n") == 1, "no resume hint: this run stored nothing"
