"""The Dask engine (the ``dask`` extra): one task a shard on Dask distributed.

``DaskEngine(workers=N)`` starts a ``LocalCluster`` of ``N`` worker processes;
``DaskEngine(scheduler="tcp://host:8786")`` uses an existing cluster, whose workers
need ``postpress-async`` installed and must reach the API and the sink.

Each task takes plain values (the client configuration, the shard's JSON, the sink's
URL) and returns the :class:`ShardResult`'s JSON; it builds its own client and sink
and runs :func:`run_shard`, which resumes from the checkpoint stored in the sink. So
a task that fails (``retries`` times at most) or whose worker dies (Dask reschedules
it) continues where its last committed page ended: a lost worker costs a retry of
part of one shard, never a loss or a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import msgspec

from postpress_async._client import AsyncPostpress
from postpress_async._exceptions import (
    EngineUnavailableError,
    ShardFailedError,
    SinkUnavailableError,
)
from postpress_async._params import check_int

if TYPE_CHECKING:
    from postpress_async.ingest._config import ClientConfig
    from postpress_async.ingest._run import IngestProgress, ShardResult
    from postpress_async.ingest._shards import ShardPlan
    from postpress_async.ingest.sinks._base import Sink

__all__ = ["DaskEngine", "run_task"]


def run_task(config: bytes, shard: bytes, sink_url: str) -> bytes:
    """The Dask task: run one shard from its stored checkpoint (plain values in and out)."""
    return asyncio.run(_task(config, shard, sink_url))


async def _task(config_json: bytes, shard_json: bytes, sink_url: str) -> bytes:
    from postpress_async.ingest._config import ClientConfig
    from postpress_async.ingest._run import run_shard
    from postpress_async.ingest._shards import Shard
    from postpress_async.ingest.sinks import open_sink

    config = msgspec.json.decode(config_json, type=ClientConfig)
    shard = Shard.from_json(shard_json)
    sink = open_sink(sink_url)
    await sink.open()
    try:
        async with config.client() as client:
            try:
                result = await run_shard(
                    client, shard, sink, limit=config.limit, prefetch=config.prefetch
                )
            except Exception as exc:
                # Some SDK errors need arguments to be rebuilt: send a plain one back.
                raise RuntimeError(f"shard {shard.label}: {type(exc).__name__}: {exc}") from None
    finally:
        await sink.close()
    return msgspec.json.encode(result)


class DaskEngine:
    """Shards as Dask tasks; see the module docstring."""

    def __init__(
        self,
        *,
        workers: int = 2,
        scheduler: str | None = None,
        retries: int = 3,
        connect_timeout: float = 10.0,
    ) -> None:
        check_int("workers", workers, minimum=1)
        check_int("retries", retries, minimum=0)
        self.workers = workers
        self.scheduler = scheduler
        self.retries = retries
        self.connect_timeout = connect_timeout
        self._cluster: Any = None
        self._client: Any = None

    def __repr__(self) -> str:
        where = self.scheduler or f"LocalCluster(n_workers={self.workers})"
        return f"DaskEngine({where}, retries={self.retries})"

    def check(self, sink: Sink) -> None:
        """Refuse a sink that the engine's worker processes cannot share."""
        if sink.reach == "process":
            raise SinkUnavailableError(
                f"{sink.url}: one JSON lines file takes one writer process; with Dask use a "
                "directory of part files (--out DIR/), sqlite:/// or postgresql://"
            )
        if self.scheduler is not None and sink.reach == "machine":
            raise SinkUnavailableError(
                f"{sink.url}: SQLite serves the processes of one machine, and a Dask "
                "scheduler may place shards on several; use postgresql:// (or part files on "
                "a shared directory)"
            )

    async def __aenter__(self) -> DaskEngine:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise EngineUnavailableError(
                "the Dask engine needs distributed: pip install 'postpress-async[dask]'"
            ) from None
        try:
            if self.scheduler is None:
                self._cluster = await LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    asynchronous=True,
                    dashboard_address=None,
                    worker_dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                self._client = await Client(self._cluster, asynchronous=True)
            else:
                self._client = await Client(
                    self.scheduler, asynchronous=True, timeout=self.connect_timeout
                )
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            await self._close()
            where = self.scheduler or "a local cluster"
            raise EngineUnavailableError(
                f"cannot reach the Dask scheduler at {where}: {exc}"
            ) from None
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._close()

    async def _close(self) -> None:
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        if client is not None:
            await client.close()
        if cluster is not None:
            await cluster.close()

    @property
    def dask_client(self) -> Any:
        """The ``distributed.Client`` while the engine runs (``None`` otherwise)."""
        return self._client

    async def run(
        self,
        client: AsyncPostpress,
        config: ClientConfig,
        plan: ShardPlan,
        sink: Sink,
        progress: IngestProgress,
    ) -> list[ShardResult]:
        """Submit one task a shard and gather their results as they finish."""
        from distributed import as_completed

        from postpress_async.ingest._run import ShardResult

        if self._client is None:
            raise EngineUnavailableError("use the engine inside `async with`")
        config_json = msgspec.json.encode(config)
        futures = {
            self._client.submit(
                run_task,
                config_json,
                shard.to_json(),
                sink.url,
                key=f"postpress-{plan.endpoint}-{shard.label}",
                retries=self.retries,
                pure=False,
            ): shard.label
            for shard in plan.shards
        }
        results: dict[str, ShardResult] = {}
        try:
            async for future in as_completed(list(futures)):
                label = futures[future]
                try:
                    data = await future
                except Exception as exc:
                    raise ShardFailedError(
                        f"shard {label} failed after {self.retries + 1} tries: {exc}"
                    ) from None
                result = msgspec.json.decode(data, type=ShardResult)
                results[label] = result
                progress.shards_done += 1
                progress.items += result.items
                progress.retries += result.retries
        finally:
            for future in futures:
                if not future.done():
                    await future.cancel()
        return [results[shard.label] for shard in plan.shards]
