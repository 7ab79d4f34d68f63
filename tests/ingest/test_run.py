"""Exports into sinks: every id once, resumable after a crash at any page."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from postpress_async import Checkpoint, OutputLockedError
from postpress_async.ingest import (
    ClientConfig,
    IngestProgress,
    JsonLinesSink,
    PartFilesSink,
    PlanMismatchError,
    Shard,
    ShardConflictError,
    SinkUnavailableError,
    SQLiteSink,
    ingest,
    open_sink,
)
from postpress_async.ingest.engines.dask import DaskEngine

from .conftest import message_ids


class Crash(Exception):
    """Stands for the process dying between two pages."""


class CrashingSink:
    """A sink that dies after ``pages`` writes, the way a killed process would stop."""

    def __init__(self, inner: Any, pages: int) -> None:
        self.inner = inner
        self.url = inner.url
        self.reach = inner.reach
        self.left = pages

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write(
        self, shard: Shard, items: Sequence[Any], checkpoint: Checkpoint, previous: Checkpoint
    ) -> None:
        if self.left == 0:
            raise Crash
        self.left -= 1
        await self.inner.write(shard, items, checkpoint, previous)


def sqlite_ids(path: Path) -> tuple[list[str], int]:
    with sqlite3.connect(path) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM messages")]
        (written,) = db.execute("SELECT coalesce(sum(items), 0) FROM checkpoints").fetchone()
    return ids, written


def file_ids(paths: Sequence[Path]) -> list[str]:
    lines = [line for p in paths for line in p.read_bytes().split(b"\n") if line]
    return [json.loads(line)["id"] for line in lines]


async def test_sqlite_export_holds_every_message_once(config: ClientConfig, tmp_path: Path) -> None:
    progress = IngestProgress()
    result = await ingest(
        config, "messages", f"sqlite:///{tmp_path}/m.db", shards=4, progress=progress
    )
    ids, written = sqlite_ids(tmp_path / "m.db")
    assert sorted(ids) == sorted(message_ids())
    assert written == len(ids) == result.items == progress.items
    assert progress.shards_done == len(result.plan.shards)
    assert "shards" in progress.text()


async def test_a_crash_at_any_page_resumes_without_loss_or_duplicate(
    config: ClientConfig, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    crashes = 0
    while True:
        try:
            await ingest(config, "messages", CrashingSink(open_sink(url), pages=3), shards=4)
            break
        except Crash:
            crashes += 1
    ids, written = sqlite_ids(tmp_path / "m.db")
    assert crashes > 3
    assert sorted(ids) == sorted(message_ids())
    assert written == len(ids)  # no page was committed twice


async def test_part_files_resume_after_a_crash(config: ClientConfig, tmp_path: Path) -> None:
    out = tmp_path / "parts"
    with pytest.raises(Crash):
        await ingest(config, "messages", CrashingSink(PartFilesSink(out), pages=9), shards=3)
    second = await ingest(config, "messages", f"{out}/", shards=3)
    assert second.resumed
    ids = file_ids(sorted(out.glob("messages-*.jsonl")))
    assert Counter(ids) == Counter(message_ids())


async def test_one_json_lines_file_for_every_shard(config: ClientConfig, tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl"
    with pytest.raises(Crash):
        await ingest(config, "messages", CrashingSink(JsonLinesSink(out), pages=5), shards=3)
    await ingest(config, "messages", out, shards=3)
    assert Counter(file_ids([out])) == Counter(message_ids())


async def test_a_finished_export_run_again_fetches_nothing(
    config: ClientConfig, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    await ingest(config, "chats", url, shards=2)
    again = await ingest(config, "chats", url, shards=2)
    assert again.resumed
    assert again.items == 0
    assert all(r.skipped for r in again.results)


async def test_other_options_are_refused_and_force_starts_over(
    config: ClientConfig, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    await ingest(config, "chats", url, shards=2)
    with pytest.raises(PlanMismatchError, match="shards: 2 -> 3"):
        await ingest(config, "chats", url, shards=3)
    fresh = await ingest(config, "chats", url, shards=3, force=True)
    assert not fresh.resumed
    assert fresh.items > 0


async def test_a_stale_writer_is_refused(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "m.db")
    shard = Shard(endpoint="messages", label="s")
    await sink.open()
    try:
        await sink.write(shard, [], Checkpoint(cursor="c1"), Checkpoint())
        with pytest.raises(ShardConflictError, match="moved"):
            await sink.write(shard, [], Checkpoint(cursor="c2"), Checkpoint())
        assert await sink.checkpoint(shard) == Checkpoint(cursor="c1")
    finally:
        await sink.close()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        pytest.param("sqlite://m.db", "three slashes", id="sqlite-two-slashes"),
        pytest.param("mysql://x/y", "unknown sink scheme", id="unknown-scheme"),
    ],
)
def test_bad_sink_urls_are_refused(url: str, match: str) -> None:
    with pytest.raises(SinkUnavailableError, match=match):
        open_sink(url)


async def test_a_sink_in_a_missing_directory_fails_before_any_request(
    config: ClientConfig, tmp_path: Path
) -> None:
    with pytest.raises(SinkUnavailableError, match="does not exist"):
        await ingest(config, "messages", f"sqlite:///{tmp_path}/no/m.db")


@pytest.mark.parametrize(
    ("engine", "url", "match"),
    [
        pytest.param(DaskEngine(workers=2), "m.jsonl", "one writer process", id="file-on-dask"),
        pytest.param(
            DaskEngine(scheduler="tcp://127.0.0.1:1"),
            "sqlite:///m.db",
            "one machine",
            id="sqlite-cluster",
        ),
    ],
)
def test_an_engine_refuses_a_sink_its_workers_cannot_share(
    engine: DaskEngine, url: str, match: str
) -> None:
    with pytest.raises(SinkUnavailableError, match=match):
        engine.check(open_sink(url))


async def test_a_part_file_takes_one_writer_at_a_time(tmp_path: Path) -> None:
    shard = Shard(endpoint="messages", label="s")
    first, second = PartFilesSink(tmp_path), PartFilesSink(tmp_path)
    await first.open()
    await second.open()
    try:
        await first.write(shard, [], Checkpoint(cursor="c1"), Checkpoint())
        with pytest.raises(OutputLockedError):
            await second.write(shard, [], Checkpoint(cursor="c1"), Checkpoint())
    finally:
        await first.close()
        await second.close()


def test_the_ingest_package_lists_its_public_names_sorted() -> None:
    import postpress_async.ingest as package

    assert package.__all__ == sorted(package.__all__, key=lambda n: (n[:1].islower(), n))
    assert all(getattr(package, name).__doc__ for name in package.__all__ if name != "Endpoint")
