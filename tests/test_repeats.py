"""A list stream over a server that pages by offset: each item handed out once per walk.

:class:`OffsetServer` pages an in-memory newest-first listing by offset (the cursor is the
offset), and items can arrive at its top before a given page is fetched: the shift that
makes the next page open with the last items of the page before. The stream is given
the SDK's own ``Repeats`` (an item's ``id``, its ``timestamp``); every test asserts the
exact ids handed out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

from postpress_async import Checkpoint, ListStream
from postpress_async._exceptions import ResponseDecodeError, UnreadableItem
from postpress_async._repeats import Repeats, item_id, item_time, leading_repeats
from postpress_async.models import Page


class Item(msgspec.Struct, frozen=True):
    id: str
    timestamp: int


class OffsetServer:
    """``n`` items newest first (``m<n-1>`` .. ``m0``, time = their number), ``size`` a page.

    ``arrivals[p]`` items arrive at the top just before page ``p`` (from 0) is fetched;
    ``time`` gives an item's time from its number (default: the number).
    """

    def __init__(
        self, n: int, size: int, arrivals: dict[int, int] | None = None, *, same_time: bool = False
    ) -> None:
        self.size = size
        self.same_time = same_time
        self.count = 0
        self.listing: list[Item] = []
        self.arrivals = dict(arrivals or {})
        self.requests: list[str | None] = []
        #: The ids of every item sent, repeats included.
        self.sent: list[str] = []
        self.add(n)
        self.truth = [item.id for item in self.listing]

    def add(self, k: int) -> None:
        new = [self.item(self.count + j) for j in range(k)]
        self.count += k
        self.listing[:0] = reversed(new)

    def item(self, number: int) -> Item:
        return Item(f"m{number}", 7 if self.same_time else number)

    async def fetch(self, cursor: str | None) -> Page[Item]:
        self.requests.append(cursor)
        self.add(self.arrivals.pop(len(self.requests) - 1, 0))
        offset = 0 if cursor is None else int(cursor)
        items = self.listing[offset : offset + self.size]
        more = offset + self.size < len(self.listing)
        self.sent += [item.id for item in items]
        return Page(items=items, cursor=str(offset + self.size) if more else None)


REPEATS: Repeats[Any] = Repeats(item_id, item_time)


def stream(server: OffsetServer, **kwargs: Any) -> ListStream[Item]:
    return ListStream(server.fetch, repeats=REPEATS, **kwargs)


async def ids_of(listing: ListStream[Item]) -> list[str]:
    return [item.id async for item in listing]


PREFETCH = pytest.mark.parametrize("prefetch", [0, 2])


@PREFETCH
@pytest.mark.parametrize("shift", [1, 3, 5])
async def test_a_shift_of_up_to_a_page_hands_out_each_item_once(prefetch: int, shift: int) -> None:
    server = OffsetServer(17, 5, {1: shift, 3: 1})
    got = await ids_of(stream(server, prefetch=prefetch))
    assert got == server.truth  # in order, none twice, none lost
    assert len(server.sent) == len(server.truth) + shift + 1  # the repeats it was sent


@PREFETCH
async def test_without_the_repeats_the_same_walk_hands_the_boundaries_out_again(
    prefetch: int,
) -> None:
    server = OffsetServer(17, 5, {1: 3})
    got = await ids_of(ListStream(server.fetch, prefetch=prefetch))
    assert got == server.truth[:5] + server.truth[2:]  # what `repeats` passes over


@PREFETCH
async def test_a_boundary_inside_a_run_of_one_millisecond_items(prefetch: int) -> None:
    server = OffsetServer(12, 4, {1: 2, 2: 1}, same_time=True)
    assert await ids_of(stream(server, prefetch=prefetch)) == server.truth
    unshifted = OffsetServer(12, 4, same_time=True)  # one time, nothing repeated: all kept
    assert await ids_of(stream(unshifted, prefetch=prefetch)) == unshifted.truth


@PREFETCH
async def test_pages_leave_the_repeats_out_and_await_gives_the_first_page_as_sent(
    prefetch: int,
) -> None:
    server = OffsetServer(10, 4, {1: 2, 2: 4})
    pages = [[item.id for item in page.items] async for page in stream(server).pages()]
    assert pages == [["m9", "m8", "m7", "m6"], ["m5", "m4"], [], ["m3", "m2", "m1", "m0"]]
    first = await stream(OffsetServer(10, 4))
    assert [item.id for item in first.items] == ["m9", "m8", "m7", "m6"]


@PREFETCH
async def test_a_checkpoint_after_a_skip_resumes_exactly(prefetch: int) -> None:
    server = OffsetServer(15, 5, {1: 2})
    first = stream(server, prefetch=prefetch)
    got: list[str] = []
    async with first:
        async for item in first:
            got.append(item.id)
            if len(got) == 7:  # two past the two repeats the second page opened with
                break
    checkpoint = first.checkpoint
    assert checkpoint == Checkpoint(cursor="5", offset=4)  # the repeats count as positions
    assert first.items_handed_out == 7
    rest = await ids_of(stream(server, prefetch=prefetch, resume=checkpoint))
    assert got + rest == server.truth


async def test_a_resumed_stream_may_open_with_a_repeat_it_cannot_know() -> None:
    """The documented limit: the page before the checkpoint's is not known to it."""
    server = OffsetServer(10, 5)
    checkpoint = Checkpoint(cursor="5")
    server.add(1)  # arrives after the first stream stopped at the boundary
    assert await ids_of(stream(server, resume=checkpoint)) == ["m5", "m4", "m3", "m2", "m1", "m0"]


