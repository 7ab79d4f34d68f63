"""Fan-out: merged streams deliver every item exactly once."""

from __future__ import annotations

import asyncio
import random

import pytest
from helpers import unavailable
from test_pagination import Pages, other_tasks, resource_warnings_of, settle

from postpress_async import Checkpoint, InvalidParameterError, ListStream, MergedStream, merge
from postpress_async._repeats import Repeats
from postpress_async.models import Page


class Offset(Pages):
    """Pages of ints ``base..base+n-1``."""

    def __init__(self, base: int, n: int, size: int) -> None:
        super().__init__(n, size)
        self.items = list(range(base, base + n))


async def test_merge_delivers_every_item_once_keeping_each_sources_order() -> None:
    sources = [Offset(1000 * k, n=37, size=5) for k in range(6)]
    got = [item async for item in merge(*(ListStream(s.fetch) for s in sources))]
    assert sorted(got) == sorted(i for s in sources for i in s.items)
    for source in sources:
        mine = [i for i in got if i in set(source.items)]
        assert mine == source.items


async def test_merge_runs_sources_concurrently_up_to_the_given_concurrency() -> None:
    sources = [Offset(1000 * k, n=10, size=5) for k in range(4)]
    for source in sources:
        source.gates[None] = asyncio.Event()
    stream = merge(*(ListStream(s.fetch, prefetch=0) for s in sources), concurrency=2)
    async with stream:
        consumer = asyncio.create_task(anext(aiter(stream)))
        await settle()
        assert sum(s.in_flight for s in sources) == 2
        for source in sources:
            source.gates[None].set()
        await consumer
    assert other_tasks() == set()


async def test_an_error_in_one_source_surfaces_and_stops_the_others() -> None:
    good = Offset(0, n=100, size=5)
    bad = Offset(1000, n=100, size=5)
    bad.fail_at["p1"] = unavailable()
    with pytest.raises(type(unavailable())):
        async for _ in merge(ListStream(good.fetch), ListStream(bad.fetch)):
            await asyncio.sleep(0)
    await settle()
    assert good.in_flight == 0
    assert other_tasks() == set()


async def test_breaking_out_of_a_merge_leaves_no_task_behind() -> None:
    sources = [Offset(1000 * k, n=100, size=5) for k in range(3)]
    async for item in merge(*(ListStream(s.fetch) for s in sources)):
        if item is not None:
            break
    await settle()
    assert sum(s.in_flight for s in sources) == 0
    assert other_tasks() == set()


def test_breaking_out_of_a_merge_as_the_loop_ends_leaves_nothing_unclosed() -> None:
    async def main() -> None:
        sources = [Offset(1000 * k, n=100, size=5) for k in range(3)]
        async for _ in merge(*(ListStream(s.fetch) for s in sources)):
            break

    assert resource_warnings_of(main) == []


def test_merge_needs_list_streams() -> None:
    with pytest.raises(InvalidParameterError, match="streams"):
        MergedStream([])
    with pytest.raises(InvalidParameterError, match="concurrency"):
        merge(ListStream(Pages(1, 1).fetch), concurrency=0)


async def test_merged_pages_carry_each_sources_checkpoint_after_that_page() -> None:
    sources = [Offset(1000 * k, n=12, size=5) for k in range(3)]
    streams = [ListStream(s.fetch) for s in sources]
    last: dict[int, object] = {}
    seen: dict[int, list[int]] = {0: [], 1: [], 2: []}
    async for batch in merge(*streams).pages():
        seen[batch.source].extend(batch.page.items)
        last[batch.source] = batch.checkpoint
        if not batch.checkpoint.done:
            # Resuming this source from its checkpoint gives exactly what is still to come.
            rest = [
                i async for i in ListStream(sources[batch.source].fetch, resume=batch.checkpoint)
            ]
            assert seen[batch.source] + rest == sources[batch.source].items
    assert all(checkpoint.done for checkpoint in last.values())  # type: ignore[attr-defined]
    assert [seen[k] for k in range(3)] == [s.items for s in sources]


@pytest.mark.parametrize("walk", ["items", "pages"])
async def test_after_an_error_the_checkpoints_resume_every_source_with_nothing_twice(
    walk: str,
) -> None:
    sources = [Offset(1000 * k, n=23, size=5) for k in range(3)]
    sources[1].fail_at["p2"] = unavailable()
    got: list[int] = []
    merged = merge(*(ListStream(s.fetch) for s in sources))
    assert merged.checkpoints == [Checkpoint()] * 3
    with pytest.raises(type(unavailable())) as info:
        if walk == "items":
            async for item in merged:
                got.append(item)
        else:
            async for batch in merged.pages():
                got.extend(batch.page.items)
    assert merged.checkpoints[1] == info.value.checkpoint == Checkpoint(cursor="p2")
    checkpoints = zip(sources, merged.checkpoints, strict=True)
    resumed = merge(*(ListStream(s.fetch, resume=c) for s, c in checkpoints))
    got += [item async for item in resumed]
    assert sorted(got) == sorted(i for s in sources for i in s.items)
    assert all(checkpoint.done for checkpoint in resumed.checkpoints)


