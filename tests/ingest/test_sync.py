"""Keeping a store in sync: the follow position, the catch-up, the follow, the refresh.

The fast tests run against the fake server and the strict in-memory store; each ends
with the fake's ground truth held exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Literal

import anyio
import msgspec
import pytest

from postpress_async import AsyncPostpress, InvalidParameterError, StateMismatchError
from postpress_async._poll import PollPolicy
from postpress_async._positions import AccountsSeen, WatchState, filters_fingerprint
from postpress_async._time import from_ms
from postpress_async.ingest import ClientConfig, IngestResult, ingest
from postpress_async.ingest._run import IngestProgress
from postpress_async.ingest._sync import chat_keys, follow_start, merge_follow, sync_follow
from postpress_async.ingest.sinks._base import FOLLOW, Batch, Move, Stored
from postpress_async.testing import Dataset, FakePostpress, LiveFeed, fake_dataset

from ._memory import Crash, CrashingSink, MemorySink, MemoryStore
from .test_run import exactly_once

FAST = PollPolicy(interval=0.05, max_interval=0.05, jitter=0.0)


async def until(check: Callable[[], bool]) -> None:
    """Wait until ``check()`` holds (a hang fails after a minute, not the whole run)."""
    with anyio.fail_after(60):
        while True:
            if check():
                return
            await anyio.sleep(0.02)


def state(
    watermark: int | None, floor: int | None, *seen: tuple[int, str], kind: str = "messages"
) -> WatchState:
    return WatchState(
        kind=kind, fingerprint="f", watermark_ms=watermark, floor_ms=floor, seen=tuple(seen)
    )


# -- merge_follow: pure ---------------------------------------------------------------------


def test_the_merged_position_takes_the_newest_watermark_and_the_union_of_seen() -> None:
    merged = merge_follow(
        [
            (None, state(1_000, 900, (950, "a"), (1_000, "b"))),
            (999, state(1_005, 999, (1_000, "c"), (1_005, "d"))),
        ],
        kind="messages",
        fingerprint="fp",
        overlap_ms=100,
    )
    assert merged.watermark_ms == 1_005
    assert merged.floor_ms == 904  # 1005 - 100 - 1: the shards' floors were lower
    assert merged.seen == ((950, "a"), (1_000, "b"), (1_000, "c"), (1_005, "d"))
    assert (merged.kind, merged.fingerprint, merged.now) == ("messages", "fp", False)


def test_a_shard_that_forgot_ids_keeps_the_floor_where_its_memory_starts() -> None:
    # The first shard forgot what lies at or below 950 (its floor rose above its start):
    # the merged floor may not fall below it, or those ids would be handed out again.
    merged = merge_follow(
        [(None, state(961, 950, (961, "a"))), (970, state(975, 970, (975, "b")))],
        kind="messages",
        fingerprint="fp",
        overlap_ms=100,
    )
    assert merged.floor_ms == 950
    assert merged.seen == ((961, "a"), (975, "b"))


def test_a_shard_that_never_forgot_does_not_raise_the_floor() -> None:
    # The newest shard's window starts at 990 and it forgot nothing: its floor is its
    # window, and the older shard's ids above the settled floor stay remembered.
    merged = merge_follow(
        [(None, state(985, None, (980, "a"), (985, "b"))), (990, state(995, 990, (995, "c")))],
        kind="messages",
        fingerprint="fp",
        overlap_ms=10,
    )
    assert merged.floor_ms == 984
    assert merged.seen == ((985, "b"), (995, "c"))


def test_empty_shards_give_the_exports_own_floor_and_no_watermark() -> None:
    merged = merge_follow(
        [(500, state(None, 500)), (800, state(None, 800))],
        kind="chats",
        fingerprint="fp",
        overlap_ms=10,
    )
    assert (merged.watermark_ms, merged.floor_ms, merged.seen) == (None, 500, ())
    open_ended = merge_follow(
        [(None, state(None, None))], kind="messages", fingerprint="f", overlap_ms=1
    )
    assert (open_ended.watermark_ms, open_ended.floor_ms) == (None, None)


def test_an_id_seen_by_two_shards_is_kept_once_at_its_newest_time() -> None:
    merged = merge_follow(
        [(None, state(100, None, (90, "x"))), (None, state(100, None, (100, "x")))],
        kind="chats",
        fingerprint="fp",
        overlap_ms=50,
    )
    assert merged.seen == ((100, "x"),)
    keyed = chat_keys(merged)
    assert keyed.seen == ((100, "x@100"),)
    assert chat_keys(keyed) is keyed  # converted once


def test_a_chats_position_stored_by_a_watch_is_read_with_chats_known_by_id_at_time() -> None:
    fingerprint = filters_fingerprint("chats", {})
    watched = WatchState(kind="chats", fingerprint=fingerprint, watermark_ms=5, seen=((5, "c"),))
    stored = Stored(msgspec.json.encode(watched), 0, 0)
    start, previous = follow_start("chats", {}, stored, since=None, url="memory://m")
    assert start.seen == ((5, "c@5"),)
    assert previous == stored.position  # the compare-and-set is on the bytes as stored


def test_a_stored_position_of_other_filters_is_refused_naming_both() -> None:
    stored = Stored(msgspec.json.encode(WatchState(kind="messages", fingerprint="abc")), 0, 0)
    with pytest.raises(StateMismatchError, match=r"fingerprint abc.*account_id=acc_1 give"):
        follow_start("messages", {"account_id": "acc_1"}, stored, since=None, url="memory://m")
    wanted = filters_fingerprint("messages", {"account_id": "acc_1"})
    ours = Stored(msgspec.json.encode(WatchState(kind="messages", fingerprint=wanted)), 0, 0)
    start, previous = follow_start(
        "messages", {"account_id": "acc_1"}, ours, since=None, url="memory://m"
    )
    assert previous == ours.position
    assert start.fingerprint == wanted


# -- catch-up -------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_catch_up_stops_once_caught_up_without_waiting_for_a_poll(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore(append=True)
    await ingest(config, "messages", MemorySink(store), shards=2)
    server.add_messages(250)  # a backlog of more than a page (limit 100)
    sink = MemorySink(store)
    await sink.open()
    waited: list[float] = []

    async def sleep(delay: float) -> None:
        waited.append(delay)

    stored = (await sink.positions("messages"))[FOLLOW]
    start = msgspec.json.decode(stored.position, type=WatchState)
    async with config.client() as client:
        result = await sync_follow(
            client,
            "messages",
            sink,
            filters={},
            start=start,
            previous=stored.position,
            follow=False,
            policy=PollPolicy(interval=3600, max_interval=3600),
            limit=100,
            sleep=sleep,
        )
    await sink.close()
    assert waited == []  # neither between the backlog's polls nor to decide it was done
    assert result.polls == 2  # the backlog (> a page), then a poll with nothing new
    assert result.items == 250
    assert store.position("messages", FOLLOW) == result.position
    exactly_once(store, server)


@pytest.mark.slow
async def test_a_long_backlog_is_committed_batch_by_batch_and_a_crash_loses_nothing() -> None:
    dataset = fake_dataset(seed=8, messages=300)
    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        store = MemoryStore(append=True)
        await ingest(config, "messages", MemorySink(store), shards=2)
        backfill = len(store.batches)
        now = datetime.fromtimestamp(server.now(), timezone.utc)
        for k in range(30):  # far more than a watch holds at once (8 pages of 50)
            server.add_messages(50, timestamp=now - timedelta(seconds=30 - k))
        with pytest.raises(Crash):
            await ingest(config, "messages", CrashingSink(MemorySink(store), at=4))
        kept = len(store.ids("messages")) - 300
        assert 0 < kept < 1500  # some batches stored, not all
        again = await ingest(config, "messages", MemorySink(store))
        assert again.items == 1500 - kept
        follow = [b for b in store.batches[backfill:] if b.rows]
        assert len(follow) > 5  # committed as it came, not in one piece
        assert all(len(batch.rows) <= 16 * 50 for batch in follow)  # a group: 16 pages at most
        exactly_once(store, server)


async def test_messages_listed_late_within_the_overlap_are_stored_by_the_next_run(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore(append=True)
    await ingest(config, "messages", MemorySink(store), shards=2)
    now = datetime.fromtimestamp(server.now(), timezone.utc)
    # Stamped a second ago, listed only in 0.3 s: older than what the next run stores.
    late = server.add_messages(3, timestamp=now - timedelta(seconds=1), listed_after=1.3)
    server.add_messages(2, timestamp=now)
    first = await ingest(config, "messages", MemorySink(store))
    assert first.items == 2  # the late ones are not listed yet
    await until(lambda: not server.live.unlisted())
    second = await ingest(config, "messages", MemorySink(store))
    assert second.items == 3  # older than the watermark, within the overlap: found
    assert set(store.ids("messages")[-3:]) == set(late)
    exactly_once(store, server)


async def test_a_server_clock_behind_loses_nothing() -> None:
    dataset = fake_dataset(seed=4, messages=600)
    async with FakePostpress(dataset=dataset, clock_skew=-120) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        store = MemoryStore(append=True)
        server.add_messages(20)
        await ingest(config, "messages", MemorySink(store), shards=3)
        server.add_messages(30)
        server.add_messages(5, listed_after=0.2)
        await ingest(config, "messages", MemorySink(store))
        await until(lambda: not server.live.unlisted())
        again = await ingest(config, "messages", MemorySink(store))
        assert again.items == 5
        exactly_once(store, server)


# -- follow ---------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_follow_keeps_up_with_a_live_feed_and_cancelling_keeps_its_position() -> None:
    dataset = fake_dataset(seed=6, messages=800)
    feed = LiveFeed(rate=200, burst=4, late_ms=300, late_share=0.3, live_for=1.0, seed=2)
    async with FakePostpress(dataset=dataset, live=feed) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=50)
        store = MemoryStore(append=True)
        progress = IngestProgress()

        def caught_up() -> bool:
            # The feed has ended and every message it added is listed (a share is listed up
            # to 300 ms late): only then is the truth final.
            settled = not server.live_running and server.live.unlisted() == 0
            return settled and Counter(store.ids("messages")) == Counter(server.truth("messages"))

        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(
                    lambda: ingest(
                        config,
                        "messages",
                        MemorySink(store),
                        shards=3,
                        follow=True,
                        policy=FAST,
                        progress=progress,
                    )
                )
                await until(caught_up)
                scope.cancel()
        assert store.writer is None  # the cancelled follow let go of the store
        assert server.live.count > 100
        assert progress.phase == "follow"
        assert progress.items == len(store.ids("messages"))
        follow = store.follow("messages")
        assert follow is not None
        assert follow.watermark_ms == progress.caught_up_ms
        again = await ingest(config, "messages", MemorySink(store))
        assert again.items == 0  # the committed position covered everything stored
        exactly_once(store, server)


async def test_a_follow_without_backfill_starts_now_and_continues_from_its_position(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore(append=True)
    built = set(server.truth("messages"))
    first = await ingest(config, "messages", MemorySink(store), backfill=False)
    assert (first.items, first.plan, first.resumed) == (0, None, False)
    follow = store.follow("messages")
    assert follow is not None
    assert not follow.now  # "now" was resolved from the server and stored
    assert follow.watermark_ms is not None
    added = server.add_messages(40)
    second = await ingest(config, "messages", MemorySink(store), backfill=False, since="now")
    assert second.resumed
    assert second.items == 40
    assert second.notes == [
        "since ignored: the store follows from its own position "
        "(force=True starts the follow over from since)"
    ]
    assert sorted(store.ids("messages")) == sorted(added)
    assert set(server.truth("messages")) == built | set(added)
    assert set(store.written["messages"].values()) == {1}


async def test_a_follow_from_a_time_stores_what_is_after_it(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore(append=True)
    since = datetime(2000, 1, 1, tzinfo=timezone.utc)  # before everything: all of it
    result = await ingest(config, "messages", MemorySink(store), backfill=False, since=since)
    assert result.items == len(server.truth("messages"))
    exactly_once(store, server)


async def test_a_follow_of_other_filters_is_refused(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore()
    await ingest(config, "messages", MemorySink(store), backfill=False)
    account = server.dataset.account_id(0)
    with pytest.raises(StateMismatchError, match=f"account_id={account}"):
        await ingest(config, "messages", MemorySink(store), backfill=False, account_id=account)
    assert store.writer is None


# -- rejects, chats, accounts ---------------------------------------------------------------


async def test_bad_records_readable_ids_once_and_rejects_counted_once() -> None:
    dataset = Dataset(messages=1000, bad_records=True)
    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=100)
        unreadable = server.truth_report("messages")["unreadable"]
        assert len(unreadable) == 4
        store = MemoryStore(append=True)
        first = await ingest(config, "messages", MemorySink(store), shards=3)
        assert first.rejects == len(store.rejected["messages"]) == 4
        assert sorted(r.raw.decode() for r in store.rejected["messages"]) == sorted(
            u["raw"] for u in unreadable
        )
        again = await ingest(config, "messages", MemorySink(store), shards=3)
        assert again.rejects == 0
        exactly_once(store, server)
        # The follow path places them too: a follow over everything stores each once.
        followed = MemoryStore(append=True)
        since = datetime(2000, 1, 1, tzinfo=timezone.utc)
        result = await ingest(config, "messages", MemorySink(followed), backfill=False, since=since)
        assert result.rejects == 4
        await ingest(config, "messages", MemorySink(followed), backfill=False)
        assert len(followed.rejected["messages"]) == 4
        exactly_once(followed, server)


async def backfill_then_move_three_chats(
    config: ClientConfig, server: FakePostpress, store: MemoryStore
) -> tuple[list[str], IngestResult]:
    """Export the chats, post a message in three of them, export again: (moved, that run)."""
    await ingest(config, "chats", MemorySink(store), shards=2)
    moved = [server.dataset.chat_id(k) for k in (3, 11, 25)]
    for chat in moved:
        server.add_messages(1, chat_id=chat)
    return moved, await ingest(config, "chats", MemorySink(store), shards=2)


async def test_chats_whose_activity_moved_are_stored_again(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore()
    moved, again = await backfill_then_move_three_chats(config, server, store)
    assert (again.items, again.new) == (3, 0)
    for chat in moved:
        stored = msgspec.json.decode(store.data("chats", chat))
        index = server.dataset.find_chat(chat)
        assert index is not None
        assert stored["timestamp"] == server.dataset.chat(index)["timestamp"]
    assert Counter(store.ids("chats")) == Counter(server.truth("chats"))
    assert {k for k, n in store.written["chats"].items() if n > 1} == set(moved)
    third = await ingest(config, "chats", MemorySink(store), shards=2)
    assert third.items == 0


# -- chat_time: what before/after bound on chats ---------------------------------------------


@pytest.mark.parametrize(
    "chat_time",
    [pytest.param("activity", id="activity-misses-them"), pytest.param("created", id="created")],
)
async def test_against_a_creation_bound_only_created_stores_chats_whose_activity_moved(
    chat_time: Literal["activity", "created"],
) -> None:
    dataset = fake_dataset(seed=3, messages=1500, chat_time="created")
    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(
            base_url=server.url, api_key=server.api_key, limit=100, chat_time=chat_time
        )
        store = MemoryStore()
        moved, again = await backfill_then_move_three_chats(config, server, store)
        current = {chat: _activity(server, chat) for chat in moved}
        stored = {
            chat: msgspec.json.decode(store.data("chats", chat))["timestamp"] for chat in moved
        }
        if chat_time == "activity":
            # The SDK's default reading sends after=<floor>; this server bounds creation by
            # it, so the moved chats (created long ago) are never listed: the store is stale.
            assert again.items == 0
            assert not set(stored.items()) & set(current.items())
            return
        assert (again.items, again.new) == (3, 0)
        assert stored == current
        assert {k for k, n in store.written["chats"].items() if n > 1} == set(moved)
        assert Counter(store.ids("chats")) == Counter(server.truth("chats"))
        third = await ingest(config, "chats", MemorySink(store), shards=2)
        assert third.items == 0


async def test_under_created_an_export_after_a_moment_follows_only_chats_created_after_it() -> None:
    dataset = fake_dataset(seed=3, messages=1500, chat_time="created")
    created = sorted((dataset.chat_created_ms(c) or 0, c) for c in range(dataset.chat_count))
    middle = created[len(created) // 2][0]
    older, newer = (dataset.chat_id(c) for c in (created[0][1], created[-1][1]))
    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(
            base_url=server.url, api_key=server.api_key, limit=100, chat_time="created"
        )
        store = MemoryStore()
        after = from_ms(middle)
        await ingest(config, "chats", MemorySink(store), shards=2, after=after)
        assert Counter(store.ids("chats")) == Counter(server.truth("chats", after=after))
        for chat in (older, newer):
            server.add_messages(1, chat_id=chat)
        again = await ingest(config, "chats", MemorySink(store), shards=2, after=after)
        assert again.items == 1  # the chat created before the export's after stays out
        assert older not in store.ids("chats")
        assert msgspec.json.decode(store.data("chats", newer))["timestamp"] == _activity(
            server, newer
        )


async def test_chat_time_survives_the_client_config_a_worker_rebuilds_its_client_from() -> None:
    client = AsyncPostpress(api_key="k", base_url="https://api.example.com/v1", chat_time="created")
    config = ClientConfig.from_client(client)
    assert config.chat_time == "created"
    sent = msgspec.json.encode(config)  # what the Dask engine sends its workers
    received = msgspec.json.decode(sent, type=ClientConfig)
    assert received == config
    async with received.client() as rebuilt:
        assert rebuilt.chat_time == "created"
    plain = ClientConfig(base_url="https://api.example.com/v1", api_key="k")
    assert plain.chat_time == "activity"
    older = msgspec.json.encode({"base_url": plain.base_url, "api_key": "k"})  # no field
    assert msgspec.json.decode(older, type=ClientConfig) == plain
    with pytest.raises(InvalidParameterError, match="chat_time") as bad:
        ClientConfig(base_url=plain.base_url, api_key="k", chat_time="creation")  # type: ignore[arg-type]
    assert bad.value.param == "chat_time"
    with pytest.raises(msgspec.ValidationError, match="chat_time"):
        msgspec.json.decode(sent.replace(b'"created"', b'"creation"'), type=ClientConfig)


def _activity(server: FakePostpress, chat_id: str) -> str:
    index = server.dataset.find_chat(chat_id)
    assert index is not None
    timestamp: str = server.dataset.chat(index)["timestamp"]
    return timestamp


async def test_an_accounts_refresh_stores_and_counts_new_and_changed_accounts(
    config: ClientConfig, server: FakePostpress
) -> None:
    store = MemoryStore()
    first = await ingest(config, "accounts", MemorySink(store))
    truth = server.truth("accounts")
    assert (first.items, first.new, first.synced) == (len(truth), len(truth), 0)
    # Behind the runner's back: one account gone from the store (a new one upstream),
    # another stored with other bytes (it changed upstream).
    gone, changed = truth[0], truth[1]
    store.delete("accounts", gone)
    raw = store.position("accounts", FOLLOW)
    assert raw is not None
    seen = msgspec.json.decode(raw, type=AccountsSeen)
    digests = {k: v for k, v in seen.digests.items() if k != gone}
    digests[changed] = "0" * 24
    sink = MemorySink(store)
    await sink.open()
    moved = msgspec.json.encode(AccountsSeen(digests=digests))
    await sink.commit(Batch("accounts", [], [], [Move(FOLLOW, raw, moved, 0, 0)]))
    await sink.close()
    again = await ingest(config, "accounts", MemorySink(store))
    assert (again.items, again.new, again.changed) == (2, 1, 1)
    third = await ingest(config, "accounts", MemorySink(store))
    assert (third.items, third.new, third.changed) == (0, 0, 0)
    assert Counter(store.ids("accounts")) == Counter(truth)
