"""verify(): the ids the store holds against the ids the API lists, window by window."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest

from postpress_async import InvalidParameterError
from postpress_async.ingest import ClientConfig, LocalEngine, ingest, verify
from postpress_async.testing import FakePostpress

from ._memory import Crash, CrashingSink, MemorySink, MemoryStore
from .test_run import exactly_once


async def exported(config: ClientConfig, endpoint: str = "messages") -> MemoryStore:
    store = MemoryStore()
    await ingest(config, endpoint, MemorySink(store), shards=3)  # type: ignore[arg-type]
    return store


@pytest.mark.slow
async def test_a_complete_store_verifies_ok_over_windows_of_its_span(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = await exported(config)
    report = await verify(config, "messages", MemorySink(store))
    assert report.ok
    assert report.compared == report.stored == len(server.truth("messages"))
    assert report.windows == report.windows_total >= 1
    assert report.span is not None
    assert not report.sampled
    assert "0 missing, 0 extra" in report.text()
    exactly_once(store, server)


async def test_rows_taken_out_are_missing_and_rows_put_in_are_extra(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = await exported(config)
    truth = server.truth("messages")
    gone = sorted(truth[100:103])
    for key in gone:
        store.delete("messages", key)
    # Two rows the API does not list, stamped within the store's span (copies of real ones).
    strays = []
    for n, key in enumerate(truth[200:202]):
        row = store.rows["messages"][key]
        stray = f"msg_stray_{n}"
        store.insert("messages", (stray, *row[1:]))
        strays.append(stray)
    report = await verify(config, "messages", MemorySink(store))
    assert not report.ok
    assert (report.missing, report.extra) == (3, 2)
    assert sorted(report.missing_ids) == gone
    assert report.extra_ids == sorted(strays)
    assert report.compared == len(truth)
    # A re-run of the export does not put back what the store lost behind its back (its
    # positions say it is stored): verify is what finds it.
    again = await ingest(config, "messages", MemorySink(store))
    assert again.items == 0


async def test_a_backfill_stopped_part_way_is_not_ok_until_a_run_finishes_it(
    config: ClientConfig, server: FakePostpress
) -> None:
    """A store whose backfill died part-way holds part of the span: what it never reached
    is outside the span compared, so the ids agree there; the report says it is unfinished."""
    store = MemoryStore()
    with pytest.raises(Crash):
        await ingest(
            config,
            "messages",
            CrashingSink(MemorySink(store), at=2),
            shards=1,  # newest first: the store holds the newest pages, a span with no gap
            engine=LocalEngine(max_pages=1),
        )
    assert 0 < len(store.ids("messages")) < len(server.truth("messages"))
    stopped = await verify(config, "messages", MemorySink(store))
    assert (stopped.missing, stopped.extra) == (0, 0)  # within the span it holds: all there
    assert (stopped.unfinished, stopped.shards) == (1, 1)
    assert not stopped.ok
    assert "backfill unfinished: 1 of 1 shards" in stopped.text()
    await ingest(config, "messages", MemorySink(store))
    finished = await verify(config, "messages", MemorySink(store))
    assert finished.ok and (finished.unfinished, finished.shards) == (0, 1)
    assert "unfinished" not in finished.text()


@pytest.mark.slow
async def test_a_sample_checks_some_windows_only(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = await exported(config)
    truth = server.truth("messages")
    store.delete("messages", truth[len(truth) // 2])
    whole = await verify(config, "messages", MemorySink(store))
    first = await verify(config, "messages", MemorySink(store), sample=2, seed=1)
    again = await verify(config, "messages", MemorySink(store), sample=2, seed=1)
    assert whole.missing == 1
    assert first.sampled
    assert first.windows == 2 < first.windows_total
    assert first.compared < len(truth)
    assert (first.compared, first.missing) == (again.compared, again.missing)  # same seed


@pytest.mark.parametrize("endpoint", ["chats", "accounts"])
async def test_chats_and_accounts_are_compared_whole(
    config: ClientConfig, server: FakePostpress, endpoint: str
) -> None:
    store = await exported(config, endpoint)
    ok = await verify(config, endpoint, MemorySink(store))  # type: ignore[arg-type]
    assert ok.ok
    assert ok.windows_total == 1
    assert ok.compared == len(server.truth(endpoint))
    key = server.truth(endpoint)[0]
    store.delete(endpoint, key)
    report = await verify(config, endpoint, MemorySink(store), sample=3)  # type: ignore[arg-type]
    assert (report.missing, report.missing_ids, report.extra) == (1, [key], 0)


async def test_an_empty_store_misses_everything(
    config: ClientConfig, server: FakePostpress
) -> None:
    report = await verify(config, "messages", MemorySink())
    assert report.missing == len(server.truth("messages"))
    assert len(report.missing_ids) == 10
    assert report.span is None


async def test_verify_reads_beside_a_running_writer_and_checks_its_arguments(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = await exported(config, "accounts")
    writer = MemorySink(store)
    await writer.open()  # an export holds the store: a verify only reads it
    report = await verify(config, "accounts", MemorySink(store))
    assert report.ok
    await writer.close()
    with pytest.raises(InvalidParameterError, match="sample"):
        await verify(config, "accounts", MemorySink(store), sample=0)
    with pytest.raises(InvalidParameterError, match="not a filter"):
        await verify(config, "messages", MemorySink(store), channel="x")
    assert msgspec.json.decode(store.data("accounts", server.truth("accounts")[0]))["id"]


async def test_a_finished_store_that_lost_its_oldest_rows_misses_them(
    config: ClientConfig, server: FakePostpress
) -> None:
    """The export covers everything before its newest item: a finished store that lost its
    oldest rows lacks them, though they lie outside the span the store still holds."""
    store = await exported(config)
    truth = server.truth("messages")  # newest first
    gone = sorted(truth[-2:])
    for key in gone:
        store.delete("messages", key)
    report = await verify(config, "messages", MemorySink(store))
    assert (report.missing, report.extra) == (2, 0)
    assert sorted(report.missing_ids) == gone
    assert not report.ok


async def test_a_finished_frozen_window_that_lost_its_newest_rows_misses_them(
    config: ClientConfig, server: FakePostpress
) -> None:
    """An export with ``before=`` holds everything up to it: a lost newest row is missing."""
    truth = server.truth("messages")
    index = server.dataset.find_message(truth[10])
    assert index is not None
    stamp = server.dataset.message_timestamp_ms(index)
    before = datetime.fromtimestamp(stamp / 1000, timezone.utc)
    store = MemoryStore()
    await ingest(config, "messages", MemorySink(store), shards=2, before=before)  # type: ignore[arg-type]
    held = store.ids("messages")
    newest = [key for key in truth if key in held][:2]
    for key in newest:
        store.delete("messages", key)
    report = await verify(config, "messages", MemorySink(store))
    assert (report.missing, report.extra) == (2, 0)
    assert sorted(report.missing_ids) == sorted(newest)


@pytest.mark.parametrize("name", ["typo/", "typo.jsonl"])
async def test_verify_of_a_file_store_that_is_not_there_says_so_and_creates_nothing(
    config: ClientConfig, server: FakePostpress, tmp_path: Path, name: str
) -> None:
    """A mistyped path is not an empty store whose every id is missing (and a reader
    makes no directory): the library says what the command line says."""
    from postpress_async.ingest import SinkUnavailableError

    with pytest.raises(SinkUnavailableError, match="no store there"):
        await verify(config, "messages", f"{tmp_path}/{name}")
    assert os.listdir(tmp_path) == []
