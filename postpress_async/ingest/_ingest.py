"""The whole export: :func:`ingest` ties the plan, the sink and the engine together.

Open the sink and the engine (either may refuse before any request), reuse the plan
stored in the sink when the same export asks again (so every shard resumes from its
own checkpoint) or probe a new one (``force`` starts over), then let the engine run the
shards that are not done. It sits above the engines, which run :func:`~._run.run_shard`.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from postpress_async._exceptions import PlanMismatchError
from postpress_async._time import parse_datetime

from ._config import ClientConfig
from ._plan import encode_export_filters, plan_shards
from ._run import IngestProgress, ShardResult
from ._shards import Endpoint, ShardPlan, Window
from .engines._base import Engine
from .engines.local import LocalEngine
from .sinks import open_sink
from .sinks._base import Sink

__all__ = ["IngestResult", "ingest"]


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
        after=None if after is None else parse_datetime("after", after),
        before=None if before is None else parse_datetime("before", before),
    )
    return {
        "endpoint": endpoint,
        "filters": encode_export_filters(endpoint, filters),  # type: ignore[arg-type]
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
