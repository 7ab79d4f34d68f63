"""List streams: cursor following, prefetch, checkpoints, lifetime and errors.

The page source here is a plain async function over an in-memory list of pages,
so ordering is exact and nothing depends on wall-clock time; the same behaviours
against the fake server over HTTP are in ``test_streams_http.py``.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import pytest
from helpers import unavailable

from postpress_async import (
    Checkpoint,
    InvalidParameterError,
    ListStream,
    ResponseDecodeError,
    ServiceUnavailableError,
)
from postpress_async._decoding import decode
from postpress_async._pagination import PageBody
from postpress_async.models import Page


class Pages:
    """Pages of ints ``0..n-1``, ``size`` a page; cursors are ``"p<index>"``."""

    def __init__(self, n: int, size: int) -> None:
        self.items = list(range(n))
        self.size = size
        self.requests: list[str | None] = []
        self.fail_at: dict[str | None, Exception] = {}
        self.gates: dict[str | None, asyncio.Event] = {}
        self.in_flight = 0

    def page_count(self) -> int:
        return -(-len(self.items) // self.size)

    async def fetch(self, cursor: str | None) -> Page[int]:
        self.requests.append(cursor)
        self.in_flight += 1
        try:
            gate = self.gates.get(cursor)
            if gate is not None:
                await gate.wait()
            await asyncio.sleep(0)
            error = self.fail_at.pop(cursor, None)
            if error is not None:
                raise error
            index = 0 if cursor is None else int(cursor[1:])
            chunk = self.items[index * self.size : (index + 1) * self.size]
            more = (index + 1) * self.size < len(self.items)
            return Page(items=chunk, cursor=f"p{index + 1}" if more else None)
        finally:
            self.in_flight -= 1


class Bodies:
    """Pages of ints as JSON bodies, the way the SDK's own list calls fetch them.

    ``events`` records each request and each page decode, in order; ``bad[cursor]``
    replaces that page's body.
    """

    def __init__(self, n: int, size: int) -> None:
        self.pages = Pages(n, size)
        self.events: list[tuple[str, str | None]] = []
        self.bad: dict[str | None, bytes] = {}
        events = self.events

        class Recorded(Page[int], frozen=True, kw_only=True):
            def __post_init__(self) -> None:
                events.append(("decoded", self.cursor))

        self.model = Recorded

    async def fetch(self, cursor: str | None) -> PageBody[int]:
        self.events.append(("request", cursor))
        page = await self.pages.fetch(cursor)
        body = self.bad.get(cursor) or msgspec.json.encode(page)
        model = self.model
        return PageBody(body, lambda data: decode(data, model, endpoint="GET /ints"))


async def settle(rounds: int = 50) -> None:
    """Let every ready task run for a bounded number of loop iterations (no real sleep)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def other_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


@pytest.mark.parametrize("prefetch", [0, 1, 2, 5])
async def test_every_item_of_every_page_exactly_once(prefetch: int) -> None:
    source = Pages(n=23, size=5)
    got = [item async for item in ListStream(source.fetch, prefetch=prefetch)]
    assert got == list(range(23))
    assert source.requests == [None, "p1", "p2", "p3", "p4"]


async def test_await_gives_the_first_page_only() -> None:
    source = Pages(n=23, size=5)
    page = await ListStream(source.fetch)
    assert page.items == [0, 1, 2, 3, 4]
    assert page.cursor == "p1"
    assert source.requests == [None]


async def test_await_gives_the_first_page_the_stream_would_hand_out() -> None:
    """A resumed stream's first page starts at its offset, max_items cuts it, and a done
    checkpoint gives an empty last page without a request (not a new listing's first)."""
    source = Pages(n=23, size=5)
    resumed = await ListStream(source.fetch, resume=Checkpoint(cursor="p1", offset=2))
    cut = await ListStream(source.fetch, max_items=3)
    done = await ListStream(source.fetch, resume=Checkpoint(cursor=None, done=True))
    none = await ListStream(source.fetch, max_items=0)
    assert (resumed.items, resumed.cursor) == ([7, 8, 9], "p2")
    assert (cut.items, cut.cursor) == ([0, 1, 2], "p1")
    assert (done.items, done.cursor) == (none.items, none.cursor) == ([], None)
    assert source.requests == ["p1", None]