@pytest.mark.parametrize("seed", range(4))
async def test_items_stopped_anywhere_resume_from_the_checkpoints_with_nothing_twice(
    seed: int,
) -> None:
    """A ``break`` mid-page or right after a page's last item: every source resumes exactly."""
    rng = random.Random(seed)
    for _ in range(6):
        sources = [Offset(1000 * k, n=rng.randrange(0, 24), size=5) for k in range(3)]
        total = sum(len(s.items) for s in sources)
        merged = merge(*(ListStream(s.fetch, prefetch=rng.choice([0, 1, 2])) for s in sources))
        stop = rng.randrange(1, total + 1) if total else 0
        got: list[int] = []
        if stop:
            async for item in merged:
                got.append(item)
                if len(got) == stop:
                    break
        checkpoints = zip(sources, merged.checkpoints, strict=True)
        got += [
            item async for item in merge(*(ListStream(s.fetch, resume=c) for s, c in checkpoints))
        ]
        assert sorted(got) == sorted(i for s in sources for i in s.items)
        assert len(got) == total


async def test_a_stream_merged_twice_or_already_walked_is_refused_before_any_request() -> None:
    source = Pages(n=12, size=5)
    walked = ListStream(source.fetch)
    async for _ in walked:
        break
    requests = len(source.requests)
    fresh = ListStream(source.fetch)
    with pytest.raises(InvalidParameterError, match=r"streams.*twice"):
        merge(fresh, fresh)
    with pytest.raises(InvalidParameterError, match=r"streams.*already been iterated"):
        merge(ListStream(source.fetch), walked)
    assert len(source.requests) == requests


async def test_a_slow_consumer_holds_pages_bounded_by_concurrency_not_by_the_source_count() -> None:
    """Merging thousands of accounts at ``concurrency=2`` must not buffer a page a source:
    what is fetched ahead of a consumer that stops depends on the streams running."""
    sources = [Offset(1000 * k, n=200, size=5) for k in range(40)]
    merged = merge(*(ListStream(s.fetch) for s in sources), concurrency=2)
    async with merged:
        walk = aiter(merged)
        await anext(walk)
        await settle(200)
        fetched = sum(len(s.requests) for s in sources)
        # Per running source: the page in the merge's buffer, the one waiting to go in,
        # the one its prefetch holds and the one the consumer reads.
        assert fetched <= 2 * 4
        await walk.aclose()  # type: ignore[attr-defined]
    assert other_tasks() == set()


class Shifted:
    """Two pages under an offset cursor where two items arrived between them: the second
    page opens with the last two of the first (``"a3"``, ``"a4"``)."""

    def __init__(self) -> None:
        self.pages: dict[str | None, Page[str]] = {
            None: Page(items=["a0", "a1", "a2", "a3", "a4"], cursor="p1"),
            "p1": Page(items=["a3", "a4", "a5", "a6", "a7"], cursor=None),
        }

    async def fetch(self, cursor: str | None) -> Page[str]:
        await asyncio.sleep(0)
        return self.pages[cursor]


@pytest.mark.parametrize("read", [6, 7])
async def test_items_stopped_after_passed_over_repeats_resume_with_nothing_twice(read: int) -> None:
    """The checkpoint inside a page whose leading repeats were passed over counts them as
    positions, the way the source stream's own checkpoint does."""
    repeats: Repeats[str] = Repeats(key=lambda item: item)
    merged = merge(ListStream(Shifted().fetch, repeats=repeats))
    got: list[str] = []
    async for item in merged:
        got.append(item)
        if len(got) == read:
            break
    resumed = ListStream(Shifted().fetch, resume=merged.checkpoints[0], repeats=repeats)
    got += [item async for item in resumed]
    assert got == ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"]


async def test_sources_waiting_for_a_slot_have_no_task_yet() -> None:
    """Merging thousands of accounts at ``concurrency=2`` runs a task a running source,
    not one a source waiting its turn."""
    sources = [Offset(1000 * k, n=10, size=5) for k in range(40)]
    merged = merge(*(ListStream(s.fetch) for s in sources), concurrency=2)
    async with merged:
        walk = aiter(merged)
        await anext(walk)
        await settle()
        # The supervisor, the 2 sources and each one's prefetch.
        assert len(other_tasks()) <= 1 + 2 * 2
        await walk.aclose()  # type: ignore[attr-defined]
    assert other_tasks() == set()


class Halt(BaseException):
    """Not an ``Exception`` and not a cancellation: what background work cannot hand over."""


@pytest.mark.parametrize("prefetch", [0, 1, 2])
async def test_a_source_killed_by_a_base_exception_raises_it_instead_of_ending(
    prefetch: int,
) -> None:
    """Never a silent, short end: the items after it were not fetched."""
    killed = Offset(0, n=30, size=5)
    killed.fail_at["p2"] = Halt()  # type: ignore[assignment]
    got: list[int] = []
    with pytest.raises(Halt):
        async for item in merge(ListStream(killed.fetch, prefetch=prefetch)):
            got.append(item)
    assert got == killed.items[:10]
    killed.fail_at["p2"] = Halt()  # type: ignore[assignment]
    with pytest.raises(Halt):
        async for _ in ListStream(killed.fetch, prefetch=prefetch):
            pass
    await settle()
    assert other_tasks() == set()
