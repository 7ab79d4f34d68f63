"""Cursors a hostile server sends: the same one again, or a cycle."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from postpress_async import (
    AsyncPostpress,
    Checkpoint,
    CursorLoopError,
    ResponseDecodeError,
    _cursor_trail,
    merge,
)
from postpress_async._cursor_trail import CursorTrail
from postpress_async.transports import MockTransport, Request, Response

from ._server import Hostile, client_for, cursor_walk, hostile_server, page_body

#: next cursor by the cursor a page was asked with (None: the first page).
SAME_AGAIN: dict[str | None, str | None] = {None: "A", "A": "B", "B": "B"}
CYCLE: dict[str | None, str | None] = {None: "A", "A": "B", "B": "C", "C": "A"}


@pytest.mark.parametrize("prefetch", [0, 1, 3], ids=lambda n: f"prefetch={n}")
@pytest.mark.parametrize(
    ("walk", "handed_out", "stuck_at"),
    [
        pytest.param(SAME_AGAIN, ["msg_start", "msg_A"], "B", id="same-cursor-again"),
        pytest.param(CYCLE, ["msg_start", "msg_A", "msg_B"], "C", id="a-b-c-a"),
    ],
)
async def test_items_stop_with_a_typed_error_and_a_checkpoint_before_the_loop(
    walk: dict[str | None, str | None], handed_out: list[str], stuck_at: str, prefetch: int
) -> None:
    """The page that closes the loop is replaced by the error; nothing is handed out twice."""
    async with hostile_server(cursor_walk(walk)) as server:
        async with client_for(server) as client:
            stream = client.messages.list(prefetch=prefetch)
            seen: list[str] = []
            with pytest.raises(CursorLoopError, match="a second time") as caught:
                async for message in stream:
                    seen.append(message.id)
    assert seen == handed_out
    error = caught.value
    assert error.cursor == walk[stuck_at]
    assert error.resume_cursor == stuck_at
    assert error.checkpoint == stream.checkpoint
    assert position(error.checkpoint) == position(Checkpoint(cursor=stuck_at))
    assert len(server.requests) == len(handed_out) + 1  # no page was asked for twice


async def test_pages_stop_with_the_checkpoint_after_the_last_good_page() -> None:
    async with hostile_server(cursor_walk(CYCLE)) as server:
        async with client_for(server) as client:
            stream = client.messages.list()
            pages = 0
            with pytest.raises(CursorLoopError) as caught:
                async for _ in stream.pages():
                    pages += 1
    assert pages == 3
    assert caught.value.checkpoint == stream.checkpoint
    assert position(stream.checkpoint) == position(Checkpoint(cursor="C"))


async def test_a_resumed_stream_that_loops_keeps_its_offset() -> None:
    async with hostile_server(cursor_walk({"A": "A"})) as server:
        async with client_for(server) as client:
            stream = client.messages.list(resume=Checkpoint(cursor="A", offset=1))
            with pytest.raises(CursorLoopError) as caught:
                async for _ in stream:
                    pass
    assert position(caught.value.checkpoint) == position(Checkpoint(cursor="A", offset=1))


async def test_merge_stops_when_one_source_loops() -> None:
    async def walk(request: Any, hostile: Hostile) -> Any:
        # sender "loop" cycles; sender "fine" ends after two pages.
        table = CYCLE if request.query.get("sender_id") == "loop" else {None: "F", "F": None}
        return await cursor_walk(table)(request, hostile)

    async with hostile_server(walk) as server:
        async with client_for(server) as client:
            streams = [client.messages.list(sender_id=s) for s in ("fine", "loop")]
            with pytest.raises(CursorLoopError):
                async with merge(*streams) as merged:
                    async for _ in merged:
                        pass
    assert len(server.requests) <= 2 + 4


async def test_list_windows_stops_when_a_window_loops() -> None:
    async with hostile_server(cursor_walk(SAME_AGAIN)) as server:
        async with client_for(server) as client:
            windows = client.messages.list_windows(
                after="2026-01-01T00:00:00Z", before="2026-01-02T00:00:00Z", windows=3
            )
            with pytest.raises(CursorLoopError):
                async with windows:
                    async for _ in windows:
                        pass
    assert len(server.requests) <= 3 * 3


def test_a_long_cycle_is_caught_by_brent_in_bounded_memory() -> None:
    """Beyond the exact window of recent cursors, Brent's check still ends the walk."""
    trail = CursorTrail(None)
    lead, cycle = 700, 1500  # the cycle is longer than CursorTrail.RECENT
    assert cycle > CursorTrail.RECENT
    walk = [f"c{i}" for i in range(lead)] + [f"loop{i}" for i in range(cycle)] * 10
    with pytest.raises(CursorLoopError):
        for steps, cursor in enumerate(walk):  # noqa: B007
            trail.follow(cursor)
    assert steps <= 2 * (lead + cycle) + cycle
    assert len(trail._recent) <= CursorTrail.RECENT


def test_a_walk_without_repeats_is_never_refused() -> None:
    trail = CursorTrail("start")
    for i in range(20_000):
        trail.follow(f"cursor-{i}")
    assert len(trail._recent) == CursorTrail.RECENT


def position(checkpoint: Checkpoint) -> tuple[str | None, int, bool]:
    """Where a checkpoint resumes the listing (its ``follow`` state aside)."""
    return checkpoint.cursor, checkpoint.offset, checkpoint.done