async def test_the_next_page_is_in_flight_while_the_caller_works_on_the_current_one() -> None:
    source = Pages(n=15, size=5)
    seen_requests_during_page: list[list[str | None]] = []
    async for item in ListStream(source.fetch, prefetch=1):
        if item % 5 == 0:
            await settle()  # the caller "works"; the producer gets to run
            seen_requests_during_page.append(list(source.requests))
    # While page 0 was handled, page 1 had been requested; and so on.
    assert seen_requests_during_page == [
        [None, "p1"],
        [None, "p1", "p2"],
        [None, "p1", "p2"],  # no request after the last page
    ]


@pytest.mark.parametrize("depth", [1, 2, 3])
async def test_prefetch_depth_bounds_the_pages_fetched_ahead(depth: int) -> None:
    source = Pages(n=100, size=5)
    stream = ListStream(source.fetch, prefetch=depth)
    async with stream:
        iterator = aiter(stream)
        await anext(iterator)
        await settle()
        # The caller holds page 0; `depth` further pages are fetched or in flight.
        assert len(source.requests) == 1 + depth


async def test_prefetch_zero_fetches_only_on_demand() -> None:
    source = Pages(n=100, size=5)
    stream = ListStream(source.fetch, prefetch=0)
    async with stream:
        iterator = aiter(stream)
        for _ in range(5):
            await anext(iterator)
        await settle()
        assert source.requests == [None]
        await anext(iterator)
        assert source.requests == [None, "p1"]


async def test_pages_can_be_iterated_instead_of_items() -> None:
    source = Pages(n=12, size=5)
    pages = [page.items async for page in ListStream(source.fetch).pages()]
    assert pages == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]


async def test_max_items_stops_without_requesting_pages_it_will_not_read() -> None:
    source = Pages(n=100, size=5)
    got = [item async for item in ListStream(source.fetch, prefetch=3, max_items=7)]
    await settle()
    assert got == list(range(7))
    assert source.requests == [None, "p1"]


async def test_max_items_applies_to_pages_too() -> None:
    source = Pages(n=100, size=5)
    stream = ListStream(source.fetch, max_items=7)
    pages = [page.items async for page in stream.pages()]
    assert pages == [[0, 1, 2, 3, 4], [5, 6]]
    assert stream.checkpoint == Checkpoint(cursor="p1", offset=2)


async def test_a_stream_can_start_from_a_cursor() -> None:
    source = Pages(n=12, size=5)
    got = [item async for item in ListStream(source.fetch, cursor="p1")]
    assert got == list(range(5, 12))


async def test_the_checkpoint_resumes_exactly_after_the_last_item_handed_out() -> None:
    source = Pages(n=23, size=5)
    first = ListStream(source.fetch, prefetch=2)
    got: list[int] = []
    async with first:
        async for item in first:
            got.append(item)
            if item == 11:
                break
    checkpoint = first.checkpoint
    assert checkpoint == Checkpoint(cursor="p2", offset=2)
    # A checkpoint survives serialisation, as an export would store it.
    stored = msgspec.json.decode(msgspec.json.encode(checkpoint), type=Checkpoint)
    rest = [item async for item in ListStream(source.fetch, resume=stored)]
    assert got + rest == list(range(23))


async def test_checkpoint_at_a_page_boundary_points_at_the_next_page() -> None:
    source = Pages(n=23, size=5)
    stream = ListStream(source.fetch)
    async with stream:
        async for item in stream:
            if item == 4:
                break
    assert stream.checkpoint == Checkpoint(cursor="p1", offset=0)


async def test_a_finished_stream_checkpoint_is_done_and_resuming_it_makes_no_request() -> None:
    source = Pages(n=7, size=5)
    stream = ListStream(source.fetch)
    assert [i async for i in stream] == list(range(7))
    assert stream.checkpoint.done
    source.requests.clear()
    assert [i async for i in ListStream(source.fetch, resume=stream.checkpoint)] == []
    assert source.requests == []


