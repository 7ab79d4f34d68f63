"""The local engine: every shard concurrently in this process, on one client.

The shards share the client, so together they never exceed its in-flight limit
(``Limits.max_in_flight``); ``concurrency`` caps how many shards run at once (default:
all). The shards run in an anyio task group: the first failure cancels the others,
whose stored checkpoints already cover every page they wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from postpress_async._client import AsyncPostpress
from postpress_async._params import check_int
from postpress_async._tasks import first_error
from postpress_async.ingest._run import IngestProgress, ShardResult, run_shard

if TYPE_CHECKING:
    from postpress_async.ingest._config import ClientConfig
    from postpress_async.ingest._shards import ShardPlan
    from postpress_async.ingest.sinks._base import Sink

__all__ = ["LocalEngine"]


class LocalEngine:
    """Shards as tasks of this process; see the module docstring."""

    def __init__(self, *, concurrency: int | None = None) -> None:
        if concurrency is not None:
            check_int("concurrency", concurrency, minimum=1)
        self.concurrency = concurrency

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
        """Run the shards concurrently on ``client``."""
        results: dict[str, ShardResult] = {}
        limiter = anyio.CapacityLimiter(self.concurrency or max(1, len(plan.shards)))
        base_retries = client.stats().total_retries

        def page(items: int) -> None:
            progress.items += items
            progress.retries = client.stats().total_retries - base_retries

        async def one(index: int) -> None:
            shard = plan.shards[index]
            async with limiter:
                result = await run_shard(
                    client,
                    shard,
                    sink,
                    limit=config.limit,
                    prefetch=config.prefetch,
                    on_page=page,
                )
            results[shard.label] = result
            progress.shards_done += 1

        try:
            async with anyio.create_task_group() as group:
                for index in range(len(plan.shards)):
                    group.start_soon(one, index)
        except Exception as exc:  # the first shard's error, not an exception group
            raise first_error(exc) from None
        progress.retries = client.stats().total_retries - base_retries
        return [results[shard.label] for shard in plan.shards]
