"""``postpress export ... --to URL | --out DIR/ | --shards N``: a sharded export through ``ingest``.

The command line only gathers the options; :func:`postpress_async.ingest.ingest` does
the work (plan or resume, sink, engine). Re-running the same command resumes every
shard from the checkpoint stored with its rows; ``--force`` starts over.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TextIO

from postpress_async import AsyncPostpress
from postpress_async.ingest import ClientConfig, Engine, IngestProgress, LocalEngine, ingest

from ._errors import UsageError
from ._export import _ticking, _tty

__all__ = ["IngestOptions", "run_ingest"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IngestOptions:
    """A sharded export, as the command line asked for it."""

    resource: str
    #: A sink URL (``sqlite:///m.db``, ``postgresql://...``) or path (``DIR/``, ``FILE``).
    to: str
    filters: dict[str, Any]
    shards: int = 8
    by: str = "auto"
    engine: str = "local"
    workers: int = 2
    scheduler: str | None = None
    limit: int | None = None
    prefetch: int = 2
    force: bool = False
    progress: bool | None = None


class _Line:
    """The self-overwriting progress line, drawn from :class:`IngestProgress`."""

    def __init__(self, stream: TextIO, progress: IngestProgress, *, enabled: bool) -> None:
        self.stream = stream
        self.progress = progress
        self.enabled = enabled
        self._width = 0

    def update(self) -> None:
        if not self.enabled:
            return
        line = self.progress.text()
        self.stream.write("\r" + line + " " * max(0, self._width - len(line)))
        self.stream.flush()
        self._width = len(line)

    def close(self) -> None:
        if self.enabled:
            self.update()
            self.stream.write("\n")
            self.stream.flush()


def _engine(options: IngestOptions) -> Engine:
    if options.engine == "local":
        if options.scheduler is not None:
            raise UsageError("--scheduler needs --engine dask")
        return LocalEngine()
    from postpress_async.ingest.engines.dask import DaskEngine

    return DaskEngine(workers=options.workers, scheduler=options.scheduler)


async def run_ingest(client: AsyncPostpress, options: IngestOptions, err: TextIO) -> None:
    """Run the sharded export; progress and the closing summary on ``err``."""
    config = ClientConfig.from_client(client, limit=options.limit, prefetch=options.prefetch)
    progress = IngestProgress(noun=options.resource)
    line = _Line(
        err,
        progress,
        enabled=bool(options.progress) if options.progress is not None else _tty(err),
    )
    filters = dict(options.filters)
    after, before = filters.pop("after", None), filters.pop("before", None)
    try:
        async with _ticking(line):  # type: ignore[arg-type]
            result = await ingest(
                config,
                options.resource,  # type: ignore[arg-type]
                options.to,
                shards=options.shards,
                by=options.by,  # type: ignore[arg-type]
                engine=_engine(options),
                force=options.force,
                progress=progress,
                after=after,
                before=before,
                **filters,
            )
    finally:
        line.close()
    if options.progress is False:
        return
    plan = result.plan
    balance = f"largest/median {plan.balance:.2f}" if plan.balance else "sizes unknown"
    resumed = ", resumed from the store" if result.resumed else ""
    skipped = sum(r.skipped for r in result.results)
    already = f" ({skipped} already complete)" if skipped else ""
    print(
        f"exported {result.items:,} {options.resource} in {len(plan.shards)} "
        f"shard{'' if len(plan.shards) == 1 else 's'}{already} "
        f"to {options.to} in {result.elapsed:.1f} s "
        f"({result.items / result.elapsed if result.elapsed else 0:,.0f}/s){resumed}; "
        f"plan: by {plan.by}, {balance}, {plan.probes} probe requests; "
        f"{progress.retries} retries",
        file=err,
    )