async def test_an_error_surfaces_when_the_caller_reaches_its_page_with_the_resume_cursor() -> None:
    source = Pages(n=20, size=5)
    source.fail_at["p2"] = unavailable()
    got: list[int] = []
    stream = ListStream(source.fetch, prefetch=3)
    with pytest.raises(ServiceUnavailableError) as info:
        async for item in stream:
            got.append(item)
            if item == 0:
                await settle()  # the failed prefetch has happened by now ...
                assert "p2" in source.requests
    assert got == list(range(10))  # ... but every earlier item was still delivered, once
    assert info.value.resume_cursor == "p2"
    assert stream.checkpoint == Checkpoint(cursor="p2", offset=0)
    rest = [item async for item in ListStream(source.fetch, cursor=info.value.resume_cursor)]
    assert got + rest == list(range(20))


async def test_an_error_on_the_first_page_resumes_from_the_start() -> None:
    source = Pages(n=5, size=5)
    source.fail_at[None] = unavailable()
    with pytest.raises(ServiceUnavailableError) as info:
        [item async for item in ListStream(source.fetch, prefetch=0)]
    assert info.value.resume_cursor is None


@pytest.mark.parametrize("pages", [False, True], ids=["items", "pages"])
async def test_a_stream_error_is_a_complete_copy_and_the_error_beneath_is_untouched(
    pages: bool,
) -> None:
    source = Pages(n=10, size=5)
    beneath = unavailable()
    source.fail_at["p1"] = beneath
    stream = ListStream(source.fetch, prefetch=0)
    with pytest.raises(ServiceUnavailableError) as info:
        async for _ in stream.pages() if pages else stream:
            pass
    error = info.value
    assert error is not beneath and type(error) is ServiceUnavailableError
    assert (str(error), error.status, error.type) == (str(beneath), 503, beneath.type)
    assert error.checkpoint == Checkpoint(cursor="p1", offset=0)
    assert beneath.checkpoint is None  # nothing written into the error raised beneath
    assert error.__cause__ is None and error.__context__ is None  # no chaining added


async def test_break_leaves_no_task_and_no_request_in_flight() -> None:
    source = Pages(n=100, size=5)
    source.gates["p1"] = asyncio.Event()  # page 1 hangs: its request stays in flight
    async for item in ListStream(source.fetch, prefetch=1):
        if item == 2:
            await settle()
            assert source.in_flight == 1
            break
    await settle()
    assert source.in_flight == 0
    assert other_tasks() == set()


def resource_warnings_of(main: Callable[[], Coroutine[Any, Any, None]]) -> list[str]:
    """The ResourceWarnings of ``asyncio.run(main())``, those of its shutdown included."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_break_as_the_loop_ends_leaves_nothing_unclosed() -> None:
    """The stream's own close runs as a task after ``break``; the loop ending at once
    cancels it, and the prefetch's memory stream must be closed all the same."""

    async def main() -> None:
        async for _ in ListStream(Pages(n=100, size=5).fetch, prefetch=2):
            break

    assert resource_warnings_of(main) == []


async def test_an_exception_in_the_loop_body_leaves_no_task_behind() -> None:
    source = Pages(n=100, size=5)
    source.gates["p1"] = asyncio.Event()
    with pytest.raises(RuntimeError, match="caller failed"):
        async for item in ListStream(source.fetch, prefetch=1):
            if item == 3:
                await settle()
                raise RuntimeError("caller failed")
    await settle()
    assert source.in_flight == 0
    assert other_tasks() == set()


async def test_cancelling_the_caller_leaves_no_task_behind() -> None:
    source = Pages(n=100, size=5)
    source.gates["p1"] = asyncio.Event()
    reached = asyncio.Event()

    async def consume() -> None:
        async for item in ListStream(source.fetch, prefetch=2):
            if item == 4:
                reached.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(consume())
    await reached.wait()
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settle()
    assert source.in_flight == 0
    assert other_tasks() == set()


