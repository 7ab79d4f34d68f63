"""Running one shard into a sink (:func:`run_shard`).

:func:`run_shard` reads the shard's checkpoint from the sink, resumes the shard's list
stream from it, and hands the sink each page with the checkpoint right after it; the
sink stores both atomically. A run killed at any point resumes from the store: no page
is lost, none is stored twice. Engines call it; :mod:`._ingest` calls the engines.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from postpress_async._client import AsyncPostpress
from postpress_async._positions import Checkpoint

from ._shards import Shard
from ._streams import shard_stream

if TYPE_CHECKING:
    pass

__all__ = ["IngestProgress", "ShardResult", "run_shard"]


class ShardResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one run of a shard did."""

    label: str
    #: Items and pages stored by this run (not counting earlier runs).
    items: int = 0
    pages: int = 0
    #: HTTP retries this run's client made (one client a shard on Dask; shared locally).
    retries: int = 0
    done: bool = False
    #: True when the shard was already complete in the store.
    skipped: bool = False


@dataclasses.dataclass(slots=True)
class IngestProgress:
    """Counters an export updates as it goes; :meth:`text` is the progress line."""

    noun: str = "items"
    shards: int = 0
    shards_done: int = 0
    items: int = 0
    retries: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)

    def text(self) -> str:
        """``3/8 shards · 12,345 messages · 4,321/s · 2 retries``."""
        elapsed = time.monotonic() - self.started
        rate = f"{self.items / elapsed:,.0f}/s" if elapsed > 0 else "-"
        return (
            f"{self.shards_done}/{self.shards} shards · {self.items:,} {self.noun} · {rate} · "
            f"{self.retries:,} retries"
        )


async def run_shard(
    client: AsyncPostpress,
    shard: Shard,
    sink: Any,  # the previous sink protocol, until run_shard is rewritten on the contract
    *,
    limit: int | None = None,
    prefetch: int | None = None,
    on_page: Callable[[int], None] | None = None,
) -> ShardResult:
    """Run ``shard`` into ``sink`` from the checkpoint stored there; see the module docstring."""
    previous = await sink.checkpoint(shard)
    if previous.done:
        return ShardResult(label=shard.label, done=True, skipped=True)
    retries = client.stats().total_retries
    items = pages = 0
    async with shard_stream(
        client, shard, resume=previous, limit=limit, prefetch=prefetch
    ) as stream:
        async for page in stream.pages():
            checkpoint: Checkpoint = stream.checkpoint
            await sink.write(shard, page.items, checkpoint, previous)
            previous = checkpoint
            items += len(page.items)
            pages += 1
            if on_page is not None:
                on_page(len(page.items))
    return ShardResult(
        label=shard.label,
        items=items,
        pages=pages,
        retries=client.stats().total_retries - retries,
        done=previous.done,
    )
