"""An export whose server sends ``"cursor": ""`` mid-listing: it stops with the typed
error at ``$.cursor`` and never claims to be complete (an empty cursor read as the end
would end it early, followed it asks for ``?cursor=``, which the API refuses)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from postpress_async import ResponseDecodeError
from postpress_async.ingest import ingest
from postpress_async.ingest.sinks import open_sink
from postpress_async.transports import Request, Response

from ._feed import Feed, FeedConfig, message

T0 = 1_800_000_000_000
URL = "https://empty-cursor.test"


class EmptyCursorFeed(Feed):
    """A feed whose page at offset 10 sends an empty cursor instead of ``"20"`` (until
    ``empty`` is set False: the server mended)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str | None] = []
        self.empty = True

    def respond(self, request: Request) -> Response:
        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        self.asked.append(query.get("cursor", [None])[0])
        response = super().respond(request)
        if not self.empty:
            return response
        content = response.content.replace(b'"cursor":"20"', b'"cursor":""')
        return Response(status=200, headers=dict(response.headers), content=content)


@pytest.fixture
def feed() -> Iterator[EmptyCursorFeed]:
    made = FeedConfig.feeds[URL] = EmptyCursorFeed()
    yield made
    del FeedConfig.feeds[URL]


async def test_an_export_stops_at_an_empty_cursor_and_is_not_complete(
    tmp_path: Path, feed: EmptyCursorFeed
) -> None:
    for n in range(30):
        feed.add(T0 - 1_000 * n, message(f"m{n}", T0 - 1_000 * n))
    config = FeedConfig(base_url=URL, api_key="k", limit=10)
    store = f"sqlite:///{tmp_path / 'm.db'}"
    with pytest.raises(ResponseDecodeError) as caught:
        await ingest(config, "messages", open_sink(store), shards=1)
    assert caught.value.path == "$.cursor"
    assert "" not in feed.asked
    feed.empty = False  # the run resumes after its last good page: the rest, once each
    done = await ingest(config, "messages", open_sink(store), shards=1)
    assert done.backfilled == 20