async def test_async_with_ends_prefetch_at_exit_without_waiting_for_the_collector() -> None:
    source = Pages(n=100, size=5)
    source.gates["p1"] = asyncio.Event()
    async with ListStream(source.fetch, prefetch=1) as stream:
        async for item in stream:
            if item == 0:
                await settle()
                assert source.in_flight == 1
                break
    # Deterministic: already ended when the `async with` block is left.
    assert source.in_flight == 0
    assert other_tasks() == set()


async def test_a_stream_is_iterated_once() -> None:
    source = Pages(n=5, size=5)
    stream = ListStream(source.fetch)
    [i async for i in stream]
    with pytest.raises(RuntimeError, match="only once"):
        aiter(stream)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"prefetch": -1}, id="prefetch"),
        pytest.param({"max_items": -3}, id="max_items"),
        pytest.param({"cursor": "p1", "resume": Checkpoint(cursor="p2")}, id="cursor-and-resume"),
        pytest.param({"resume": {"cursor": "p1"}}, id="resume-not-checkpoint"),
    ],
)
def test_bad_stream_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidParameterError):
        ListStream(Pages(1, 1).fetch, **kwargs)  # type: ignore[arg-type]


def test_an_empty_cursor_from_the_caller_is_refused_but_a_checkpoints_is_kept() -> None:
    """The API wants a cursor of length >= 1: ``cursor=""`` is refused by name; a resume
    checkpoint an older version saved from a server's empty cursor is taken as it is."""
    with pytest.raises(InvalidParameterError, match="must not be empty") as info:
        ListStream(Pages(1, 1).fetch, cursor="")
    assert info.value.param == "cursor"
    stream = ListStream(Pages(1, 1).fetch, resume=Checkpoint(cursor=""))
    assert stream.checkpoint.cursor == ""


@pytest.mark.parametrize(
    ("resume", "param"),
    [
        pytest.param(Checkpoint(offset=-1), "resume.offset", id="negative-offset"),
        pytest.param(Checkpoint(offset="1"), "resume.offset", id="str-offset"),  # type: ignore[arg-type]
        pytest.param(Checkpoint(offset=1.5), "resume.offset", id="float-offset"),  # type: ignore[arg-type]
        pytest.param(Checkpoint(cursor=5), "resume.cursor", id="int-cursor"),  # type: ignore[arg-type]
    ],
)
def test_a_checkpoint_that_no_stream_could_have_made_is_refused(
    resume: Checkpoint, param: str
) -> None:
    """Built by hand or read from a damaged store: refused by name before any request,
    never a negative slice handing out the wrong items (nor a bare TypeError)."""
    source = Pages(n=1, size=3)
    with pytest.raises(InvalidParameterError) as info:
        ListStream(source.fetch, resume=resume)
    assert info.value.param == param


async def test_the_next_request_goes_out_before_the_current_page_is_decoded() -> None:
    source = Bodies(n=15, size=5)
    got = [item async for item in ListStream(source.fetch, prefetch=1)]
    assert got == list(range(15))
    # Each page's successor was requested on its cursor alone, ahead of its decode.
    assert source.events == [
        ("request", None),
        ("request", "p1"),
        ("decoded", "p1"),
        ("request", "p2"),
        ("decoded", "p2"),
        ("decoded", None),
    ]


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_a_page_that_fails_to_decode_raises_at_its_page_with_its_resume_cursor(
    prefetch: int,
) -> None:
    source = Bodies(n=20, size=5)
    source.bad["p2"] = b'{"items": [10, "eleven"], "cursor": "p3"}'
    got: list[int] = []
    stream = ListStream(source.fetch, prefetch=prefetch)
    with pytest.raises(ResponseDecodeError) as info:
        async for item in stream:
            got.append(item)
    assert got == list(range(10))
    assert info.value.resume_cursor == "p2"
    assert stream.checkpoint == Checkpoint(cursor="p2", offset=0)
    await settle()
    assert other_tasks() == set()


async def test_a_page_whose_cursor_cannot_be_read_is_the_last_one_requested() -> None:
    source = Bodies(n=20, size=5)
    source.bad["p1"] = b'{"items": [5, 6], "cursor": 6}'
    got: list[int] = []
    with pytest.raises(ResponseDecodeError) as info:
        async for item in ListStream(source.fetch, prefetch=2):
            got.append(item)
    assert got == list(range(5))
    assert info.value.path == "$.cursor"
    assert [cursor for event, cursor in source.events if event == "request"] == [None, "p1"]