@PREFETCH
@pytest.mark.parametrize("max_items", [7, 8, 9, 15])
async def test_max_items_hands_out_exactly_that_many_across_a_skip(
    prefetch: int, max_items: int
) -> None:
    server = OffsetServer(15, 5, {1: 2})
    got = await ids_of(stream(server, prefetch=prefetch, max_items=max_items))
    assert got == server.truth[:max_items]
    # Pages of 5, 3 and 5 new items: no page requested that no item was wanted from.
    assert len(server.requests) == (2 if max_items <= 8 else 3 if max_items <= 13 else 4)


async def test_only_leading_repeats_that_line_up_are_passed_over() -> None:
    """A new item at the head of a page (listed late, exactly at the boundary) stops the
    skip: it and what follows are handed out, a repeat after it too."""
    before = [Item("a", 9), Item("b", 8), Item("c", 7)]
    assert leading_repeats(before, [Item("b", 8), Item("c", 7), Item("d", 6)], item_id) == 2
    assert leading_repeats(before, [Item("x", 7), Item("c", 7)], item_id, item_time) == 0
    assert leading_repeats(before, [Item("c", 7), Item("x", 7), Item("d", 6)], item_id) == 1
    assert leading_repeats(before, [Item("a", 9), Item("c", 7)], item_id) == 1
    assert leading_repeats(before, before, item_id, item_time) == 3
    assert leading_repeats([], before, item_id) == leading_repeats(before, [], item_id) == 0
    # Oldest first: the times bound the search the other way.
    rising = before[::-1]
    assert leading_repeats(rising, [Item("b", 8), Item("a", 9)], item_id, item_time) == 2
    assert leading_repeats(rising, [Item("z", 10)], item_id, item_time) == 0


def unreadable(raw: bytes) -> UnreadableItem:
    error = ResponseDecodeError("Expected `str`", endpoint="GET /messages", path="$.items[0]")
    return UnreadableItem(raw=raw, error=error, index=0)


def test_an_item_without_a_readable_id_is_never_passed_over() -> None:
    with_id = unreadable(b'{"id":"b","timestamp":5}')
    without = unreadable(b'{"timestamp":5}')
    before: list[Any] = [Item("a", 9), with_id, without]
    assert item_id(with_id) == "b"
    assert item_id(without) is None and item_id(unreadable(b"[1]")) is None
    assert leading_repeats(before, [with_id, without, Item("c", 4)], item_id, item_time) == 1
    assert leading_repeats(before, [without], item_id, item_time) == 0


class CountingKey:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, item: Any) -> str | None:
        self.calls += 1
        return item_id(item)


@pytest.mark.parametrize("shift", [0, 2])
async def test_finding_repeats_reads_a_few_ids_a_page_not_one_an_item(shift: int) -> None:
    server = OffsetServer(1000, 100, {5: shift})
    key = CountingKey()
    got = [item.id async for item in ListStream(server.fetch, repeats=Repeats(key, item_time))]
    assert got == server.truth
    pages = len(server.requests)
    assert key.calls <= 2 * shift + pages  # page[0]'s id a page, plus two a repeat


class Recorded:
    def __init__(self) -> None:
        self.noted: list[list[str]] = []

    def note(self, items: Sequence[Item], server_ms: int | None) -> None:
        self.noted.append([item.id for item in items])

    def state(self) -> Any:
        return None


async def test_the_follower_and_after_page_see_each_page_as_sent() -> None:
    server = OffsetServer(8, 4, {1: 1})
    follower = Recorded()
    after: list[list[str]] = []
    listing = ListStream(
        server.fetch,
        repeats=REPEATS,
        follower=lambda _: follower,
        after_page=lambda page: after.append([item.id for item in page.items]),
    )
    assert await ids_of(listing) == server.truth
    sent = [["m7", "m6", "m5", "m4"], ["m4", "m3", "m2", "m1"], ["m0"]]
    assert follower.noted == after == sent
