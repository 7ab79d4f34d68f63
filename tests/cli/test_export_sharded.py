"""``postpress export ... --to/--out DIR/ --shards``: sharded, resumable, refused when it cannot serve."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from postpress_async.cli import ExitCode, main
from postpress_async.testing import fake_dataset

DATASET = fake_dataset(seed=1, messages=300)  # --fake-messages 300


def test_export_to_sqlite_with_shards_then_again_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    assert (
        main(
            ["export", "messages", "--fake", "--fake-messages", "300", "--to", url, "--shards", "8"]
        )
        == ExitCode.OK
    )
    first = capsys.readouterr().err
    assert "exported 300 messages in 8 shards" in first
    with sqlite3.connect(tmp_path / "m.db") as db:
        ids = sorted(r[0] for r in db.execute("SELECT id FROM messages"))
    assert ids == sorted(DATASET.message_id(i) for i in range(DATASET.message_count))
    assert (
        main(
            ["export", "messages", "--fake", "--fake-messages", "300", "--to", url, "--shards", "8"]
        )
        == ExitCode.OK
    )
    assert "8 already complete" in capsys.readouterr().err


def test_export_with_other_options_into_the_same_store_needs_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    assert main(["export", "chats", "--fake", "--to", url, "--shards", "2"]) == ExitCode.OK
    assert main(["export", "chats", "--fake", "--to", url, "--shards", "3"]) == ExitCode.USAGE
    assert "shards: 2 -> 3" in capsys.readouterr().err
    argv = ["export", "chats", "--fake", "--to", url, "--shards", "3", "--force"]
    assert main(argv) == ExitCode.OK


def test_export_accounts_into_part_files(tmp_path: Path) -> None:
    out = tmp_path / "parts"
    assert main(["export", "accounts", "--fake", "--out", f"{out}/", "--quiet"]) == ExitCode.OK
    lines = (out / "accounts-all.jsonl").read_bytes().splitlines()
    assert len({json.loads(line)["id"] for line in lines}) == len(lines) == 14


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--to", "sqlite:///{tmp}/no/m.db"], "does not exist", id="missing-dir"),
        pytest.param(["--to", "mysql://x/y"], "unknown sink scheme", id="unknown-scheme"),
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
        pytest.param(["--to", "sqlite:///{tmp}/m.db", "--max-items", "5"], "--max-items", id="max"),
        pytest.param(["--shards", "2"], "say where", id="nowhere"),
    ],
)
def test_a_sink_or_engine_that_cannot_serve_is_a_usage_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    assert main(["export", "messages", "--fake", *args]) == ExitCode.USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.db").exists()
