"""Ingestion at scale: shard plans, sinks that commit rows with checkpoints, engines.

::

    from postpress_async.ingest import ClientConfig, ingest

    config = ClientConfig(base_url="https://api.postpress.ai/api/v1", api_key="pp_live_...")
    result = await ingest(config, "messages", "sqlite:///messages.db", shards=8)

* :func:`plan_shards` probes the data and cuts a listing into shards of similar size;
  a :class:`Shard` and its :class:`~postpress_async.Checkpoint` are plain JSON values;
* sinks (:func:`open_sink`) store each page with its shard's checkpoint atomically:
  :class:`JsonLinesSink`, :class:`PartFilesSink`, :class:`SQLiteSink` and
  ``PostgresSink`` (the ``postgres`` extra, from ``postpress_async.ingest.sinks.postgres``);
* engines run the shards: :class:`LocalEngine` in this process, ``DaskEngine`` (the
  ``dask`` extra, from ``postpress_async.ingest.engines.dask``) on Dask distributed;
* :func:`ingest` ties them together and resumes from the sink on a second call.

The optional parts are imported only when chosen: ``import postpress_async.ingest``
never imports asyncpg or Dask.
"""

from postpress_async._exceptions import EngineUnavailableError as EngineUnavailableError
from postpress_async._exceptions import IngestError as IngestError
from postpress_async._exceptions import PlanMismatchError as PlanMismatchError
from postpress_async._exceptions import ShardConflictError as ShardConflictError
from postpress_async._exceptions import ShardFailedError as ShardFailedError
from postpress_async._exceptions import SinkUnavailableError as SinkUnavailableError

from ._config import ClientConfig as ClientConfig
from ._ingest import IngestResult as IngestResult
from ._ingest import ingest as ingest
from ._plan import plan_shards as plan_shards
from ._run import IngestProgress as IngestProgress
from ._run import ShardResult as ShardResult
from ._run import run_shard as run_shard
from ._shards import Endpoint as Endpoint
from ._shards import Shard as Shard
from ._shards import ShardPlan as ShardPlan
from ._shards import Window as Window
from ._shards import window_queries as window_queries
from ._streams import shard_stream as shard_stream
from .engines._base import Engine as Engine
from .engines.local import LocalEngine as LocalEngine
from .sinks import open_sink as open_sink
from .sinks._base import Sink as Sink
from .sinks.files import JsonLinesSink as JsonLinesSink
from .sinks.files import PartFilesSink as PartFilesSink
from .sinks.sqlite import SQLiteSink as SQLiteSink

__all__ = [
    "ClientConfig",
    "Endpoint",
    "Engine",
    "EngineUnavailableError",
    "IngestError",
    "IngestProgress",
    "IngestResult",
    "JsonLinesSink",
    "LocalEngine",
    "PartFilesSink",
    "PlanMismatchError",
    "SQLiteSink",
    "Shard",
    "ShardConflictError",
    "ShardFailedError",
    "ShardPlan",
    "ShardResult",
    "Sink",
    "SinkUnavailableError",
    "Window",
    "ingest",
    "open_sink",
    "plan_shards",
    "run_shard",
    "shard_stream",
    "window_queries",
]
