"""`postpress export`: the whole listing exactly once, also after SIGKILL, SIGINT or a torn write."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import msgspec
import pytest

from postpress_async import Checkpoint
from postpress_async.cli._checkpoint import ExportState
from postpress_async.cli._export import ExportOptions, _command
from postpress_async.cli._fake import fake_dataset, fake_identity

from ._helpers import file_ids, run, start, wait_until

#: Exports run in this process: a few pages each, enough to cross page and window edges.
FEW = 600
FEW_DATASET = fake_dataset(seed=1, messages=FEW)
FAKE = ["--fake", "--fake-messages", str(FEW)]
#: Exports killed mid-way run as processes (``slow``): long enough to be caught midway.
MESSAGES = 3000
DATASET = fake_dataset(seed=1, messages=MESSAGES)
SLOW = ["--fake", "--fake-messages", str(MESSAGES), "--fake-latency", "0.04"]
LONG = ["--fake", "--fake-messages", str(MESSAGES)]
#: A range around the whole dataset, for --windows.
RANGE = ["--after", "2026-05-01T00:00:00Z", "--before", "2026-06-01T00:00:00Z"]


def checkpoint(out: Path) -> Path:
    return out.with_name(out.name + ".checkpoint")


def saved_items(out: Path) -> int:
    return int(json.loads(checkpoint(out).read_bytes())["items"])


def test_export_messages_equals_the_dataset(tmp_path: Path) -> None:
    """An export holds every message once, in the API's order, and leaves no checkpoint."""
    out = tmp_path / "messages.jsonl"
    result = run(*FAKE, "export", "messages", "--out", str(out), "--limit", "100")
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == FEW_DATASET.expected_message_ids()
    assert not checkpoint(out).exists()
    assert b"exported 600 messages in 6 pages" in result.stderr
    assert b"\r" not in result.stderr, "no progress line when stderr is not a terminal"


def test_export_chats_with_filters(tmp_path: Path) -> None:
    """Filters apply to an export as to a listing."""
    out = tmp_path / "chats.jsonl"
    result = run(*FAKE, "export", "chats", "--out", str(out), "--account-type", "SLACK", "--quiet")
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == FEW_DATASET.expected_chat_ids(account_type="SLACK")
    assert result.stderr == b"", "--quiet prints nothing"


def test_export_with_windows_has_every_message_once(tmp_path: Path) -> None:
    """`--windows 4` fans out over time windows; the union is the range, each id once."""
    out = tmp_path / "messages.jsonl"
    result = run(*FAKE, "export", "messages", "--out", str(out), "--windows", "4", *RANGE)
    assert result.returncode == 0, result.stderr
    got = file_ids(out)
    assert len(got) == len(set(got))
    assert sorted(got) == sorted(FEW_DATASET.expected_message_ids())


def test_progress_line_can_be_forced(tmp_path: Path) -> None:
    """`--progress` draws the progress line (items, pages, rate, retries) on a pipe too."""
    out = tmp_path / "messages.jsonl"
    args = [*FAKE, "--fake-fault-rate", "0.05", "export", "messages", "--out", str(out)]
    result = run(*args, "--progress", "--limit", "50")
    assert result.returncode == 0, result.stderr
    progress = result.stderr.decode().split("\r")[-1]
    assert "600 messages · 12 pages ·" in progress
    assert "retries" in progress
    assert "/s" in progress


def _kill_midway(args: list[str], out: Path, sig: int) -> bytes:
    """Start an export, wait until it has saved a few pages, send ``sig``; return stderr."""
    process = start(*args)
    try:
        wait_until(
            lambda: checkpoint(out).exists() and saved_items(out) >= 300,
            "the export has checkpointed a few pages",
        )
        os.kill(process.pid, sig)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    expected = -signal.SIGKILL if sig == signal.SIGKILL else 130
    assert process.returncode == expected, stderr
    assert checkpoint(out).exists(), "stopped before the end: the checkpoint must stay"
    assert saved_items(out) < MESSAGES
    return stderr


