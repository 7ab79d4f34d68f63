"""The follow's rejects end to end: an item no reader can take, listed again, is stored once.

A reject has no time of its own: the follow places it at the newest readable time of its
page, which says nothing of where it really lies, so the follow can forget it while the
API still lists it (the overlap after a backfill, a later poll whose page moved). The
store knows a reject by its bytes and keeps it once. Each test runs a whole ``ingest``
on a :class:`~._feed.Feed` into real stores (and the summary counts what was stored).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest

from postpress_async import AsyncPostpress
from postpress_async._poll import PollPolicy
from postpress_async.ingest import ClientConfig, ingest
from postpress_async.ingest.sinks import open_sink
from postpress_async.ingest.sinks._base import Sink
from postpress_async.transports import MockTransport, Request, Response, Transport

from ._feed import Feed, FeedConfig, message

#: The feed's newest readable message; the rest lie around it.
T0 = 1_800_000_000_000
#: The follow's default overlap (10 s): it re-lists that much behind its watermark.
POLICY = PollPolicy(interval=0.01, max_interval=0.01, jitter=0.0)
UNREADABLE = b'"oops"'
URL = "https://feed.test"

Store = Callable[[Path], Sink]
STORES = [
    pytest.param(lambda tmp: open_sink(f"sqlite:///{tmp / 'm.db'}"), id="sqlite"),
    pytest.param(lambda tmp: open_sink(str(tmp / "m.jsonl")), id="jsonl"),
    pytest.param(lambda tmp: open_sink(f"{tmp / 'parts'}/"), id="parts"),
]


@pytest.fixture
def feed() -> Iterator[Feed]:
    made = FeedConfig.feeds[URL] = Feed()
    yield made
    del FeedConfig.feeds[URL]


@pytest.fixture
def config(feed: Feed) -> FeedConfig:
    return FeedConfig(base_url=URL, api_key="k", limit=100)


async def rejects(store: Store, tmp_path: Path) -> int:
    sink = store(tmp_path)
    await sink.open(writer=False)
    try:
        return await sink.rejects("messages")
    finally:
        await sink.close()


@pytest.mark.parametrize("store", STORES)
async def test_a_reject_within_the_overlap_is_stored_once_by_a_backfill_and_its_catch_up(
    store: Store, tmp_path: Path, feed: Feed, config: FeedConfig
) -> None:
    for n in range(50):
        feed.add(T0 - 100_000 * n, message(f"m{n}", T0 - 100_000 * n))
    feed.add(T0 - 3_000, UNREADABLE)  # 3 s before the newest: the catch-up lists it again
    done = await ingest(config, "messages", store(tmp_path), shards=2, policy=POLICY)
    assert (done.backfilled, done.synced, done.rejects) == (50, 0, 1)
    again = await ingest(config, "messages", store(tmp_path), shards=2, policy=POLICY)
    assert (again.items, again.rejects) == (0, 0)
    assert await rejects(store, tmp_path) == 1


@pytest.mark.parametrize("store", STORES)
async def test_a_reject_the_follow_forgot_and_lists_again_is_stored_once(
    store: Store, tmp_path: Path, feed: Feed, config: FeedConfig
) -> None:
    since = datetime.fromtimestamp((T0 - 60_000) / 1000, tz=timezone.utc)
    feed.add(T0, message("m1", T0))
    feed.add(T0 + 5_000, UNREADABLE)  # newer than every readable item: placed at T0
    first = await ingest(
        config, "messages", store(tmp_path), backfill=False, since=since, policy=POLICY
    )
    assert (first.synced, first.rejects) == (1, 1)
    # A message 13 s later: the floor rises past T0 and the follow forgets the reject,
    # which the API still lists (its own time is after the floor), now placed higher.
    feed.add(T0 + 13_000, message("m2", T0 + 13_000))
    results = [
        await ingest(config, "messages", store(tmp_path), backfill=False, policy=POLICY)
        for _ in range(2)
    ]
    assert [(r.synced, r.rejects) for r in results] == [(1, 0), (0, 0)]
    assert await rejects(store, tmp_path) == 1


@pytest.mark.parametrize("store", STORES)
async def test_a_message_without_a_timestamp_is_a_reject_of_the_follow_not_left_out(
    store: Store, tmp_path: Path, feed: Feed, config: FeedConfig
) -> None:
    """The reference calls ``timestamp`` required; a message the follow lists without one
    has no place in time. It is set aside once as a reject, with its bytes as sent, never
    left out without a word, and the follow goes on."""
    since = datetime.fromtimestamp((T0 - 60_000) / 1000, tz=timezone.utc)
    feed.add(T0, message("m1", T0))
    timeless = msgspec.json.encode({"object": "Message", "id": "m0", "text": "no time"})
    feed.add(T0 + 1_000, timeless)  # listed among the window's messages
    first = await ingest(
        config, "messages", store(tmp_path), backfill=False, since=since, policy=POLICY
    )
    assert (first.synced, first.rejects) == (1, 1)
    feed.add(T0 + 2_000, message("m2", T0 + 2_000))
    again = await ingest(config, "messages", store(tmp_path), backfill=False, policy=POLICY)
    assert (again.synced, again.rejects) == (1, 0)
    assert await rejects(store, tmp_path) == 1


ACCOUNT = b'{"object":"Account","id":"%s","type":"SLACK","name":"n"}'


class AccountsConfig(ClientConfig, frozen=True, kw_only=True):
    """A client configuration whose clients list ``items`` as the one page of accounts."""

    items: ClassVar[list[bytes]] = []

    def client(self, *, transport: Transport | None = None) -> AsyncPostpress:
        def respond(request: Request) -> Response:
            body = b'{"object":"AccountList","items":[%b],"cursor":null}' % b",".join(self.items)
            return Response(200, {"content-type": "application/json"}, body)

        return super().client(transport=MockTransport(respond))


@pytest.mark.parametrize("store", STORES)
async def test_an_accounts_refresh_stores_a_reject_once_and_counts_only_a_new_one(
    store: Store, tmp_path: Path
) -> None:
    config = AccountsConfig(base_url="https://accounts.test", api_key="k")
    AccountsConfig.items[:] = [ACCOUNT % b"a1", UNREADABLE, ACCOUNT % b"a2"]
    first = await ingest(config, "accounts", store(tmp_path))
    assert (first.items, first.rejects) == (2, 1)
    again = await ingest(config, "accounts", store(tmp_path))
    assert (again.items, again.rejects) == (0, 0)
    AccountsConfig.items.append(b'"oops again"')
    third = await ingest(config, "accounts", store(tmp_path))
    assert (third.items, third.rejects) == (0, 1)
    sink = store(tmp_path)
    await sink.open(writer=False)
    try:
        assert await sink.rejects("accounts") == 2
    finally:
        await sink.close()
