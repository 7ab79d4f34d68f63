"""The SDK's streams against a server that pages by offset while messages arrive.

The API reference's cursor example is ``{"skip":100}``: the real server may page by
offset. Then a message arriving while a walk is between two pages shifts the later
pages, and the next page repeats the last message of the one before (nothing is lost
while nothing is deleted). ``Dataset(cursors="offset")`` serves that; these tests
measure what each stream hands out: every item once, the repeats the server sent
passed over (``tests/test_repeats.py`` has the stream's rules).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import anyio

from postpress_async import AsyncPostpress, PollPolicy
from postpress_async.testing import Dataset, FakePostpress
from tests._arrivals import Arrivals

FAST = PollPolicy(interval=0.005, jitter=0.2, idle_backoff=1.5, max_interval=0.02, overlap=0.5)
#: Before every message a running server adds (the current time), after the dataset's.
SINCE = datetime(2026, 6, 1, tzinfo=timezone.utc)


def client_for(server: FakePostpress) -> AsyncPostpress:
    return AsyncPostpress(api_key=server.api_key, base_url=server.url)


def repeated(ids: list[str]) -> list[str]:
    return sorted(key for key, times in Counter(ids).items() if times > 1)


def boundaries(arrivals: Arrivals) -> list[str]:
    """The last id of each page a message arrived after: what an offset shift lists again."""
    return sorted(page[-1] for page in arrivals.pages[: len(arrivals.added)])


async def walk_while_messages_arrive() -> tuple[list[str], list[str], Arrivals]:
    """A ``list()`` of 60 messages, 10 a page, with one arrival before each next page:
    the ids handed out, the ground truth when the walk started, the arrivals."""
    server = FakePostpress(dataset=Dataset(seed=21, messages=60, cursors="offset"))
    arrivals = Arrivals(server, budget=5)
    async with server, client_for(server) as client:
        truth = server.truth("messages")
        ids = [message.id async for message in client.messages.list(limit=10)]
    return ids, truth, arrivals


async def test_a_list_walk_under_offset_paging_loses_nothing_the_server_repeated() -> None:
    ids, truth, arrivals = await walk_while_messages_arrive()
    assert len(arrivals.added) == 5
    assert repeated(arrivals.listed) == boundaries(arrivals)  # each shift: one boundary again
    assert set(ids) == set(truth)  # every message listed when the walk began; none lost
    assert set(arrivals.added).isdisjoint(ids)  # newer than the walk: for a watch to find


async def test_a_list_walk_under_offset_paging_hands_out_each_message_once() -> None:
    ids, truth, _ = await walk_while_messages_arrive()
    assert repeated(ids) == []
    assert ids == truth  # in the listing's order, the repeats passed over


async def test_a_watch_under_offset_paging_hands_out_each_message_once() -> None:
    """A poll that lists several pages while messages arrive is listed with repeats;
    the watch hands out each message once all the same (a poll keeps one of each id)."""
    server = FakePostpress(dataset=Dataset(seed=22, messages=30, cursors="offset"))
    arrivals = Arrivals(server, budget=6)
    async with server, client_for(server) as client:
        early = server.add_messages(10)  # the first poll lists them over four pages
        got: list[str] = []
        async with client.messages.watch(since=SINCE, limit=3, policy=FAST) as stream:
            with anyio.fail_after(10):
                async for message in stream:
                    got.append(message.id)
                    if len(got) == len(early) + arrivals.budget:
                        break
    assert len(arrivals.added) == arrivals.budget
    assert repeated(arrivals.listed)  # the server did list some twice
    assert sorted(got) == sorted(early + arrivals.added)


async def backfill_then_follow() -> tuple[list[str], list[str], list[str]]:
    """A ``list()`` with an arrival before each next page, then ``watch(since=the list)``
    until every message is handed out: the list's ids, the watch's, the arrivals."""
    server = FakePostpress(dataset=Dataset(seed=23, messages=50, cursors="offset"))
    arrivals = Arrivals(server, budget=4)
    async with server, client_for(server) as client:
        backfill = client.messages.list(limit=10)
        listed = [message.id async for message in backfill]
        assert len(arrivals.added) == arrivals.budget  # all during the backfill
        later = server.add_messages(3)
        followed: list[str] = []
        async with client.messages.watch(since=backfill, limit=10, policy=FAST) as stream:
            with anyio.fail_after(10):
                async for message in stream:
                    followed.append(message.id)
                    if len(followed) == len(arrivals.added) + len(later):
                        break
    return listed, followed, arrivals.added + later


async def test_a_watch_after_an_offset_walk_hands_out_each_arrival_once() -> None:
    listed, followed, arrived = await backfill_then_follow()
    assert sorted(followed) == sorted(arrived)  # every arrival, once
    assert set(followed).isdisjoint(listed)  # nothing the backfill handed out


async def test_a_backfill_then_follow_under_offset_paging_hands_out_each_message_once() -> None:
    listed, followed, _ = await backfill_then_follow()
    assert repeated(listed + followed) == []


async def walk_chats_while_chats_move() -> tuple[list[str], list[str], list[str], list[str]]:
    """A ``chats.list()`` of 40 chats, 5 a page, the oldest chat left getting a message
    before each of the next four pages (it moves from ahead of the walk to the top): the
    ids handed out, the ground truth when the walk started, the chats that moved, the
    ids the server listed."""
    dataset = Dataset(seed=5, messages=300, cursors="offset")
    oldest_first = iter(dataset.expected_chat_ids()[::-1])
    server = FakePostpress(dataset=dataset)
    arrivals = Arrivals(server, budget=4, listing="chats", chat=lambda: next(oldest_first))
    async with server, client_for(server) as client:
        truth = server.truth("chats")
        ids = [chat.id async for chat in client.chats.list(limit=5)]
    rows = (server.dataset.find_message(key) for key in arrivals.added)
    moved = [server.dataset.message_row(row).chat_id for row in rows if row is not None]
    return ids, truth, moved, arrivals.listed


async def test_a_chats_walk_under_offset_paging_misses_only_moved_chats() -> None:
    """A chat moving from ahead of the walk to the top is behind it now: the walk misses
    it, as under keyset paging (its new activity is for a watch to find); under offset
    paging the move also shifts the chats between, and a boundary chat is listed again."""
    ids, truth, moved, listed = await walk_chats_while_chats_move()
    assert len(moved) == 4
    assert set(truth) - set(ids) == set(moved)
    assert len(repeated(listed)) == len(moved)


async def test_a_chats_walk_under_offset_paging_hands_out_each_chat_once() -> None:
    ids, truth, moved, _ = await walk_chats_while_chats_move()
    assert repeated(ids) == []
    assert ids == [chat for chat in truth if chat not in moved]
