"""``messages.watch`` and ``chats.watch`` over HTTP against the embedded fake server.

The static dataset here never grows, so these tests start a watch in its past and check
what it hands out; the live feed (messages arriving while the server runs) is tested in
``tests/testing/test_live.py`` and ``tests/test_watch_live.py``.
"""

from __future__ import annotations

from typing import Any, Literal

import anyio
import msgspec
import pytest

from postpress_async import (
    AsyncPostpress,
    InvalidParameterError,
    PollPolicy,
    RequestEvent,
    RetryPolicy,
    StateMismatchError,
    WatchState,
    WatchStream,
)
from postpress_async._time import format_datetime, from_ms
from postpress_async.testing import Dataset, FakePostpress

FAST = PollPolicy(interval=0.001, jitter=0.0, max_interval=0.002, overlap=1.0)
DATASET = Dataset(seed=5, accounts=14, chats=20, messages=300)
#: The same workspace, with ``before``/``after`` on chats bounding their creation.
CREATED = Dataset(seed=5, accounts=14, chats=20, messages=300, chat_time="created")


def client_for(
    server: FakePostpress, *, chat_time: Literal["activity", "created"] = "activity"
) -> AsyncPostpress:
    return AsyncPostpress(
        api_key=server.api_key,
        base_url=server.url,
        retry=RetryPolicy(wait_initial=0.001, wait_max=0.002),
        chat_time=chat_time,
    )


async def test_a_watch_from_a_past_moment_hands_out_what_followed_it_oldest_first() -> None:
    since = DATASET.message_row(25).timestamp_ms
    rows = [DATASET.message_row(i) for i in range(DATASET.message_count)]
    expected = [row.id for row in sorted(rows, key=lambda r: (r.timestamp_ms, r.id))]
    expected = [i for i in expected if DATASET.message_row(_index(i)).timestamp_ms > since]
    async with FakePostpress(dataset=DATASET) as server, client_for(server) as client:
        got = []
        async with client.messages.watch(since=_iso(since), policy=FAST, limit=7) as stream:
            async for message in stream:
                got.append(message.id)
                if len(got) == len(expected):
                    break
        assert got == expected
        state = stream.state
    assert state.watermark_ms == DATASET.message_row(0).timestamp_ms


async def test_a_finished_list_continues_as_a_watch_that_repeats_nothing() -> None:
    async with FakePostpress(dataset=DATASET) as server, client_for(server) as client:
        listing = client.messages.list(limit=50)
        listed = [m.id async for m in listing]
        stream = client.messages.watch(since=listing, policy=FAST)
        async with stream:
            await _polls(stream, 3)
        assert stream.items_handed_out == 0
        assert len(listed) == DATASET.message_count
        state = stream.state
    assert state.watermark_ms == DATASET.message_row(0).timestamp_ms
    assert state.seen


async def test_a_state_resumes_only_with_its_own_filters() -> None:
    account = DATASET.message_row(0).account_id
    async with FakePostpress(dataset=DATASET) as server, client_for(server) as client:
        stream = client.messages.watch(account_id=account, policy=FAST)
        saved = msgspec.json.decode(msgspec.json.encode(stream.state), type=WatchState)
        client.messages.watch(account_id=account, since=saved)  # the same filters: fine
        with pytest.raises(StateMismatchError, match="other filters"):
            client.messages.watch(since=saved)
        with pytest.raises(StateMismatchError, match="of messages, not of chats"):
            client.chats.watch(since=saved)
        with pytest.raises(InvalidParameterError, match="limit"):
            client.messages.watch(limit=0)
    assert server.stats.requests == 0


async def test_a_chat_watch_hands_out_chats_whose_activity_is_after_since() -> None:
    chats = [DATASET.chat_row(c) for c in range(DATASET.chat_count)]
    active = sorted((row.timestamp_ms, row.id) for row in chats if row.timestamp_ms is not None)
    since = active[-5][0] - 1
    async with FakePostpress(dataset=DATASET) as server, client_for(server) as client:
        got = []
        async for chat in client.chats.watch(since=_iso(since), policy=FAST):
            got.append(chat.id)
            if len(got) == 5:
                break
    assert got == [chat_id for _, chat_id in active[-5:]]


