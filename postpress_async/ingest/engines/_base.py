"""The engine protocol: what runs the shards of a plan."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from postpress_async._client import AsyncPostpress

if TYPE_CHECKING:
    from postpress_async.ingest._config import ClientConfig
    from postpress_async.ingest._run import IngestProgress, ShardResult
    from postpress_async.ingest._shards import ShardPlan
    from postpress_async.ingest.sinks._base import Sink

__all__ = ["Engine"]


class Engine(Protocol):
    """Runs the shards of a plan that are not done; ``async with`` starts and stops it."""

    def check(self, sink: Sink) -> None:
        """Raise :class:`SinkUnavailableError` if this engine's writers cannot share ``sink``."""

    async def __aenter__(self) -> Engine: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def run(
        self,
        client: AsyncPostpress,
        config: ClientConfig,
        plan: ShardPlan,
        sink: Sink,
        progress: IngestProgress,
    ) -> list[ShardResult]:
        """Run every shard of ``plan`` into ``sink`` (each from its stored checkpoint)."""
