"""`postpress verify`: the store against the API; exit 0 only when they agree."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.cli._helpers import run

FAKE = ["--fake", "--fake-messages", "600"]


@pytest.mark.slow
def test_verify_agrees_then_names_a_row_deleted_from_the_store(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    url = f"sqlite:///{db}"
    assert run(*FAKE, "export", "messages", "--to", url, "--quiet").returncode == 0
    agreed = run(*FAKE, "verify", "messages", "--to", url)
    assert agreed.returncode == 0, agreed.stderr
    assert agreed.stdout.decode().startswith("messages: 600 compared in ")
    assert "0 missing, 0 extra" in agreed.stdout.decode()
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        (victim,) = conn.execute("SELECT id FROM messages ORDER BY id LIMIT 1 OFFSET 17").fetchone()
        conn.execute("DELETE FROM messages WHERE id = ?", (victim,))
    differs = run(*FAKE, "verify", "messages", "--to", url)
    assert differs.returncode == 1
    assert f"1 missing, 0 extra (missing: {victim})" in differs.stdout.decode()
    assert differs.stderr.decode().startswith("error: ")
    assert differs.stderr.count(b"\n") == 1


@pytest.mark.slow
def test_verify_a_file_of_chats_and_a_sample_of_messages(tmp_path: Path) -> None:
    chats, messages = tmp_path / "chats.jsonl", tmp_path / "messages.jsonl"
    assert run(*FAKE, "export", "chats", "--out", str(chats), "--quiet").returncode == 0
    assert run(*FAKE, "export", "messages", "--out", str(messages), "--quiet").returncode == 0
    assert run(*FAKE, "verify", "chats", "--out", str(chats)).returncode == 0
    sampled = run(*FAKE, "verify", "messages", "--out", str(messages), "--sample", "1")
    assert sampled.returncode == 0, sampled.stderr
    other = run(*FAKE, "verify", "accounts", "--out", str(chats))
    assert other.returncode == 2
    assert b"holds an export of chats" in other.stderr


def test_verify_of_a_file_of_another_resource_names_it_without_force(tmp_path: Path) -> None:
    """verify only reads: its refusal names what the file holds, never ``--force``."""
    chats = tmp_path / "chats.jsonl"
    exported = run(*FAKE, "export", "chats", "--out", str(chats), "--quiet")
    assert exported.returncode == 0, exported.stderr
    other = run(*FAKE, "verify", "messages", "--out", str(chats))
    assert other.returncode == 2
    text = other.stderr.decode()
    assert f"{chats} holds an export of chats, not messages" in text
    assert "--force" not in text
    assert text.count("\n") == 1, text


@pytest.mark.skipif(sys.platform != "linux", reason="a file name that is not UTF-8")
def test_a_store_path_stdout_cannot_encode_does_not_fail_an_agreeing_verify(
    tmp_path: Path,
) -> None:
    """A file name with a byte that is not UTF-8 (Python's surrogate escape), printed to a
    strict UTF-8 stdout (a usual desktop locale): exit 0 with the report, not "unexpected
    UnicodeEncodeError" and exit 1 for a store that agrees."""
    store = tmp_path / "caf\udce9.jsonl"  # the bytes b"caf\xe9.jsonl"
    few = ["--fake", "--fake-messages", "50"]
    exported = run(*few, "export", "messages", "--out", str(store), "--quiet")
    assert exported.returncode == 0, exported.stderr
    verified = run(*few, "verify", "messages", "--out", str(store))  # stdout: strict UTF-8
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(b"messages: 50 compared"), verified.stdout
    assert verified.stderr == b""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], b"say where", id="nowhere"),
        pytest.param(["--to", "m.db"], b"sqlite:///m.db", id="a-path-that-means-sqlite"),
        pytest.param(["--to", "sqlite:///m.db", "--sample", "0"], b"--sample", id="sample"),
        pytest.param(["--to", "sqlite:///m.db", "--after", "2026-01-01T00:00:00Z"],
                     b"unrecognized arguments: --after", id="no-time-bounds"),
    ],
)  # fmt: skip
def test_what_cannot_be_verified_is_a_usage_error(
    args: list[str], message: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*FAKE, "verify", "messages", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("resource", ["chats", "accounts"])
def test_sample_is_refused_where_it_would_do_nothing(
    resource: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chats and accounts are compared whole: ``--sample`` there is not silently ignored."""
    monkeypatch.chdir(tmp_path)
    result = run(*FAKE, "verify", resource, "--to", "sqlite:///m.db", "--sample", "2")
    assert result.returncode == 2, result.stderr
    assert b"--sample" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(["--to", "sqlite:///typo.db"], id="sqlite"),
        pytest.param(["--to", "duckdb:///typo.duckdb"], id="duckdb"),
        pytest.param(["--out", "typo.jsonl"], id="jsonl"),
        pytest.param(["--out", "typo/"], id="part-files"),
    ],
)
def test_a_store_that_does_not_exist_is_refused_and_not_created(
    target: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped store is exit 2, not an empty store made on the spot and "all missing"."""
    if target[1].startswith("duckdb"):
        pytest.importorskip("duckdb")
    monkeypatch.chdir(tmp_path)
    result = run(*FAKE, "verify", "messages", *target)
    assert result.returncode == 2, result.stderr
    assert b"no store" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_file_whose_sidecar_is_elsewhere_is_verified_with_state(tmp_path: Path) -> None:
    """``watch messages --out FILE --state STATE`` keeps the sidecar at STATE: verify
    reads it from there too (else it could only call the file "not an export's")."""
    out, state = tmp_path / "new.jsonl", tmp_path / "new.state"
    assert run(*FAKE, "export", "messages", "--out", str(out), "--quiet").returncode == 0
    (tmp_path / "new.jsonl.checkpoint").rename(state)  # as a watch --state keeps it
    agreed = run(*FAKE, "verify", "messages", "--out", str(out), "--state", str(state))
    assert agreed.returncode == 0, agreed.stderr
    assert b"0 missing, 0 extra" in agreed.stdout
    url = f"sqlite:///{tmp_path}/m.db"
    wrong = run(*FAKE, "verify", "messages", "--to", url, "--state", str(state))
    assert wrong.returncode == 2 and b"--state goes with --out FILE" in wrong.stderr