@pytest.mark.slow
def test_sigkill_then_resume_gives_every_message_once(tmp_path: Path) -> None:
    """kill -9 mid-export, then --resume: the file equals the dataset, in order."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    _kill_midway([*SLOW, *export], out, signal.SIGKILL)
    result = run(*LONG, *export, "--resume")
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == DATASET.expected_message_ids()
    assert not checkpoint(out).exists()
    assert b"from before the resume" in result.stderr


@pytest.mark.slow
def test_sigkill_with_windows_then_resume_gives_every_message_once(tmp_path: Path) -> None:
    """kill -9 mid-way through a --windows 4 export, then --resume: each id exactly once."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "25", "--windows", "4", *RANGE]
    _kill_midway([*SLOW, *export], out, signal.SIGKILL)
    result = run(*LONG, *export, "--resume")
    assert result.returncode == 0, result.stderr
    got = file_ids(out)
    assert len(got) == len(set(got)) == MESSAGES
    assert sorted(got) == sorted(DATASET.expected_message_ids())


@pytest.mark.slow
def test_sigint_exits_130_and_keeps_a_resumable_checkpoint(tmp_path: Path) -> None:
    """Ctrl-C stops cleanly (130), says how to resume, and the resume completes exactly."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    stderr = _kill_midway([*SLOW, *export], out, signal.SIGINT)
    assert b"Traceback" not in stderr
    assert b"interrupted" in stderr
    assert b"--resume" in stderr
    assert out.stat().st_size == json.loads(checkpoint(out).read_bytes())["offset"]
    result = run(*LONG, *export, "--resume")
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == DATASET.expected_message_ids()


@pytest.mark.slow
def test_resume_drops_lines_written_after_the_checkpoint(tmp_path: Path) -> None:
    """Whatever follows the checkpoint's offset (a torn partial line too) is rewritten."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    _kill_midway([*SLOW, *export], out, signal.SIGKILL)
    with open(out, "ab") as file:
        file.write(b'{"id":"msg_written_after_the_checkpoint"}\n{"id":"msg_torn')
    result = run(*LONG, *export, "--resume")
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == DATASET.expected_message_ids()


def test_resume_of_a_finished_checkpoint_just_cleans_up(tmp_path: Path) -> None:
    """A checkpoint marked done (killed right before its removal) resumes to nothing."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out)]
    assert run(*FAKE, *export).returncode == 0
    before = out.read_bytes()
    command = _command(
        ExportOptions(resource="messages", out=out, filters={}, source=fake_identity(FEW_DATASET))
    )
    state = ExportState(
        fingerprint=command.fingerprint(),
        command=command,
        streams=[Checkpoint(done=True)],
        offset=len(before),
        items=FEW,
        pages=10,
        done=True,
    )
    checkpoint(out).write_bytes(msgspec.json.encode(state))
    result = run(*FAKE, *export, "--resume")
    assert result.returncode == 0, result.stderr
    assert b"already complete (600 messages)" in result.stderr
    assert out.read_bytes() == before
    assert not checkpoint(out).exists()


def test_a_checkpoint_of_another_export_is_refused(tmp_path: Path) -> None:
    """--resume refuses a checkpoint written for another source, and says what differs."""
    out = tmp_path / "messages.jsonl"
    out.write_bytes(b"")
    state = {
        "version": 1,
        "fingerprint": "0000",
        "command": {"resource": "messages", "source": "https://elsewhere", "filters": {}},
        "streams": [{"cursor": "abc"}],
    }
    checkpoint(out).write_text(json.dumps(state))
    result = run(*FAKE, "export", "messages", "--out", str(out), "--resume")
    assert result.returncode == 2
    assert b"other options (source: 'https://elsewhere' -> 'fake:seed=1" in result.stderr
    assert b"Traceback" not in result.stderr


def test_an_unreadable_checkpoint_is_refused(tmp_path: Path) -> None:
    """A damaged checkpoint is reported, not trusted."""
    out = tmp_path / "messages.jsonl"
    out.write_bytes(b"")
    checkpoint(out).write_bytes(b"{not json")
    result = run(*FAKE, "export", "messages", "--out", str(out), "--resume")
    assert result.returncode == 2
    assert b"not a readable checkpoint" in result.stderr


def test_existing_output_is_refused_without_resume_or_force(tmp_path: Path) -> None:
    """A non-empty output is never overwritten by accident; --force does overwrite."""
    out = tmp_path / "messages.jsonl"
    out.write_bytes(b'{"precious": true}\n')
    export = [*FAKE, "--fake-messages", "10", "export", "messages", "--out", str(out)]
    refused = run(*export)
    assert refused.returncode == 2
    assert b"--resume" in refused.stderr
    assert b"--force" in refused.stderr
    assert out.read_bytes() == b'{"precious": true}\n'
    forced = run(*export, "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(file_ids(out)) == 10


@pytest.mark.slow
def test_resume_with_other_filters_is_refused(tmp_path: Path) -> None:
    """A checkpoint only resumes the same export: changed filters are named and refused."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    _kill_midway([*SLOW, *export], out, signal.SIGKILL)
    result = run(*LONG, *export, "--resume", "--sender-id", DATASET.message_row(0).sender_id)
    assert result.returncode == 2
    assert b"sender_id" in result.stderr
    assert checkpoint(out).exists()