# -- chat_time: what before/after bound on chats ---------------------------------------------


@pytest.mark.parametrize(
    ("chat_time", "handed"),
    [
        pytest.param("activity", [], id="activity-misses-it"),
        pytest.param("created", ["moved"], id="created-hands-it-out-once"),
    ],
)
async def test_against_a_creation_bound_only_created_sees_a_chat_whose_activity_moved(
    chat_time: Literal["activity", "created"], handed: list[str]
) -> None:
    async with (
        FakePostpress(dataset=CREATED) as server,
        client_for(server, chat_time=chat_time) as client,
    ):
        oldest = min(
            (c for c in range(CREATED.chat_count) if CREATED.chat_timestamp_ms(c) is not None),
            key=lambda c: CREATED.chat_timestamp_ms(c) or 0,
        )
        moved = CREATED.chat_id(oldest)
        got: list[tuple[str, str | None]] = []
        stream = client.chats.watch(policy=FAST)
        async with stream, anyio.create_task_group() as group:

            async def consume() -> None:
                async for chat in stream:
                    at = chat.timestamp
                    got.append((chat.id, None if at is None else format_datetime(at)))

            group.start_soon(consume)
            await _until(lambda: stream.polls >= 1)
            server.add_messages(1, chat_id=moved)
            polls = stream.polls
            await _until(lambda: stream.polls >= polls + 3)
            group.cancel_scope.cancel()
        index = server.dataset.find_chat(moved)
        assert index is not None
        now = server.dataset.chat(index)["timestamp"]
    # Handed out once, with the activity it moved to (the last poll saw it again).
    assert got == [(moved, now) for _ in handed]


async def test_under_created_a_backlog_larger_than_the_cap_is_handed_out_oldest_first() -> None:
    chats = [CREATED.chat_row(c) for c in range(CREATED.chat_count)]
    active = sorted((row.timestamp_ms, row.id) for row in chats if row.timestamp_ms is not None)
    assert len(active) > 8 * 2  # more than the cap of a watch with limit=2
    urls: list[str] = []

    async def sent(event: RequestEvent) -> None:
        urls.append(event.url)

    async with FakePostpress(dataset=CREATED) as server:
        client = AsyncPostpress(
            api_key=server.api_key,
            base_url=server.url,
            chat_time="created",
            event_hooks={"request": [sent]},
        )
        got = []
        stream = client.chats.watch(since=_iso(active[0][0] - 1), policy=FAST, limit=2)
        with anyio.move_on_after(10):  # before the fix: a creation bound found nothing
            async with stream:
                async for chat in stream:
                    got.append(chat.id)
                    if len(got) == len(active):
                        break
        await client.aclose()
        assert stream.catch_up_listings >= 1  # the cap held part of it: listed again
    # Every listing is of all the chats: a creation bound is never sent.
    assert urls and not [url for url in urls if "after=" in url or "before=" in url]
    assert got == [chat_id for _, chat_id in active]


async def _until(check: Any) -> None:
    with anyio.fail_after(10):
        while not check():  # noqa: ASYNC110 - a bounded wait for a condition
            await anyio.sleep(0.001)


async def _polls(stream: WatchStream[Any], count: int) -> None:
    """Consume ``stream`` in a task until it has polled ``count`` times, then cancel it."""
    async with anyio.create_task_group() as group:

        async def consume() -> None:
            async for _ in stream:
                pass

        group.start_soon(consume)
        with anyio.fail_after(10):
            while stream.polls < count:  # noqa: ASYNC110 - a bounded wait for a condition
                await anyio.sleep(0.001)
        group.cancel_scope.cancel()


def _index(message_id: str) -> int:
    index = DATASET.find_message(message_id)
    assert index is not None
    return index


def _iso(ms: int) -> str:
    return format_datetime(from_ms(ms))
