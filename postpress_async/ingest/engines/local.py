"""The local engine: every shard concurrently in this process, on one client.

The shards share the client, so together they never exceed its in-flight limit
(``Limits.max_in_flight``); ``concurrency`` caps how many shards run at once (default:
all). They share one :class:`~postpress_async.ingest._commit.Committer` too: its writer
commits the pages of every shard in groups, one transaction for many pages. The shards
run in an anyio task group: the first failure cancels the others and is raised as
itself; the pages queued before it are committed first, so every stored position
covers exactly the rows stored before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from postpress_async._client import AsyncPostpress
from postpress_async._params import MAX_SHARDS, check_count
from postpress_async._tasks import first_error
from postpress_async.ingest._commit import Committer
from postpress_async.ingest._run import IngestProgress, ShardResult, run_shard

if TYPE_CHECKING:
    from postpress_async.ingest._config import ClientConfig
    from postpress_async.ingest._shards import ShardPlan
    from postpress_async.ingest.sinks._base import Sink

__all__ = ["LocalEngine"]


class LocalEngine:
    """Shards as tasks of this process; see the module docstring.

    ``max_pages``: pages queued for the committer at most (back-pressure; 1 to 1,000);
    ``concurrency``: 1 to 1,000 (no plan has more shards).
    """

    def __init__(self, *, concurrency: int | None = None, max_pages: int = 16) -> None:
        if concurrency is not None:
            why = "no plan has more shards to run at once"
            check_count("concurrency", concurrency, most=MAX_SHARDS, why=why)
        why = "each queued page is memory (a page of 250 messages, about 200 KB)"
        check_count("max_pages", max_pages, most=1_000, why=why)
        self.concurrency = concurrency
        self.max_pages = max_pages

    def __repr__(self) -> str:
        return f"LocalEngine(concurrency={self.concurrency!r})"

    def check(self, sink: Sink) -> None:
        """Every sink serves one process."""

    async def __aenter__(self) -> LocalEngine:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def run(
        self,
        client: AsyncPostpress,
        config: ClientConfig,
        plan: ShardPlan,
        sink: Sink,
        progress: IngestProgress,
    ) -> list[ShardResult]:
        """Run the shards concurrently on ``client``, into one committer."""
        results: dict[str, ShardResult] = {}
        limiter = anyio.CapacityLimiter(self.concurrency or max(1, len(plan.shards)))
        # Added to what the run counted before (its plan's retries), as they happen.
        base_retries = client.stats().total_retries - progress.retries

        def stored(rows: int, rejects: int) -> None:
            progress.stored(rows, rejects)
            progress.retries = client.stats().total_retries - base_retries

        async def one(committer: Committer, index: int) -> None:
            shard = plan.shards[index]
            async with limiter:
                result = await run_shard(
                    client,
                    shard,
                    sink,
                    committer,
                    limit=config.limit,
                    prefetch=config.prefetch,
                )
            results[shard.label] = result
            progress.shards_done += 1

        async with Committer(
            sink, plan.endpoint, on_commit=stored, max_pages=self.max_pages
        ) as committer:
            try:
                async with anyio.create_task_group() as group:
                    for index in range(len(plan.shards)):
                        group.start_soon(one, committer, index)
            except Exception as exc:  # the first shard's error, not an exception group
                raise first_error(exc) from None
        progress.retries = client.stats().total_retries - base_retries
        return [results[shard.label] for shard in plan.shards]