def test_resume_without_a_checkpoint_is_refused_for_a_non_empty_file(tmp_path: Path) -> None:
    """--resume on a finished export (no checkpoint) says so instead of appending."""
    out = tmp_path / "messages.jsonl"
    export = [*FAKE, "--fake-messages", "10", "export", "messages", "--out", str(out)]
    assert run(*export).returncode == 0
    result = run(*export, "--resume")
    assert result.returncode == 2
    assert b"nothing to resume" in result.stderr
    assert len(file_ids(out)) == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--windows", "4"], b"--windows needs both --after and --before", id="range"),
        pytest.param(["--windows", "2", *RANGE, "--max-items", "5"], b"--max-items", id="max"),
        pytest.param(
            ["--windows", "2", "--after", RANGE[3], "--before", RANGE[1]],
            b"--before: must be later than after",
            id="order",
        ),
    ],
)
def test_bad_window_options_are_usage_errors(
    tmp_path: Path, args: list[str], message: bytes
) -> None:
    """--windows needs a range and excludes --max-items."""
    out = tmp_path / "messages.jsonl"
    result = run(*FAKE, "export", "messages", "--out", str(out), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert not out.exists()


def test_an_api_error_mid_export_is_one_line_and_resumable(tmp_path: Path) -> None:
    """A failure the retries cannot absorb stops the export (exit 1) with a resume hint."""
    out = tmp_path / "messages.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    failed = run(*FAKE, "--fake-fault-rate", "0.5", "--retries", "0", *export)
    assert failed.returncode == 1
    stderr = failed.stderr.decode()
    assert "Traceback" not in stderr
    assert "ExceptionGroup" not in stderr
    assert stderr.startswith("error: the API failed (")
    assert "checkpoint is kept. Continue with:" in stderr
    assert "--resume" in stderr.splitlines()[-1]
    result = run(*FAKE, *export, "--resume")
    assert result.returncode == 0, result.stderr
    assert file_ids(out) == FEW_DATASET.expected_message_ids()


@pytest.mark.slow
def test_a_second_sigint_stops_at_once_with_130(tmp_path: Path) -> None:
    """Ctrl-C twice: the second does not wait for a clean shutdown; still 130, no traceback."""
    out = tmp_path / "messages.jsonl"
    process = start(*SLOW, "export", "messages", "--out", str(out), "--limit", "50")
    try:
        wait_until(lambda: checkpoint(out).exists(), "the export has checkpointed a page")
        os.kill(process.pid, signal.SIGINT)
        os.kill(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert b"interrupted" in stderr