async def test_max_items_counts_pipelined_pages_without_over_requesting() -> None:
    source = Bodies(n=100, size=5)
    stream = ListStream(source.fetch, prefetch=2, max_items=7)
    assert [i async for i in stream] == list(range(7))
    assert [cursor for event, cursor in source.events if event == "request"] == [None, "p1"]


class PageFault(ServiceUnavailableError):
    """Raised by the after-page check below, for pages whose first item is a multiple of 7."""


def fault_after(page: Page[int]) -> None:
    if page.items and page.items[0] % 7 == 0:
        raise PageFault(
            status=503, type="t", title="fault", method="GET", url="https://x/v1/things"
        )


@pytest.mark.parametrize("prefetch", [0, 1, 4])
@pytest.mark.parametrize("walk", ["items", "pages"])
async def test_an_after_page_error_comes_once_its_page_is_handed_out_and_resumes_past_it(
    prefetch: int, walk: str
) -> None:
    source = Pages(40, 7)  # pages start at 0, 7, 14, ...: every one faults
    got: list[int] = []
    resume: Checkpoint | None = None
    faults = 0
    for _ in range(10):
        stream = ListStream(source.fetch, prefetch=prefetch, resume=resume, after_page=fault_after)
        try:
            if walk == "items":
                async for item in stream:
                    got.append(item)
            else:
                async for page in stream.pages():
                    got.extend(page.items)
        except PageFault as error:
            faults += 1
            resume = error.checkpoint
            continue
        break
    assert got == list(range(40))
    assert faults == 6  # the pages starting at 0, 7, ..., 35


async def test_an_after_page_error_of_the_first_page_is_raised_by_await() -> None:
    stream = ListStream(Pages(10, 7).fetch, after_page=fault_after)
    with pytest.raises(PageFault) as info:
        await stream
    assert info.value.checkpoint == Checkpoint(cursor="p1")


async def test_a_page_cut_by_max_items_is_not_checked() -> None:
    stream = ListStream(Pages(10, 7).fetch, max_items=3, after_page=fault_after)
    assert [item async for item in stream] == [0, 1, 2]


@pytest.mark.parametrize("walk", ["items", "pages"])
async def test_max_items_zero_hands_out_nothing_and_keeps_the_checkpoint_where_it_was(
    walk: str,
) -> None:
    """A budget of nothing is not the end of the listing: resuming it hands out the rest."""
    source = Pages(n=23, size=5)
    for start, rest in [
        (Checkpoint(), source.items),
        (Checkpoint(cursor="p1", offset=2), source.items[7:]),
    ]:
        stream = ListStream(source.fetch, resume=start, max_items=0)
        if walk == "items":
            assert [item async for item in stream] == []
        else:
            assert [page async for page in stream.pages()] == []
        assert stream.checkpoint == start
        assert [item async for item in ListStream(source.fetch, resume=stream.checkpoint)] == rest


@pytest.mark.parametrize("walk", ["items", "pages", "await"])
async def test_a_page_that_shrank_since_its_checkpoint_keeps_max_items(walk: str) -> None:
    """Items deleted before a resume leave the page shorter than the offset: the budget holds."""

    async def fetch(cursor: str | None) -> Page[int]:
        if cursor == "p1":  # three of its five items were deleted since the checkpoint
            return Page(items=[5, 6], cursor="p2")
        return Page(items=list(range(10, 15)), cursor=None)

    stream = ListStream(fetch, resume=Checkpoint(cursor="p1", offset=4), max_items=3)
    if walk == "items":
        got = [item async for item in stream]
    elif walk == "pages":
        got = [item async for page in stream.pages() for item in page.items]
    else:
        got = (await stream).items
    assert got == ([] if walk == "await" else [10, 11, 12])
    if walk != "await":
        assert stream.checkpoint == Checkpoint(cursor="p2", offset=3)
        assert stream.items_handed_out == 3
