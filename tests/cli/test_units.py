"""The CLI's pure parts, in process: table cells, progress line, checkpoint writes, demo check."""

from __future__ import annotations

import io
import json
from pathlib import Path

import msgspec
import pytest

from postpress_async import Checkpoint
from postpress_async.cli._checkpoint import (
    ExportCommand,
    ExportState,
    Output,
    checkpoint_path,
    load_state,
)
from postpress_async.cli._demo import verify_ids
from postpress_async.cli._output import cell, fit
from postpress_async.cli._progress import Progress, format_retries

from ._helpers import run_process


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        pytest.param("abc", 5, "abc  ", id="pad"),
        pytest.param("abcdef", 5, "abcd…", id="cut"),
        pytest.param("a\nb\tc", 5, "a b c", id="one-line"),
        pytest.param("李雷李雷", 6, "李雷… ", id="wide"),
        pytest.param("Z̷a", 2, "Z̷a", id="combining"),
    ],
)
def test_fit_cuts_and_pads_by_display_width(text: str, width: int, expected: str) -> None:
    """Cells are exactly `width` terminal columns, on one line."""
    assert fit(text, width) == expected


def test_cell_shows_none_as_a_dash() -> None:
    """Missing values are visible."""
    assert cell(None) == "-"


def test_progress_line_counts_and_throttles() -> None:
    """Items, pages, rate and retries; no redraw within the interval unless forced."""
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(
        stream, noun="messages", enabled=True, retries=lambda: 3, clock=lambda: now[0]
    )
    progress.start(items=100, pages=1)
    now[0] = 2.0
    progress.items, progress.pages = 1100, 11
    progress.update()
    assert stream.getvalue() == "\r1,100 messages · 11 pages · 500/s · 3 retries"
    progress.items = 1200
    progress.update()
    assert "1,200" not in stream.getvalue(), "redrawn too soon"
    progress.close()
    assert stream.getvalue().endswith("1,200 messages · 11 pages · 550/s · 3 retries\n")


def test_disabled_progress_writes_nothing() -> None:
    """Quiet means quiet."""
    stream = io.StringIO()
    progress = Progress(stream, noun="chats", enabled=False, retries=lambda: 0)
    progress.update(force=True)
    progress.close()
    assert stream.getvalue() == ""


def test_format_retries_lists_types_by_count() -> None:
    """Retries by type, most frequent first."""
    assert format_retries({}) == "0"
    assert format_retries({"429": 1, "503 errors/no_channel": 2}) == (
        "3 (503 errors/no_channel 2, 429 1)"
    )


def _state() -> ExportState:
    command = ExportCommand(resource="messages", source="s", filters={})
    return ExportState(fingerprint=command.fingerprint(), command=command, streams=[Checkpoint()])


def test_commit_writes_lines_then_the_checkpoint_that_names_them(tmp_path: Path) -> None:
    """After a commit the checkpoint's offset is the file's size and names the new cursor."""
    out = tmp_path / "x.jsonl"
    output = Output(out, _state())
    output.commit(b'{"id":"a"}\n', items=1, stream=0, checkpoint=Checkpoint(cursor="c1"))
    saved = load_state(checkpoint_path(out))
    assert saved is not None
    assert (saved.offset, saved.items, saved.pages) == (out.stat().st_size, 1, 1)
    assert saved.streams == [Checkpoint(cursor="c1")]
    output.finish()
    assert not checkpoint_path(out).exists()
    assert not (tmp_path / "x.jsonl.checkpoint.tmp").exists()


def test_reopening_truncates_to_the_checkpoint(tmp_path: Path) -> None:
    """Bytes after the recorded offset (uncheckpointed or torn lines) are dropped."""
    out = tmp_path / "x.jsonl"
    output = Output(out, _state())
    output.commit(b'{"id":"a"}\n', items=1, stream=0, checkpoint=Checkpoint(cursor="c1"))
    output.close()
    with open(out, "ab") as file:
        file.write(b'{"id":"b"}\n{"id":"c')
    saved = load_state(checkpoint_path(out))
    assert saved is not None
    Output(out, saved).close()
    assert out.read_bytes() == b'{"id":"a"}\n'


def test_fingerprint_is_stable_and_sensitive() -> None:
    """Equal commands hash equal; any filter change changes the hash."""
    one = ExportCommand(resource="messages", source="s", filters={"a": 1, "b": 2})
    same = ExportCommand(resource="messages", source="s", filters={"b": 2, "a": 1})
    other = ExportCommand(resource="messages", source="s", filters={"a": 1, "b": 3})
    assert one.fingerprint() == same.fingerprint() != other.fingerprint()
    assert one.differences(other) == ["b: 2 -> 3"]


def test_checkpoint_file_is_plain_json(tmp_path: Path) -> None:
    """The checkpoint can be read by anything: JSON with the documented keys."""
    out = tmp_path / "x.jsonl"
    Output(out, _state()).close()
    data = json.loads(checkpoint_path(out).read_bytes())
    assert set(data) == {
        "version",
        "fingerprint",
        "command",
        "streams",
        "offset",
        "items",
        "pages",
        "done",
    }
    assert msgspec.json.decode(checkpoint_path(out).read_bytes(), type=ExportState) == _state()


def test_verify_ids_finds_missing_duplicated_unexpected_and_torn(tmp_path: Path) -> None:
    """The demo's check catches each way an export can be wrong."""
    out = tmp_path / "x.jsonl"
    out.write_bytes(b'{"id":"a"}\n{"id":"a"}\n{"id":"z"}\n{"id":"b')
    verdict = verify_ids(out, ["a", "b", "c"])
    assert not verdict.ok
    assert (verdict.missing, verdict.duplicated, verdict.unexpected, verdict.unreadable) == (
        2,
        1,
        1,
        1,
    )
    out.write_bytes(b'{"id":"b"}\n{"id":"a"}\n')
    assert verify_ids(out, ["a", "b"]).ok


@pytest.mark.slow
def test_demo_exports_through_faults_and_verifies(tmp_path: Path) -> None:
    """`postpress demo` exports the fake dataset through faults and reports exactly-once."""
    out = tmp_path / "demo.jsonl"
    result = run_process("demo", "--messages", "4000", "--fault-rate", "0.2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = result.stdout.decode()
    assert "verified   OK: every message arrived exactly once" in report
    assert "4,000 messages" in report
    retries = next(line for line in report.splitlines() if line.strip().startswith("retries"))
    assert retries.split()[1] != "0", "a 20 % fault rate must cause retries"
    assert len(out.read_bytes().split(b"\n")) == 4001
