"""Running shards: one shard into a sink (:func:`run_shard`), and a whole export (:func:`ingest`).

:func:`run_shard` reads the shard's checkpoint from the sink, resumes the shard's list
stream from it, and hands the sink each page with the checkpoint right after it; the
sink stores both atomically. A run killed at any point resumes from the store: no page
is lost, none is stored twice.

:func:`ingest` is the whole export: open the sink and the engine (either may refuse
before any request), reuse the plan stored in the sink when the same export asks
again (so every shard resumes from its own checkpoint) or probe a new one (``force``
starts over), then let the engine run the shards that are not done.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from postpress_async._client import AsyncPostpress
from postpress_async._config import Limits, RetryPolicy
from postpress_async._exceptions import PlanMismatchError
from postpress_async._params import MAX_LIMIT
from postpress_async._positions import Checkpoint

from ._plan import (
    Endpoint,
    Shard,
    ShardPlan,
    Window,
    _encode_filters,
    _ms,
    _text,
    plan_shards,
    shard_stream,
)

if TYPE_CHECKING:
    from .engines.local import Engine
    from .sinks._base import Sink

__all__ = [
    "ClientConfig",
    "IngestProgress",
    "IngestResult",
    "PlanMismatchError",
    "ShardResult",
    "ingest",
    "run_shard",
]


class ClientConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How to build a client, as a plain value a worker process can receive.

    Its ``repr`` never shows the API key.
    """

    base_url: str
    api_key: str
    timeout: float | None = None
    attempts: int | None = None
    max_in_flight: int = 16
    #: Page size of the shards' list requests.
    limit: int = MAX_LIMIT
    prefetch: int = 2
    allow_insecure_http: bool = False

    def __repr__(self) -> str:
        return (
            f"ClientConfig(base_url={self.base_url!r}, api_key='...', timeout={self.timeout!r}, "
            f"attempts={self.attempts!r}, max_in_flight={self.max_in_flight!r})"
        )

    @classmethod
    def from_client(
        cls, client: AsyncPostpress, *, limit: int | None = None, prefetch: int = 2
    ) -> ClientConfig:
        """The configuration of ``client`` (URL, key, timeout, attempts, in-flight limit)."""
        return cls(
            base_url=client.base_url,
            api_key=client._api_key,
            timeout=client.timeout.total,
            attempts=client.retry.attempts,
            max_in_flight=client.limits.max_in_flight,
            limit=MAX_LIMIT if limit is None else limit,
            prefetch=prefetch,
            allow_insecure_http=client.base_url.startswith("http://"),
        )

    def client(self) -> AsyncPostpress:
        """A new client for this configuration (the caller closes it)."""
        return AsyncPostpress(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            retry=None if self.attempts is None else RetryPolicy(attempts=self.attempts),
            limits=Limits(max_in_flight=self.max_in_flight),
            allow_insecure_http=self.allow_insecure_http,
        )


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


@dataclasses.dataclass(frozen=True, slots=True)
class IngestResult:
    """What :func:`ingest` did."""

    plan: ShardPlan
    results: list[ShardResult]
    #: True when the plan came from the store (a resume).
    resumed: bool
    elapsed: float

    @property
    def items(self) -> int:
        """Items stored by this run."""
        return sum(r.items for r in self.results)


async def run_shard(
    client: AsyncPostpress,
    shard: Shard,
    sink: Sink,
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


async def ingest(
    config: ClientConfig,
    endpoint: Endpoint,
    sink: Sink | str | Path,
    *,
    shards: int = 8,
    by: Literal["auto", "time", "account"] = "auto",
    engine: Engine | None = None,
    force: bool = False,
    progress: IngestProgress | None = None,
    after: datetime | str | None = None,
    before: datetime | str | None = None,
    **filters: Any,
) -> IngestResult:
    """Export ``endpoint`` into ``sink`` in shards; see the module docstring.

    ``sink`` is a :class:`Sink` or a URL for :func:`open_sink`; ``engine`` defaults to
    :class:`LocalEngine`. Running the same call again resumes; ``force`` starts over.
    """
    from .engines.local import LocalEngine
    from .sinks._base import open_sink

    store = open_sink(sink) if isinstance(sink, (str, Path)) else sink
    runner = engine if engine is not None else LocalEngine()
    wanted = _request(endpoint, shards, by, after, before, filters)
    runner.check(store)
    progress = progress if progress is not None else IngestProgress(noun=endpoint)
    progress.noun = endpoint
    await store.open()
    try:
        async with runner, config.client() as client:
            stored = await store.load_plan(endpoint)
            resumed = stored is not None and not force
            if stored is not None and not force:
                if _request_of(stored) != wanted:
                    raise PlanMismatchError(
                        f"{store.url} holds an export of {endpoint} asked with other options "
                        f"({_differences(_request_of(stored), wanted)}): ask the same to resume, "
                        "or start over with force=True (--force)"
                    )
                plan = stored
            else:
                plan = await plan_shards(
                    client, endpoint, shards=shards, by=by, after=after, before=before, **filters
                )
                await store.save_plan(plan)
            started = progress.started = time.monotonic()
            progress.shards = len(plan.shards)
            results = await runner.run(client, config, plan, store, progress)
            return IngestResult(
                plan=plan, results=results, resumed=resumed, elapsed=time.monotonic() - started
            )
    finally:
        await store.close()


def _request(
    endpoint: str,
    shards: int,
    by: str,
    after: datetime | str | None,
    before: datetime | str | None,
    filters: dict[str, Any],
) -> dict[str, Any]:
    window = Window(
        after=None if after is None else _text(_ms("after", after)),
        before=None if before is None else _text(_ms("before", before)),
    )
    return {
        "endpoint": endpoint,
        "filters": _encode_filters(endpoint, filters),  # type: ignore[arg-type]
        "after": window.after,
        "before": window.before,
        "by": by,
        "shards": shards,
    }


def _request_of(plan: ShardPlan) -> dict[str, Any]:
    return {
        "endpoint": plan.endpoint,
        "filters": plan.filters,
        "after": plan.window.after,
        "before": plan.window.before,
        "by": plan.by,
        "shards": plan.requested,
    }


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    return "; ".join(f"{key}: {old[key]!r} -> {new[key]!r}" for key in old if old[key] != new[key])
