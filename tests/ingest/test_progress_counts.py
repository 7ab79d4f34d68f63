"""IngestProgress counts the whole run: requests and retries of the plan, the backfill and
the catch-up/follow alike (the CLI's summary line prints them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from postpress_async._poll import PollPolicy
from postpress_async.ingest import IngestProgress, ingest
from postpress_async.transports import Request, Response

from ._feed import Feed, FeedConfig, message
from ._memory import MemorySink

URL = "https://flaky.test"
T0 = 1_800_000_000_000
POLICY = PollPolicy(interval=0.01, max_interval=0.01, jitter=0.0)
UNAVAILABLE = (
    b'{"type":"errors/service_unavailable","status":503,"title":"Service Unavailable",'
    b'"detail":"Retry later."}'
)


class FlakyFeed(Feed):
    """A feed that answers 503 to the requests whose numbers (from 1) are in ``fail``."""

    def __init__(self, fail: set[int]) -> None:
        super().__init__()
        self.fail = fail
        self.requests = 0
        self.failed = 0

    def respond(self, request: Request) -> Response:
        self.requests += 1
        if self.requests in self.fail:
            self.failed += 1
            headers = {"content-type": "application/json", "retry-after": "0.001"}  # cheap
            return Response(status=503, headers=headers, content=UNAVAILABLE)
        return super().respond(request)


@pytest.fixture
def feed(request: pytest.FixtureRequest) -> Iterator[FlakyFeed]:
    made = FeedConfig.feeds[URL] = FlakyFeed(set(request.param))
    for i in range(12):
        made.add(T0 - i, message(f"m{i:02d}", T0 - i))
    yield made
    del FeedConfig.feeds[URL]


@pytest.mark.parametrize("feed", [(1,)], indirect=True)
async def test_a_follow_without_backfill_counts_its_retries(feed: FlakyFeed) -> None:
    config = FeedConfig(base_url=URL, api_key="k", limit=5)
    progress = IngestProgress()
    result = await ingest(
        config,
        "messages",
        MemorySink(),
        backfill=False,
        since="2020-01-01T00:00:00Z",
        policy=POLICY,
        progress=progress,
    )
    assert result.items == 12
    assert feed.failed == 1
    assert progress.retries == feed.failed
    assert progress.requests == feed.requests


@pytest.mark.parametrize("feed", [(1, 4)], indirect=True)
async def test_a_backfill_counts_the_retries_of_its_plan_and_its_catch_up(
    feed: FlakyFeed,
) -> None:
    # Requests 1 and 4 are probes of the plan (retries the backfill never saw).
    config = FeedConfig(base_url=URL, api_key="k", limit=5)
    sink = MemorySink()
    first = IngestProgress()
    await ingest(config, "messages", sink, shards=2, policy=POLICY, progress=first)
    assert feed.failed == 2
    assert first.retries == feed.failed
    assert first.requests == feed.requests
    # The re-run only catches up: its first request fails once.
    feed.fail, feed.failed, feed.requests = {1}, 0, 0
    again = IngestProgress()
    await ingest(config, "messages", sink, policy=POLICY, progress=again)
    assert feed.failed == 1
    assert again.retries == 1
    assert again.requests == feed.requests


@pytest.mark.parametrize("feed", [()], indirect=True)
async def test_a_progress_given_to_every_run_counts_each_run_as_its_result_does(
    feed: FlakyFeed,
) -> None:
    # A service that runs the sync every few minutes with one progress for its log line.
    config = FeedConfig(base_url=URL, api_key="k", limit=5)
    sink = MemorySink()
    progress = IngestProgress()
    first = await ingest(config, "messages", sink, shards=2, policy=POLICY, progress=progress)
    assert progress.items == first.items == 12
    feed.add(T0 + 1, message("new", T0 + 1))
    feed.requests = 0
    again = await ingest(config, "messages", sink, policy=POLICY, progress=progress)
    assert again.items == 1
    assert progress.items == again.items  # not the 13 of both runs
    assert progress.requests == feed.requests
    assert progress.text().startswith("1 message ·")  # one, not "1 messages"


def test_one_of_a_thing_is_said_in_the_singular() -> None:
    """The progress line says ``1 message``, ``1 reject``, ``1 retry``, and the plural for
    other counts."""
    progress = IngestProgress(noun="messages", items=1, rejects=1, retries=1, phase="done")
    assert "1 message · " in progress.text() and "1 messages" not in progress.text()
    assert "1 reject · " in progress.text() and progress.text().endswith("1 retry · done")
    many = IngestProgress(noun="chats", items=2, rejects=3, retries=0, phase="done")
    assert "2 chats · 3 rejects" in many.text() and "0 retries" in many.text()
