"""The CLI's pure parts, in process: table cells, the progress line, the demo's check."""

from __future__ import annotations

import errno
import io
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from postpress_async.cli._demo import faults_text, verify_ids
from postpress_async.cli._output import cell, fit
from postpress_async.cli._progress import LOG_INTERVAL, Line, format_retries
from postpress_async.cli._sync import option_note

from ._helpers import run_process


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        pytest.param("abc", 5, "abc  ", id="pad"),
        pytest.param("abcdef", 5, "abcd…", id="cut"),
        pytest.param("a\nb\tc", 5, "a b c", id="one-line"),
        pytest.param("李雷李雷", 6, "李雷… ", id="wide"),
        pytest.param("Z̷a", 2, "Z̷a", id="combining"),
        # An unclosed override or isolate would reverse or move the cells after it.
        pytest.param("a\u202eb\u2067c\u202a", 5, "abc  ", id="bidi-controls"),
        pytest.param("שלום", 5, "שלום ", id="right-to-left"),
    ],
)
def test_fit_cuts_and_pads_by_display_width(text: str, width: int, expected: str) -> None:
    """Cells are exactly `width` terminal columns, on one line."""
    assert fit(text, width) == expected


def test_cell_shows_a_time_with_an_offset_in_utc() -> None:
    """The table's times are UTC, as the JSON lines' ``Z`` are, whatever zone the API sent."""
    sent = datetime(2026, 5, 17, 10, 52, 56, 535000, tzinfo=timezone(timedelta(hours=2)))
    assert cell(sent) == cell(sent.astimezone(timezone.utc)) == "2026-05-17 08:52:56"


def test_cell_shows_none_as_a_dash() -> None:
    """Missing values are visible."""
    assert cell(None) == "-"


def test_progress_line_throttles_and_ends_with_the_final_text() -> None:
    """No redraw within the interval unless forced; close draws the last text and a newline."""
    now = [0.0]
    text = ["3/8 shards · 1,100 messages"]
    stream = io.StringIO()
    line = Line(stream, lambda: text[0], enabled=True, clock=lambda: now[0])
    line.update()
    assert stream.getvalue() == "\r3/8 shards · 1,100 messages"
    text[0] = "4/8 shards · 1,200 messages"
    now[0] = 0.1
    line.update()
    assert "1,200" not in stream.getvalue(), "redrawn too soon"
    text[0] = "8/8"
    line.close()
    assert stream.getvalue().endswith("\r8/8" + " " * 24 + "\n"), "padded over the longer line"
    line.close()
    line.update(force=True)
    assert stream.getvalue().count("\n") == 1, "closed: nothing more"


def test_progress_into_a_log_is_a_line_now_and_then_never_a_carriage_return() -> None:
    """Not a terminal (``--progress`` under cron): whole lines, one every LOG_INTERVAL
    seconds at most, and the final one at close; no ``\\r`` to pile up in the log."""
    now = [0.0]
    text = ["0 messages"]
    stream = io.StringIO()
    line = Line(stream, lambda: text[0], enabled=True, terminal=False, clock=lambda: now[0])
    line.update()
    text[0] = "100 messages"
    now[0] = LOG_INTERVAL / 2
    line.update()
    now[0] = LOG_INTERVAL
    line.update()
    text[0] = "120 messages · done"
    line.close()
    line.close()
    assert stream.getvalue() == "0 messages\n100 messages\n120 messages · done\n"


