"""Watching a live fake server: messages arrive in bursts, some are listed late, requests fail.

Every test checks the two promises of a watch against the server's ground truth: each
message is handed out once (exactly once), and every message is handed out (complete).
The fast tests script arrivals with ``server.add_messages``; the slow ones run a
``LiveFeed`` for a fraction of a second, with faults and restarts from a saved state.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import msgspec
import pytest

from postpress_async import (
    AsyncPostpress,
    PollPolicy,
    RetryPolicy,
    ServiceUnavailableError,
    UnreadableItemError,
    WatchState,
    WatchStream,
)
from postpress_async.models import Message
from postpress_async.testing import Dataset, FakePostpress, FaultKind, Faults, LiveFeed

FAST = PollPolicy(interval=0.005, jitter=0.2, idle_backoff=1.5, max_interval=0.02, overlap=0.5)


def client_for(server: FakePostpress, *, attempts: int = 6) -> AsyncPostpress:
    return AsyncPostpress(
        api_key=server.api_key,
        base_url=server.url,
        retry=RetryPolicy(attempts=attempts, wait_initial=0.001, wait_max=0.004),
    )


def new_ids(server: FakePostpress, built: int) -> list[str]:
    """The ground truth: every message added after the dataset was built, oldest first."""
    ds = server.dataset
    rows = [ds.message_row(i) for i in range(built, ds.message_count)]
    return [row.id for row in sorted(rows, key=lambda r: (r.timestamp_ms, r.id))]


#: Before every message a live server adds (they carry the current time), after the dataset.
SINCE = datetime(2026, 6, 1, tzinfo=timezone.utc)


async def collect_until(messages: AsyncIterator[Message], got: list[str], count: int) -> None:
    """Take from one watch's iterator until ``got`` holds ``count`` ids."""
    with anyio.fail_after(20):
        while len(got) < count:
            got.append((await anext(messages)).id)


def sdk_tasks() -> list[str]:
    return [
        repr(task.get_coro())
        for task in asyncio.all_tasks()
        if "postpress_async" in repr(task.get_coro()) and "testing" not in repr(task.get_coro())
    ]


async def test_bursts_and_late_listings_are_handed_out_exactly_once() -> None:
    async with FakePostpress(dataset=Dataset(seed=11, messages=100)) as server:
        built = server.dataset.message_count
        async with client_for(server) as client:
            stream = aiter(client.messages.watch(since=SINCE, policy=FAST, limit=3))
            got: list[str] = []
            server.add_messages(5)  # a burst in one millisecond, over two pages
            await collect_until(stream, got, 5)
            server.add_messages(2, listed_after=0.05)  # listed late, behind what follows
            await anyio.sleep(0.002)
            server.add_messages(3)
            await collect_until(stream, got, 10)
    assert Counter(got) == Counter(new_ids(server, built))
    assert len(got) == 10


async def test_a_failure_past_the_retries_keeps_the_state_and_resume_completes() -> None:
    async with FakePostpress(dataset=Dataset(seed=12, messages=50)) as server:
        built = server.dataset.message_count
        async with client_for(server, attempts=2) as client:
            first = client.messages.watch(since=SINCE, policy=FAST)
            messages = aiter(first)
            got: list[str] = []
            server.add_messages(3)
            await collect_until(messages, got, 3)
            server.inject("messages.list", ["service_unavailable"] * 2)
            server.add_messages(2)
            with pytest.raises(ServiceUnavailableError):
                await collect_until(messages, got, 5)
            saved = msgspec.json.encode(first.state)
            resumed = msgspec.json.decode(saved, type=WatchState)
            second = client.messages.watch(since=resumed, policy=FAST)
            await collect_until(aiter(second), got, 5)
    assert got == new_ids(server, built)


