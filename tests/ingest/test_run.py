"""The runner: the Committer's group commit, run_shard, and ingest() into a strict store.

Every test against the fake server ends the same way: the store holds every id of the
fake's ground truth exactly once, and (where nothing was meant to be upserted) no row
was ever committed twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import anyio
import msgspec
import pytest

from postpress_async import InvalidParameterError, OutputLockedError
from postpress_async._params import MAX_SHARDS
from postpress_async._rows import RowPage, row_reader
from postpress_async.ingest import (
    ClientConfig,
    PlanMismatchError,
    Shard,
    ShardConflictError,
    SinkUnavailableError,
    ingest,
    open_sink,
    verify,
)
from postpress_async.ingest._commit import Committer
from postpress_async.ingest._run import IngestProgress, ShardResult, run_shard
from postpress_async.ingest._shards import Window
from postpress_async.ingest.sinks._base import Batch, Move, Stored
from postpress_async.testing import FakePostpress

from ._memory import Crash, CrashingSink, MemorySink, MemoryStore, crash_until_done


def exactly_once(store: MemoryStore, server: FakePostpress, endpoint: str = "messages") -> None:
    """The store holds the ground truth's ids, each once, each committed once."""
    truth = server.truth(endpoint)
    assert Counter(store.ids(endpoint)) == Counter(truth)
    assert set(store.written[endpoint].values()) <= {1}


# -- the Committer --------------------------------------------------------------------------


