"""A page whose ``cursor`` is ``""``: the API sends ``null`` at the end and a cursor of
at least one character otherwise (its ``cursor`` parameter: "Length >= 1").

Followed, an empty cursor asks for ``?cursor=``: a server doing what the reference says
answers 400 (the embedded fake does), or one that ignores it serves the first page again,
duplicates until the cursor-loop guard sees a cursor twice. Read as the end, it would end
an export early and let it claim to be complete. So its page does not fit the model: a
typed error at ``$.cursor`` in place of that page, the checkpoint before it.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from postpress_async import AsyncPostpress, Checkpoint, ResponseDecodeError
from postpress_async.transports import MockTransport, Request, Response

from ._server import message

#: next cursor by the cursor a page was asked with (None: the first page).
EMPTY_SECOND: dict[str | None, str | None] = {None: "A", "A": ""}
#: A server that ignores an empty cursor: ``?cursor=`` is the first page again.
IGNORED = {**EMPTY_SECOND, "": "A"}
BAD_CURSOR = json.dumps(
    {"title": "Bad Request", "type": "errors/invalid_parameters", "status": 400}
).encode()


def _transport(walk: dict[str | None, str | None], asked: list[str | None]) -> MockTransport:
    """Each page holds one message named after the cursor it was asked with; ``asked``
    records each request's cursor exactly (``""`` for a ``cursor=`` without a value).
    A cursor not in ``walk`` is answered as the reference says: 400."""

    def handler(request: Request) -> Response:
        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        cursor = query.get("cursor", [None])[0]
        asked.append(cursor)
        if cursor not in walk:
            return Response(400, {}, BAD_CURSOR)
        body = {"object": "MessageList", "items": [message(f"msg_{cursor}")]}
        return Response(200, {}, json.dumps({**body, "cursor": walk[cursor]}).encode())

    return MockTransport(handler)


def _position(checkpoint: Checkpoint) -> tuple[str | None, int, bool]:
    return checkpoint.cursor, checkpoint.offset, checkpoint.done


def _says_what_the_api_sends(error: ResponseDecodeError) -> None:
    assert error.path == "$.cursor"
    assert "null" in str(error) and "at least one character" in str(error)


@pytest.mark.parametrize("prefetch", [0, 1, 3], ids=lambda n: f"prefetch={n}")
async def test_an_empty_cursor_is_a_typed_error_in_place_of_its_page(prefetch: int) -> None:
    """Never followed (no ``cursor=`` sent), never the end: the page is refused at
    ``$.cursor``; resuming from the error's checkpoint meets the same page again and
    hands out nothing twice."""
    asked: list[str | None] = []
    async with AsyncPostpress(api_key="k", transport=_transport(IGNORED, asked)) as client:
        stream = client.messages.list(prefetch=prefetch)
        seen: list[str] = []
        with pytest.raises(ResponseDecodeError) as caught:
            async for item in stream:
                seen.append(item.id)
        _says_what_the_api_sends(caught.value)
        assert seen == ["msg_None"]
        assert caught.value.checkpoint == stream.checkpoint
        assert _position(stream.checkpoint) == _position(Checkpoint(cursor="A"))
        assert asked == [None, "A"]
        resumed = client.messages.list(resume=caught.value.checkpoint, prefetch=prefetch)
        with pytest.raises(ResponseDecodeError) as again:
            async for item in resumed:
                seen.append(item.id)
        _says_what_the_api_sends(again.value)
    assert seen == ["msg_None"]  # the bad page's item: never handed out
    assert "" not in asked


async def test_an_empty_cursor_on_the_first_page_leaves_the_checkpoint_at_the_start() -> None:
    asked: list[str | None] = []
    async with AsyncPostpress(api_key="k", transport=_transport({None: ""}, asked)) as client:
        stream = client.messages.list()
        with pytest.raises(ResponseDecodeError) as caught:
            _ = [item async for item in stream]
    _says_what_the_api_sends(caught.value)
    assert _position(stream.checkpoint) == _position(Checkpoint())
    assert asked == [None]


@pytest.mark.parametrize("prefetch", [0, 1, 3], ids=lambda n: f"prefetch={n}")
async def test_the_raw_rows_refuse_an_empty_cursor_too(prefetch: int) -> None:
    """The export's path (a page's cursor peeked before its items are read) says the same."""
    asked: list[str | None] = []
    async with AsyncPostpress(api_key="k", transport=_transport(IGNORED, asked)) as client:
        stream = client.messages.rows(prefetch=prefetch)
        ids: list[str] = []
        with pytest.raises(ResponseDecodeError) as caught:
            async for row in stream:
                ids.append(row[0])
    _says_what_the_api_sends(caught.value)
    assert ids == ["msg_None"]
    assert caught.value.checkpoint == stream.checkpoint
    assert asked == [None, "A"]


async def test_a_watch_refuses_an_empty_cursor() -> None:
    asked: list[str | None] = []
    async with AsyncPostpress(api_key="k", transport=_transport(IGNORED, asked)) as client:
        watch = client.messages.watch(since="2025-01-01T00:00:00Z")
        with pytest.raises(ResponseDecodeError) as caught:
            async for _ in watch:
                pass
    _says_what_the_api_sends(caught.value)
    assert "" not in asked


async def test_a_blank_cursor_is_a_cursor_and_followed() -> None:
    """Spaces are text of length >= 1: sent back as they came."""
    asked: list[str | None] = []
    walk: dict[str | None, str | None] = {None: "  ", "  ": None}
    async with AsyncPostpress(api_key="k", transport=_transport(walk, asked)) as client:
        ids = [item.id async for item in client.messages.list()]
        rows = [row[0] async for row in client.messages.rows()]
    assert ids == rows == ["msg_None", "msg_  "]
    assert asked == [None, "  ", None, "  "]


async def test_a_checkpoint_an_older_version_saved_with_an_empty_cursor_resumes_as_before() -> None:
    """Saved states are not changed: ``Checkpoint(cursor="")`` still asks with ``cursor=``."""
    asked: list[str | None] = []
    walk: dict[str | None, str | None] = {"": None}
    async with AsyncPostpress(api_key="k", transport=_transport(walk, asked)) as client:
        ids = [item.id async for item in client.messages.list(resume=Checkpoint(cursor=""))]
    assert ids == ["msg_"]
    assert asked == [""]