def _fresh_cursor_pages(ids_of: Any) -> tuple[list[str | None], MockTransport]:
    """A server that sends a new cursor with every page, for ever; ``ids_of(n)`` the ids of page n."""
    asked: list[str | None] = []

    def handler(request: Request) -> Response:
        cursor = parse_qs(urlsplit(request.url).query).get("cursor", [None])[0]
        asked.append(cursor)
        return Response(200, {}, page_body(ids_of(len(asked)), f"c{len(asked)}"))

    return asked, MockTransport(handler)


@pytest.mark.parametrize("prefetch", [0, 1, 3], ids=lambda n: f"prefetch={n}")
@pytest.mark.parametrize(
    "ids_of",
    [
        pytest.param(lambda n: [], id="empty-pages"),
        # An offset-paging server stuck on one page: every page repeats the one before.
        pytest.param(lambda n: ["msg_a", "msg_b"], id="the-same-page-again"),
    ],
)
async def test_pages_with_new_cursors_and_no_new_item_end(
    ids_of: Any, prefetch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fresh cursors defeat the cursor check: a run of pages giving nothing ends the walk."""
    monkeypatch.setattr(_cursor_trail, "MAX_PAGES_WITHOUT_ITEMS", 5)
    asked, transport = _fresh_cursor_pages(ids_of)
    async with AsyncPostpress(api_key="k", transport=transport) as client:
        stream = client.messages.list(prefetch=prefetch)
        seen: list[str] = []
        with pytest.raises(CursorLoopError, match="5 pages in a row") as caught:
            async for message in stream:
                seen.append(message.id)
    assert seen == ids_of(1)
    assert len(asked) <= 1 + 5 + 1 + prefetch  # bounded: the run, and the pages ahead
    assert caught.value.checkpoint == stream.checkpoint


async def test_a_run_of_empty_pages_shorter_than_the_bound_is_walked_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_cursor_trail, "MAX_PAGES_WITHOUT_ITEMS", 5)
    asked: list[int] = []

    def handler(request: Request) -> Response:
        asked.append(1)
        n = len(asked)
        ids = [f"msg_{n}"] if n % 5 == 0 else []
        return Response(200, {}, page_body(ids, f"c{n}" if n < 20 else None))

    async with AsyncPostpress(api_key="k", transport=MockTransport(handler)) as client:
        seen = [message.id async for message in client.messages.list()]
    assert seen == ["msg_5", "msg_10", "msg_15", "msg_20"]


def test_the_command_line_names_a_run_of_pages_without_items() -> None:
    from postpress_async.cli._errors import describe

    _, stalled = describe(CursorLoopError("c_9", pages=1000))
    _, repeated = describe(CursorLoopError("c_9"))
    assert "1000 pages in a row" in stalled and "second time" not in stalled
    assert "second time" in repeated


def _walk_by_transport(
    walk: dict[str | None, str | None], asked: list[str | None]
) -> MockTransport:
    """:func:`cursor_walk` through the public MockTransport (``asked``: each request's cursor)."""

    def handler(request: Request) -> Response:
        cursor = parse_qs(urlsplit(request.url).query).get("cursor", [None])[0]
        asked.append(cursor)
        return Response(200, {}, page_body([f"msg_{cursor or 'start'}"], walk[cursor]))

    return MockTransport(handler)


@pytest.mark.parametrize("prefetch", [0, 1, 3], ids=lambda n: f"prefetch={n}")
@pytest.mark.parametrize("bad", ["B\n", "B\x00", "\x7fB", "\tB"], ids=repr)
async def test_a_cursor_with_a_control_character_is_a_typed_error_in_place_of_its_page(
    bad: str, prefetch: int
) -> None:
    """JSON can carry one (``"B\\n"``), but no caller could give it back as ``cursor=`` or
    in a resume checkpoint: its page is refused at ``$.cursor``, never followed, and the
    stream's checkpoint stays before that page, where a resumed stream starts again."""
    asked: list[str | None] = []
    transport = _walk_by_transport({None: "A", "A": bad}, asked)
    async with AsyncPostpress(api_key="k", transport=transport) as client:
        stream = client.messages.list(prefetch=prefetch)
        seen: list[str] = []
        with pytest.raises(ResponseDecodeError, match="control character") as caught:
            async for message in stream:
                seen.append(message.id)
        assert seen == ["msg_start"]
        assert caught.value.path == "$.cursor"
        assert position(caught.value.checkpoint) == position(Checkpoint(cursor="A"))
        assert asked == [None, "A"]  # the bad cursor was never sent
        resumed = client.messages.list(resume=caught.value.checkpoint, prefetch=prefetch)
        with pytest.raises(ResponseDecodeError):
            _ = [message async for message in resumed]


async def test_the_raw_rows_refuse_a_cursor_with_a_control_character_too() -> None:
    asked: list[str | None] = []
    transport = _walk_by_transport({None: "A", "A": "B\n"}, asked)
    async with AsyncPostpress(api_key="k", transport=transport) as client:
        stream = client.messages.rows()
        with pytest.raises(ResponseDecodeError, match="control character") as caught:
            _ = [row async for row in stream]
    assert caught.value.path == "$.cursor"
    assert position(caught.value.checkpoint) == position(Checkpoint(cursor="A"))
    assert asked == [None, "A"]