async def test_a_finished_backfill_continues_with_no_gap_and_no_duplicate() -> None:
    async with FakePostpress(dataset=Dataset(seed=13, messages=300)) as server:
        async with client_for(server) as client:
            server.add_messages(4)
            listing = client.messages.list(limit=50)
            backfill = []
            async for message in listing:
                backfill.append(message.id)
                if len(backfill) == 100:
                    server.add_messages(3)  # arrives during the backfill, on earlier pages
            followed: list[str] = []
            stream = aiter(client.messages.watch(since=listing.checkpoint, policy=FAST))
            await collect_until(stream, followed, 3)
            server.add_messages(2)
            await collect_until(stream, followed, 5)
        expected = server.dataset.expected_message_ids()
    assert len(set(backfill) | set(followed)) == len(backfill) + len(followed)
    assert sorted(backfill + followed) == sorted(expected)


async def test_an_idle_watch_backs_off_towards_its_maximum_interval() -> None:
    policy = PollPolicy(interval=0.002, jitter=0.0, idle_backoff=2.0, max_interval=0.016)
    async with FakePostpress(dataset=Dataset(seed=14, messages=10)) as server:
        async with client_for(server) as client:
            stream = client.messages.watch(policy=policy)
            async with anyio.create_task_group() as group:
                group.start_soon(_drain, stream)
                with anyio.fail_after(10):
                    while stream.polls < 6:  # noqa: ASYNC110 - a bounded wait for a condition
                        await anyio.sleep(0.001)
                assert stream.idle_polls == stream.polls
                server.add_messages(1)
                with anyio.fail_after(10):
                    while stream.items_handed_out == 0:  # noqa: ASYNC110
                        await anyio.sleep(0.001)
                assert stream.idle_polls == 0
                group.cancel_scope.cancel()
        requests = server.stats.by_route["messages.list"]
    # One a poll (the last may be cut short), plus the two that read where "now" is.
    assert requests - 2 - stream.polls in (0, 1)


async def _drain(stream: WatchStream[Any]) -> None:
    async for _ in stream:
        pass


@pytest.mark.slow
async def test_cancelling_a_watch_mid_request_leaves_no_task_and_no_request() -> None:
    faults = Faults(latency=0.2)
    async with FakePostpress(dataset=Dataset(seed=15, messages=10), faults=faults) as server:
        async with client_for(server) as client:
            stream = client.messages.watch(policy=FAST)
            # Cancelled once the server holds its first request (it answers in 0.2 s), not
            # after a fixed 20 ms: a busy machine took longer than that to send it at all,
            # and the cancel came before the request (none counted).
            async with anyio.create_task_group() as group:
                group.start_soon(_drain, stream)
                with anyio.fail_after(5):
                    while not server.stats.in_flight:  # noqa: ASYNC110 - bounded wait
                        await anyio.sleep(0.001)
                group.cancel_scope.cancel()
            assert stream.polls == 0
            with anyio.fail_after(5):
                while sdk_tasks() or server.stats.in_flight:  # noqa: ASYNC110 - bounded wait
                    await anyio.sleep(0.005)
            assert stream.state.seen == ()
        assert server.stats.by_route["messages.list"] == 1  # cancelled, not retried


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_live_feed_with_faults_and_restarts_is_watched_exactly_once_and_completely(
    seed: int,
) -> None:
    """Half a second of a live feed, bursts, late listings, retried faults, kills and restarts."""
    rng = random.Random(seed)
    feed = LiveFeed(rate=300.0, burst=5, late_ms=60, late_share=0.3, live_for=0.5, seed=seed)
    faults = Faults(rates={FaultKind.SERVICE_UNAVAILABLE: 0.15}, seed=seed)
    policy = PollPolicy(interval=0.01, jitter=0.3, max_interval=0.05, overlap=0.3)
    dataset = Dataset(seed=seed, messages=200)
    state: Any = datetime.now(timezone.utc) - timedelta(seconds=1)
    async with FakePostpress(dataset=dataset, faults=faults, live=feed) as server:
        built = dataset.message_count
        got: list[str] = []
        async with client_for(server) as client:
            while server.live_running:
                stream = client.messages.watch(since=state, policy=policy, limit=7)
                with anyio.move_on_after(rng.uniform(0.02, 0.15)):  # then "kill" it
                    async for message in stream:
                        got.append(message.id)
                # a restart only has the saved bytes
                state = msgspec.json.decode(msgspec.json.encode(stream.state), type=WatchState)
            await anyio.sleep(feed.late_ms / 1000)  # the late ones are all listed by now
            last = client.messages.watch(since=state, policy=policy, limit=7)
            async with anyio.create_task_group() as group:

                async def follow() -> None:
                    async for message in last:
                        got.append(message.id)

                group.start_soon(follow)
                with anyio.fail_after(10):
                    while last.idle_polls < 2:  # noqa: ASYNC110 - a bounded wait for a condition
                        await anyio.sleep(0.005)
                group.cancel_scope.cancel()
        assert server.stats.faults[FaultKind.SERVICE_UNAVAILABLE] > 0
        assert server.live.listed_late() > 0
        assert server.live.unlisted() == 0
        expected = new_ids(server, built)
    assert len(expected) > 50
    assert [k for k, n in Counter(got).items() if n > 1] == []
    assert set(got) == set(expected)