def test_disabled_progress_writes_nothing() -> None:
    """Quiet means quiet."""
    stream = io.StringIO()
    line = Line(stream, lambda: "x", enabled=False)
    line.update(force=True)
    line.close()
    assert stream.getvalue() == ""


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "log"])
def test_a_progress_line_on_a_full_disk_stops_drawing_and_never_fails_the_work(
    terminal: bool,
) -> None:
    """`--progress 2>/dev/full`: the line is cosmetic; the export's summary says the rest."""

    class Full(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            Full.writes += 1
            raise OSError(errno.ENOSPC, "No space left on device")

    line = Line(Full(), lambda: "x", enabled=True, terminal=terminal)
    line.update(force=True)
    line.update(force=True)
    line.close()
    assert Full.writes == 1 and not line.enabled


def test_format_retries_lists_types_by_count() -> None:
    """Retries by type, most frequent first."""
    assert format_retries({}) == "0"
    assert format_retries({"429": 1, "503 errors/no_channel": 2}) == (
        "3 (503 errors/no_channel 2, 429 1)"
    )


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


@pytest.mark.parametrize(
    ("fault_rate", "latency", "expected"),
    [
        pytest.param(0.03, 0.005, "3% of requests", id="default"),
        pytest.param(0.005, 0.0, "0.5% of requests", id="under-one-percent"),
        pytest.param(0.0004, 0.0004, "0.4 ms latency", id="sub-millisecond"),
        pytest.param(0.0, 0.0, "no faults injected; no latency", id="none"),
    ],
)
def test_demo_reports_the_fault_rate_and_latency_it_ran_with(
    fault_rate: float, latency: float, expected: str
) -> None:
    """A fault rate under 1 % is not reported as 0 % (the report then counts retried faults)."""
    assert expected in faults_text(fault_rate, latency)


@pytest.mark.parametrize(
    ("note", "force", "expected"),
    [
        pytest.param(
            "shards=3 ignored: the stored plan has 8 (force=True re-plans and starts over)",
            True,
            "--shards 3 ignored: the stored plan has 8 (--force re-plans and starts over)",
            id="shards",
        ),
        pytest.param(
            "by='time' ignored: the stored plan was cut by='auto' (force=True re-plans and "
            "starts over)",
            True,
            "--by time ignored: the stored plan was cut by auto (--force re-plans and starts over)",
            id="by",
        ),
        pytest.param(
            "since ignored: the store follows from its own position (force=True starts the "
            "follow over from since)",
            False,
            "--since ignored: the store follows from its own position",
            id="since-in-a-watch-that-has-no-force",
        ),
        pytest.param("a note about nothing", True, "a note about nothing", id="other"),
    ],
)
def test_an_ingest_note_names_the_options_a_command_line_user_types(
    note: str, force: bool, expected: str
) -> None:
    """ingest's notes name its keywords (``shards=3``, ``force=True``); the CLI's say
    ``--shards 3`` and ``--force``, and never an option the command does not have."""
    assert option_note(note, force=force) == expected


def test_demo_counts_every_message_exported_not_only_the_resumed_run(tmp_path: Path) -> None:
    """The report's items and rate are the whole export's: the run stopped half-way and
    the one that resumed it (each run counts from zero on the progress they share)."""
    from ._helpers import run

    out = tmp_path / "demo.jsonl"
    result = run("demo", "--messages", "2000", "--fault-rate", "0", "--latency", "0",
                 "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = result.stdout.decode()
    assert "  items      2,000 messages (" in report, report
    elapsed = re.search(r"elapsed    ([\d.]+) s \(([\d,]+)/s\)", report)
    assert elapsed is not None, report
    seconds, rate = float(elapsed.group(1)), int(elapsed.group(2).replace(",", ""))
    # The rate is of the exact time, the report shows it to 1/100 s.
    assert rate * (seconds - 0.006) <= 2000 <= rate * (seconds + 0.006) + 1, report


@pytest.mark.slow
def test_demo_exports_through_faults_stops_resumes_and_verifies(tmp_path: Path) -> None:
    """`postpress demo`: faults retried, stopped half-way, resumed, once more for nothing,
    and every message exactly once."""
    out = tmp_path / "demo.jsonl"
    result = run_process("demo", "--messages", "4000", "--fault-rate", "0.2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = result.stdout.decode()
    assert "verified   OK: every message arrived exactly once" in report
    assert "4,000 messages" in report
    stopped = re.search(r"stopped    at ([\d,]+) messages stored", report)
    resumed = re.search(r"resumed    the same export again: ([\d,]+) more messages", report)
    assert stopped is not None and resumed is not None, report
    counts = [int(found.group(1).replace(",", "")) for found in (stopped, resumed)]
    assert sum(counts) == 4000
    assert counts[1] > 0, "stopped before the end"
    assert "again      the same export once more: 0 new messages" in report
    failed = re.search(
        r"of which ([\d,]+) failed on purpose by the server and were retried", report
    )
    assert failed is not None and int(failed.group(1)) > 0, "a 20 % fault rate must cause some"
    assert len(out.read_bytes().split(b"\n")) == 4001
