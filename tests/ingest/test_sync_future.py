"""A store with a message a provider dated in the future (2099) keeps storing what follows.

The store's follow position is bounded by the server's clock (its ``Date``), as a watch's
is (``tests/test_watch_future.py``): derived from a backfill's shards, or moved by an
incremental run, it never passes the server's time, so a re-run still lists what is
correctly dated after the 2099 message, and stores it once; ``verify()`` agrees.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest

from postpress_async._positions import WatchState
from postpress_async._time import to_ms
from postpress_async.ingest import ClientConfig, ingest, open_sink, verify
from postpress_async.ingest.sinks._base import FOLLOW
from postpress_async.testing import Dataset, FakePostpress

FUTURE = datetime(2099, 1, 1, tzinfo=timezone.utc)
STORES = {
    "sqlite": "sqlite:///{tmp}/m.db",
    "jsonl": "{tmp}/m.jsonl",
}


async def stored(url: str) -> tuple[list[str], WatchState]:
    """The ids the store holds, and its follow position."""
    sink = open_sink(url)
    await sink.open(writer=False)
    try:
        ids = await sink.stored_ids("messages", after=None, before=None)
        position = (await sink.positions("messages"))[FOLLOW].position
    finally:
        await sink.close()
    return ids, msgspec.json.decode(position, type=WatchState)


@pytest.mark.parametrize("kind", list(STORES))
async def test_messages_after_a_future_dated_one_are_stored_by_the_next_runs(
    kind: str, tmp_path: Path
) -> None:
    url = STORES[kind].format(tmp=tmp_path)
    async with FakePostpress(dataset=Dataset(seed=3, messages=90, chats=20)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=30)
        # One in the backfill: the follow position is derived from the shards' listings.
        server.add_messages(1, timestamp=FUTURE, listed_now=True)
        first = await ingest(config, "messages", url, shards=2)
        assert first.items == 91
        server.add_messages(2)
        assert (await ingest(config, "messages", url)).items == 2
        # One arriving between two runs: the incremental run moves the position.
        server.add_messages(1, timestamp=FUTURE, listed_now=True)
        server.add_messages(2)
        assert (await ingest(config, "messages", url)).items == 3
        server.add_messages(3)
        last = await ingest(config, "messages", url)
        assert last.items == 3
        assert last.caught_up_to is not None and last.caught_up_to < FUTURE
        ids, position = await stored(url)
        assert Counter(ids) == Counter(server.truth("messages"))  # each once, none missing
        assert position.watermark_ms is not None and position.watermark_ms < to_ms(FUTURE)
        report = await verify(config, "messages", url)
        assert report.ok, report