class GatedSink(MemorySink):
    """A memory sink whose commits wait until ``gate`` is set (a slow store)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = anyio.Event()

    async def commit(self, batch: Batch) -> int:
        await self.gate.wait()
        return await super().commit(batch)


def rows_page(*ids: str) -> RowPage:
    """A page of messages as the raw path reads it (the sink's columns: timestamp only)."""
    items = b",".join(
        b'{"id":"%s","timestamp":"2026-01-01T00:00:00.000Z","text":"x"}' % key.encode()
        for key in ids
    )
    read = row_reader("messages", ("timestamp",), endpoint_label="GET /messages")
    return read(b'{"items":[' + items + b'],"cursor":null}')


S = TypeVar("S", bound=MemorySink)


async def opened(sink: S) -> S:
    await sink.open()
    return sink


async def test_the_committer_commits_every_queued_page_as_one_batch() -> None:
    sink = await opened(GatedSink(columns=("timestamp",)))
    async with Committer(sink, "messages", max_pages=8) as committer:
        await committer.put("a", rows_page("m1"), b"a1", None)
        await anyio.wait_all_tasks_blocked()  # the writer holds page 1, waiting on the store
        await committer.put("a", rows_page("m2", "m3"), b"a2", b"a1")
        await committer.put("b", rows_page("m4"), b"b1", None)
        await committer.put("a", rows_page("m5"), b"a3", b"a2")
        sink.gate.set()
    first, second = sink.store.batches
    assert [row[0] for row in first.rows] == ["m1"]
    assert [row[0] for row in second.rows] == ["m2", "m3", "m4", "m5"]
    assert second.moves == [Move("a", b"a1", b"a3", 3, 2), Move("b", None, b"b1", 1, 1)]
    assert sink.store.position("messages", "a") == b"a3"
    assert committer.commits == 2
    assert committer.rows == 5


@pytest.mark.slow
async def test_a_full_queue_holds_the_producer_back() -> None:
    sink = await opened(GatedSink(columns=("timestamp",)))
    async with (
        Committer(sink, "messages", max_pages=2) as committer,
        anyio.create_task_group() as group,
    ):
        await committer.put("a", rows_page("m1"), b"1", None)
        await anyio.wait_all_tasks_blocked()
        await committer.put("a", rows_page("m2"), b"2", b"1")
        await committer.put("a", rows_page("m3"), b"3", b"2")
        fourth = anyio.Event()

        async def put_fourth() -> None:
            await committer.put("a", rows_page("m4"), b"4", b"3")
            fourth.set()

        group.start_soon(put_fourth)
        await anyio.wait_all_tasks_blocked()
        assert not fourth.is_set()  # two pages queued, one in the writer's hands: full
        sink.gate.set()
        await fourth.wait()
    assert sink.store.position("messages", "a") == b"4"
    assert sorted(sink.store.ids("messages")) == ["m1", "m2", "m3", "m4"]


@pytest.mark.slow
async def test_cancelled_only_the_group_being_written_finishes() -> None:
    sink = await opened(GatedSink(columns=("timestamp",)))
    scope = anyio.CancelScope()

    async def body() -> None:
        with scope:
            async with Committer(sink, "messages") as committer:
                await committer.put("a", rows_page("m1"), b"1", None)
                await anyio.wait_all_tasks_blocked()
                await committer.put("a", rows_page("m2"), b"2", b"1")
                await committer.put("a", rows_page("m3"), b"3", b"2")
                await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        group.start_soon(body)
        await anyio.wait_all_tasks_blocked()
        scope.cancel()
        await anyio.wait_all_tasks_blocked()  # the exit waits for the commit in flight
        assert sink.store.batches == []
        sink.gate.set()
    assert sink.store.ids("messages") == ["m1"]  # the queued pages were dropped
    assert sink.store.position("messages", "a") == b"1"  # and the position covers m1 only


async def test_an_error_exit_commits_what_is_queued_first() -> None:
    sink = await opened(GatedSink(columns=("timestamp",)))

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with Committer(sink, "messages") as committer:
            await committer.put("a", rows_page("m1"), b"1", None)
            await anyio.wait_all_tasks_blocked()
            await committer.put("a", rows_page("m2"), b"2", b"1")
            sink.gate.set()
            raise Boom
    assert sorted(sink.store.ids("messages")) == ["m1", "m2"]
    assert sink.store.position("messages", "a") == b"2"


async def test_the_writers_error_is_raised_from_put_and_from_the_exit() -> None:
    sink = await opened(MemorySink(columns=("timestamp",)))
    await sink.commit(Batch("messages", [], [], [Move("a", None, b"theirs", 0, 0)]))
    with pytest.raises(ShardConflictError, match="moved since it was read"):
        async with Committer(sink, "messages", max_pages=2) as committer:
            previous = None
            for n in range(50):  # the writer fails on the first; a later put says why
                await committer.put("a", rows_page(f"m{n}"), b"%d" % n, previous)
                previous = b"%d" % n
    with pytest.raises(ShardConflictError):
        async with Committer(sink, "messages") as committer:
            await committer.put("a", rows_page("m1"), b"mine", None)
    assert sink.store.ids("messages") == []
    assert sink.store.position("messages", "a") == b"theirs"


async def test_two_writers_of_one_name_in_one_process_are_refused() -> None:
    sink = await opened(GatedSink(columns=("timestamp",)))
    with pytest.raises(ShardConflictError, match="two writers"):
        async with Committer(sink, "messages") as committer:
            await committer.put("a", rows_page("m0"), b"0", None)
            await anyio.wait_all_tasks_blocked()
            await committer.put("a", rows_page("m1"), b"1", b"0")
            await committer.put("a", rows_page("m2"), b"2", b"0")  # not after b"1"
            sink.gate.set()
    assert sink.store.ids("messages") == ["m0"]


# -- run_shard ------------------------------------------------------------------------------


async def test_an_empty_shard_is_done_after_its_empty_page_and_then_skipped(
    config: ClientConfig, server: FakePostpress
) -> None:
    future = datetime(2100, 1, 1, tzinfo=timezone.utc)
    shard = Shard(endpoint="messages", label="late", window=Window(after=future))
    sink = await opened(MemorySink())
    async with config.client() as client:
        async with Committer(sink, "messages") as committer:
            first = await run_shard(client, shard, sink, committer)
        assert (first.items, first.pages, first.done, first.skipped) == (0, 1, True, False)
        checkpoint = sink.store.checkpoint("messages", "late")
        assert checkpoint is not None
        assert checkpoint.done
        requests = server.stats.requests
        async with Committer(sink, "messages") as committer:
            again = await run_shard(client, shard, sink, committer)
    assert again.skipped
    assert server.stats.requests == requests  # a done shard costs no request


async def test_a_shard_resumes_from_its_stored_checkpoint(
    config: ClientConfig, server: FakePostpress
) -> None:
    shard = Shard(endpoint="messages", label="all")
    store = MemoryStore()
    async with config.client() as client:
        sink = CrashingSink(MemorySink(store), at=3)
        await sink.open()
        with pytest.raises(Crash):
            async with Committer(sink, "messages", max_pages=1) as committer:
                await run_shard(client, shard, sink, committer)
        await sink.close()
        stored = len(store.ids("messages"))
        assert 0 < stored < len(server.truth("messages"))
        sink2 = await opened(MemorySink(store))
        async with Committer(sink2, "messages") as committer:
            result = await run_shard(client, shard, sink2, committer)
    assert result.items == len(server.truth("messages")) - stored
    assert result.done
    exactly_once(store, server)


async def test_a_stale_writer_is_refused(config: ClientConfig, server: FakePostpress) -> None:
    """A worker presumed dead writes again: its pages are refused, none stored twice."""
    shard = Shard(endpoint="messages", label="all")
    store = MemoryStore()
    live, stale = MemorySink(store), MemorySink(store)
    await live.open()
    await stale.open(writer=False)  # as a Dask worker opens it
    seen_before = await stale.positions("messages")  # what the stale worker read

    async def stale_positions(endpoint: str) -> dict[str, Any]:
        return seen_before

    stale.positions = stale_positions  # type: ignore[method-assign]
    async with config.client() as client:
        async with Committer(live, "messages") as committer:
            await run_shard(client, shard, live, committer, limit=100)
        with pytest.raises(ShardConflictError):
            async with Committer(stale, "messages") as committer:
                await run_shard(client, shard, stale, committer, limit=100)
    exactly_once(store, server)


# -- ingest ---------------------------------------------------------------------------------


async def test_ingest_stores_every_message_once_and_counts_what_is_stored(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore(append=True)
    progress = IngestProgress()
    result = await ingest(config, "messages", MemorySink(store), shards=4, progress=progress)
    exactly_once(store, server)
    total = len(server.truth("messages"))
    assert result.items == result.backfilled == result.new == progress.items == total
    assert result.backfill_done
    assert not result.resumed
    assert result.plan is not None
    assert len(result.results) == len(result.plan.shards) > 1
    assert progress.shards_done == len(result.plan.shards)
    assert result.caught_up_to is not None
    assert store.follow("messages") is not None  # derived from the shards, ready to follow


@pytest.mark.parametrize("applied", [False, True], ids=["before-commit", "answer-lost"])
async def test_a_crash_at_any_commit_resumes_without_loss_or_duplicate(
    config: ClientConfig, server: FakePostpress, applied: bool
) -> None:
    store = MemoryStore(append=True)
    # Each run commits once, then dies at its second commit.
    crashes = await crash_until_done(
        config, lambda: CrashingSink(MemorySink(store), at=1, applied=applied), shards=4
    )
    assert crashes > 3
    assert store.writer is None  # every crashed run let go of the store
    exactly_once(store, server)


async def test_a_finished_export_run_again_stores_nothing_and_is_no_error(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore(append=True)
    await ingest(config, "chats", MemorySink(store), shards=2)
    again = await ingest(config, "chats", MemorySink(store), shards=2)
    assert again.resumed
    assert (again.items, again.new, again.rejects) == (0, 0, 0)
    assert all(r.skipped for r in again.results)
    exactly_once(store, server, "chats")


async def test_new_messages_are_picked_up_by_the_next_run_and_it_says_so(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore(append=True)
    await ingest(config, "messages", MemorySink(store), shards=4)
    added = server.add_messages(250)
    again = await ingest(config, "messages", MemorySink(store), shards=4)
    assert (again.items, again.synced, again.new, again.backfilled) == (250, 250, 250, 0)
    assert again.caught_up_to is not None
    assert again.caught_up_to == max(
        msgspec.convert(msgspec.json.decode(store.data("messages", key))["timestamp"], datetime)
        for key in added
    )
    exactly_once(store, server)


async def test_another_window_or_filter_is_refused_and_shards_only_noted(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore()
    await ingest(config, "chats", MemorySink(store), shards=2)
    with pytest.raises(PlanMismatchError, match="account_id"):
        await ingest(config, "chats", MemorySink(store), account_id="acc_x")
    quiet = await ingest(config, "chats", MemorySink(store))  # a cron re-run: nothing to say
    assert quiet.notes == []
    again = await ingest(config, "chats", MemorySink(store), shards=3, by="account")
    assert again.notes == [
        "shards=3 ignored: the stored plan has 2 (force=True re-plans and starts over)",
        "by='account' ignored: the stored plan was cut by='auto' "
        "(force=True re-plans and starts over)",
    ]
    fresh = await ingest(config, "chats", MemorySink(store), shards=3, force=True)
    assert not fresh.resumed
    assert fresh.plan is not None
    assert fresh.plan.requested == 3
    assert fresh.items == len(server.truth("chats"))
    assert fresh.new == 0  # upserted again: the store held them all
    assert Counter(store.ids("chats")) == Counter(server.truth("chats"))
    # A store that appends (files) starts over on a new plan: all of it is new again.
    lines = MemoryStore(append=True)
    await ingest(config, "chats", MemorySink(lines), shards=2)
    over = await ingest(config, "chats", MemorySink(lines), shards=2, force=True)
    assert over.new == over.items == len(server.truth("chats"))
    assert Counter(lines.ids("chats")) == Counter(server.truth("chats"))


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        pytest.param(
            {"follow": True, "before": "2026-01-01T00:00:00Z"}, "frozen window", id="follow-before"
        ),
        pytest.param({"sender_id": "x", "unknown": 1}, "not a filter", id="unknown-filter"),
        pytest.param({"shards": 0}, "shards", id="no-shards"),
        pytest.param({"shards": MAX_SHARDS + 1}, "shards: must be at most", id="too-many-shards"),
        pytest.param({"since": "now"}, "backfill=False", id="since-with-backfill"),
        pytest.param({"backfill": False, "since": "yesterday"}, "since", id="bad-since"),
        pytest.param(
            {"after": "2026-02-01T00:00:00Z", "before": "2026-01-01T00:00:00Z"},
            "later than after",
            id="empty-window",
        ),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    config: ClientConfig, server: FakePostpress, arguments: dict[str, Any], match: str
) -> None:
    sink = MemorySink()
    with pytest.raises(InvalidParameterError, match=match):
        await ingest(config, "messages", sink, **arguments)
    assert server.stats.requests == 0
    assert not sink.opened


async def test_a_store_being_written_is_refused_before_any_request(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore()
    holder = await opened(MemorySink(store))
    with pytest.raises(OutputLockedError):
        await ingest(config, "messages", MemorySink(store))
    assert server.stats.requests == 0
    await holder.close()


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/no/m.db", "{tmp}/no/m.jsonl"])
async def test_a_store_in_a_missing_directory_is_refused_before_any_request(
    config: ClientConfig, server: FakePostpress, tmp_path: Path, url: str
) -> None:
    with pytest.raises(SinkUnavailableError, match="does not exist"):
        await ingest(config, "messages", url.format(tmp=tmp_path))
    assert server.stats.requests == 0


@pytest.mark.parametrize("kind", ["file", "parts"])
async def test_force_overwrites_a_file_that_is_not_an_exports(
    config: ClientConfig, server: FakePostpress, tmp_path: Path, kind: str
) -> None:
    """Refused without force, naming force as the way; with ``force=True`` (a URL, as the
    command line's ``--force`` does) it is overwritten, not refused again."""
    if kind == "file":
        url, foreign = str(tmp_path / "m.jsonl"), tmp_path / "m.jsonl"
    else:
        url, foreign = f"{tmp_path}/parts/", tmp_path / "parts" / "messages-all.jsonl"
        foreign.parent.mkdir()
    foreign.write_bytes(b"my own notes\n")
    with pytest.raises(SinkUnavailableError, match="--force"):
        await ingest(config, "messages", url)
    result = await ingest(config, "messages", url, force=True)
    assert result.new == len(server.truth("messages"))
    assert b"my own notes" not in b"".join(
        path.read_bytes() for path in foreign.parent.iterdir() if path.is_file()
    )


@pytest.mark.parametrize(
    ("url", "match"),
    [
        pytest.param("sqlite://m.db", "three slashes", id="sqlite-two-slashes"),
        pytest.param("mysql://x/y", "unknown sink scheme", id="unknown-scheme"),
    ],
)
async def test_a_bad_store_url_is_refused_before_any_request(
    config: ClientConfig, server: FakePostpress, url: str, match: str
) -> None:
    with pytest.raises(SinkUnavailableError, match=match):
        await ingest(config, "messages", url)
    assert server.stats.requests == 0


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("mysql://etl:s3cret@db/pp", id="unknown-scheme"),
        pytest.param("postgresq://etl:s3cret@db/pp", id="misspelt-scheme"),
        pytest.param("mysql://etl@db/pp?password=s3cret", id="password-parameter"),
    ],
)
def test_an_unknown_scheme_is_refused_without_showing_the_password(url: str) -> None:
    """A misspelt ``postgresql://`` in a cron line: the error names the URL, not its password."""
    with pytest.raises(SinkUnavailableError, match="unknown sink scheme") as caught:
        open_sink(url)
    assert "s3cret" not in str(caught.value)
    assert "etl" in str(caught.value)


@pytest.mark.parametrize(
    ("engine", "url", "match"),
    [
        pytest.param({"workers": 2}, "m.jsonl", "one writer process", id="file-on-dask"),
        pytest.param(
            {"scheduler": "tcp://127.0.0.1:1"}, "sqlite:///m.db", "one machine", id="sqlite-cluster"
        ),
    ],
)
async def test_an_engine_refuses_a_store_its_workers_cannot_share_before_any_request(
    config: ClientConfig, server: FakePostpress, engine: dict[str, Any], url: str, match: str
) -> None:
    from postpress_async.ingest.engines.dask import DaskEngine

    with pytest.raises(SinkUnavailableError, match=match):
        await ingest(config, "messages", url, engine=DaskEngine(**engine))
    assert server.stats.requests == 0


# -- the same runs into real stores (fast ones: SQLite, a JSON lines file, part files) --------

STORES = ["sqlite", "jsonl", "parts"]


def store_url(kind: str, tmp_path: Path) -> str:
    return {
        "sqlite": f"sqlite:///{tmp_path}/m.db",
        "jsonl": f"{tmp_path}/m.jsonl",
        "parts": f"{tmp_path}/parts/",
    }[kind]


async def stored(url: str, endpoint: str = "messages") -> tuple[list[str], int, int]:
    """A store's ids, the items its positions say were committed, and its rejects."""
    sink = open_sink(url)
    await sink.open(writer=False)
    try:
        ids = await sink.stored_ids(endpoint, after=None, before=None)  # type: ignore[arg-type]
        positions = await sink.positions(endpoint)  # type: ignore[arg-type]
        rejects = await sink.rejects(endpoint)  # type: ignore[arg-type]
    finally:
        await sink.close()
    return ids, sum(p.items for p in positions.values()), rejects


async def held_once(url: str, server: FakePostpress, endpoint: str = "messages") -> None:
    ids, committed, rejects = await stored(url, endpoint)
    assert Counter(ids) == Counter(server.truth(endpoint))
    assert committed == len(ids) + rejects  # no page committed twice


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.slow
async def test_a_real_store_is_filled_then_kept_in_sync(
    config: ClientConfig, server: FakePostpress, tmp_path: Path, kind: str
) -> None:
    url = store_url(kind, tmp_path)
    first = await ingest(config, "messages", url, shards=3)
    assert first.items == first.new == len(server.truth("messages"))
    server.add_messages(250)
    again = await ingest(config, "messages", url, shards=3)
    assert (again.items, again.new, again.synced) == (250, 250, 250)
    assert (await verify(config, "messages", url)).ok
    await held_once(url, server)


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.slow
async def test_a_real_store_resumes_after_a_crash_at_any_commit(
    config: ClientConfig, server: FakePostpress, tmp_path: Path, kind: str
) -> None:
    url = store_url(kind, tmp_path)
    crashes = await crash_until_done(config, lambda: CrashingSink(open_sink(url), at=1), shards=3)
    assert crashes > 3
    await held_once(url, server)


@pytest.mark.parametrize(
    ("before", "after", "counted"),
    [
        pytest.param(None, None, (10, 2, 1), id="nothing-stored"),
        pytest.param(None, Stored(b"{}", 11, 2), (10, 2, 1), id="one-try"),
        pytest.param(None, Stored(b"{}", 41, 5), (40, 5, 1), id="a-failed-try-before"),
        pytest.param(Stored(b"{}", 100, 9), Stored(b"{}", 141, 14), (40, 5, 1), id="resumed"),
    ],
)
def test_a_shard_result_counts_what_the_earlier_tries_of_its_task_stored(
    before: Stored | None, after: Stored | None, counted: tuple[int, int, int]
) -> None:
    """A Dask task's result told its last try only (10 rows, 1 reject, 2 pages)."""
    result = ShardResult(label="s0", items=10, rejects=1, pages=2)
    counted_result = result.with_earlier_tries(before, after)
    assert (counted_result.items, counted_result.pages, counted_result.rejects) == counted