async def test_a_chat_watch_hands_out_a_chat_each_time_a_message_moves_its_activity() -> None:
    async with FakePostpress(dataset=Dataset(seed=16, messages=100)) as server:
        chat = server.dataset.chat_id(3)
        async with client_for(server) as client:
            stream = aiter(client.chats.watch(since=SINCE, policy=FAST))
            server.add_messages(2, chat_id=chat)  # one activity: one event
            first = await anext(stream)
            await anyio.sleep(0.002)
            server.add_messages(1, chat_id=chat)  # the activity moves again: a new event
            second = await anext(stream)
    assert first.id == second.id == chat
    assert first.timestamp is not None and second.timestamp is not None
    assert second.timestamp > first.timestamp


@pytest.mark.parametrize("limit", [250, 20], ids=["one-listing", "catch-up"])
async def test_unreadable_items_are_raised_once_after_the_readable_ones_and_resume_goes_past(
    limit: int,
) -> None:
    """on_unreadable="raise" (the default): a bad record never stalls a watch for good."""
    dataset = Dataset(seed=17, messages=300, bad_records=True)
    async with FakePostpress(dataset=dataset) as server:
        truth = server.truth_report("messages")
        since = min(server.dataset.message_row(i).timestamp_ms for i in range(300)) - 1
        state: Any = datetime.fromtimestamp(since / 1000, timezone.utc)
        got: list[str] = []
        reported: list[bytes] = []
        async with client_for(server) as client:
            for _ in range(len(truth["unreadable"]) + 2):
                stream = client.messages.watch(since=state, policy=FAST, limit=limit)
                failed = await _follow_until_idle(stream, got)
                state = msgspec.json.decode(msgspec.json.encode(stream.state), type=WatchState)
                if failed is None:
                    break
                assert all(isinstance(item.raw, bytes) for item in failed.items)
                reported += [item.raw for item in failed.items]
            else:
                raise AssertionError("the watch never went past its unreadable items")
    assert sorted(got) == sorted(truth["ids"])
    assert len(got) == len(set(got))
    assert sorted(reported) == sorted(bad["raw"].encode() for bad in truth["unreadable"])


async def _follow_until_idle(
    stream: WatchStream[Message], got: list[str]
) -> UnreadableItemError | None:
    """Hand ``stream``'s messages to ``got`` until two polls in a row find nothing, or it fails."""
    failed: list[UnreadableItemError] = []
    async with anyio.create_task_group() as group:

        async def follow() -> None:
            try:
                async for message in stream:
                    got.append(message.id)
            except UnreadableItemError as error:
                failed.append(error)

        group.start_soon(follow)
        with anyio.fail_after(10):
            while stream.idle_polls < 2 and not failed:  # noqa: ASYNC110 - a bounded wait
                await anyio.sleep(0.001)
        group.cancel_scope.cancel()
    return failed[0] if failed else None
