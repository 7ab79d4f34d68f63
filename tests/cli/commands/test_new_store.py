"""A store this run created and never wrote to does not outlive a run that failed.

`postpress export messages --to sqlite:///new.db` against a server out of reach used to
leave `new.db` behind, a file that looks like an export. A store that existed before
the run is never removed, nor one the run committed anything to.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from postpress_async.cli import ExitCode
from tests.cli._helpers import file_ids, run

FEW = ["--fake", "--fake-messages", "300"]


def closed_port() -> int:
    """A local port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def out_of_reach() -> list[str]:
    return ["--api-key", "k", "--base-url", f"http://127.0.0.1:{closed_port()}", "--retries", "0"]


STORES = [
    pytest.param(["--to", "sqlite:///new.db"], id="sqlite"),
    pytest.param(["--out", "new.jsonl"], id="file"),
    pytest.param(["--out", "new/"], id="parts"),
    # DuckDB's start-up alone is half a second: with the slow tests.
    pytest.param(["--to", "duckdb:///new.duckdb"], id="duckdb", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("store", STORES)
def test_an_export_that_never_reached_the_api_leaves_no_store_behind(
    store: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "duckdb" in store[1]:
        pytest.importorskip("duckdb")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.txt").write_bytes(b"not the store's\n")
    result = run(*out_of_reach(), "export", "messages", *store)
    assert result.returncode == ExitCode.NETWORK, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["mine.txt"]
    text = result.stderr.decode()
    assert text.startswith("error: cannot reach the API") and text.count("\n") == 1, text


def test_a_watch_into_a_new_store_that_never_reached_the_api_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*out_of_reach(), "watch", "messages", "--out", "new.jsonl", "--state", "s.json")
    assert result.returncode == ExitCode.NETWORK, result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("store", STORES[:3])
def test_a_store_that_existed_before_the_run_is_kept_whatever_happens(
    store: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even one the failed run did not write to: it is the user's (or an earlier run's)."""
    monkeypatch.chdir(tmp_path)
    assert run(*FEW, "export", "messages", *store, "--shards", "1", "--quiet").returncode == 0
    before = sorted(os.listdir(tmp_path))
    result = run(*out_of_reach(), "export", "messages", *store)
    assert result.returncode == ExitCode.NETWORK, result.stderr
    assert sorted(os.listdir(tmp_path)) == before
    assert b"run the same command again to continue" in result.stderr


def test_a_new_store_the_failed_run_committed_to_is_kept(tmp_path: Path) -> None:
    """A fault after the first pages: what was committed stays, to continue from."""
    out = tmp_path / "new.jsonl"
    export = ["export", "messages", "--out", str(out), "--limit", "50"]
    failed = run(*FEW, "--fake-fault-rate", "0.5", "--retries", "0", *export)
    assert failed.returncode == ExitCode.API_ERROR, failed.stderr
    assert 0 < len(file_ids(out)) < 300
    assert b"run the same command again to continue" in failed.stderr
