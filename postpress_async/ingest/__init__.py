"""Keeping a database in sync with the API: plan shards, backfill them, then follow.

::

    from postpress_async.ingest import ClientConfig, ingest, verify

    config = ClientConfig(base_url="https://api.postpress.ai/api/v1", api_key="pp_live_...")
    result = await ingest(config, "messages", "sqlite:///messages.db", shards=8)
    # run it again (cron): it continues, then stores what is new since
    result = await ingest(config, "messages", "sqlite:///messages.db")
    report = await verify(config, "messages", "sqlite:///messages.db", sample=8)

* :func:`ingest` (also :func:`sync`): a first run plans the export
  (:func:`plan_shards`), backfills every :class:`Shard` of the :class:`ShardPlan` into
  the sink, then catches up with what arrived since; a re-run continues from what the
  sink holds and stores only what is new; ``follow=True`` keeps polling;
* a :class:`Sink` holds the rows, the plan and every position, committed together
  (:func:`open_sink` picks one by its URL: ``sqlite:///``, ``postgresql://``,
  ``duckdb:///``, a JSON lines file or a directory of part files);
* an :class:`Engine` runs the shards: :class:`LocalEngine` in this process,
  ``DaskEngine`` (the ``dask`` extra, from ``postpress_async.ingest.engines.dask``);
* :func:`verify` compares the ids the sink holds with those the API lists.

The optional parts are imported only when chosen: ``import postpress_async.ingest``
never imports asyncpg, DuckDB or Dask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from postpress_async._deprecated import moved
from postpress_async._exceptions import IngestError as IngestError
from postpress_async._exceptions import PlanMismatchError as PlanMismatchError
from postpress_async._exceptions import ShardConflictError as ShardConflictError
from postpress_async._exceptions import SinkFailedError as SinkFailedError
from postpress_async._exceptions import SinkUnavailableError as SinkUnavailableError

from ._config import ClientConfig as ClientConfig
from ._ingest import IngestResult as IngestResult
from ._ingest import ingest as ingest
from ._ingest import sync as sync
from ._plan import plan_shards as plan_shards
from ._run import IngestProgress as IngestProgress
from ._shards import Shard as Shard
from ._shards import ShardPlan as ShardPlan
from ._verify import VerifyReport as VerifyReport
from ._verify import verify as verify
from .engines._base import Engine as Engine
from .engines.local import LocalEngine as LocalEngine
from .sinks import open_sink as open_sink
from .sinks._base import Sink as Sink

if TYPE_CHECKING:  # the deprecated names, typed for checkers (at run time: __getattr__)
    from postpress_async._exceptions import EngineUnavailableError as EngineUnavailableError
    from postpress_async._exceptions import ShardFailedError as ShardFailedError

    from ._run import ShardResult as ShardResult
    from ._run import run_shard as run_shard
    from ._shards import Endpoint as Endpoint
    from ._shards import Window as Window
    from ._shards import window_queries as window_queries
    from ._streams import shard_stream as shard_stream
    from .sinks.files import JsonLinesSink as JsonLinesSink
    from .sinks.files import PartFilesSink as PartFilesSink
    from .sinks.sqlite import SQLiteSink as SQLiteSink

__all__ = [
    "ClientConfig",
    "Engine",
    "IngestError",
    "IngestProgress",
    "IngestResult",
    "LocalEngine",
    "PlanMismatchError",
    "Shard",
    "ShardConflictError",
    "ShardPlan",
    "Sink",
    "SinkFailedError",
    "SinkUnavailableError",
    "VerifyReport",
    "ingest",
    "open_sink",
    "plan_shards",
    "sync",
    "verify",
]

#: Names this package exported before -> (the module that holds each now, where to import
#: it from); importing one from here still works, with a DeprecationWarning, for one release.
MOVED: Final[dict[str, tuple[str, str | None]]] = {
    "Endpoint": ("postpress_async.ingest._shards", "postpress_async.ingest._shards"),
    "ShardResult": ("postpress_async.ingest._run", "postpress_async.ingest._run"),
    "Window": ("postpress_async.ingest._shards", "postpress_async.ingest._shards"),
    "run_shard": ("postpress_async.ingest._run", "postpress_async.ingest._run"),
    "shard_stream": ("postpress_async.ingest._streams", "postpress_async.ingest._streams"),
    "window_queries": ("postpress_async.ingest._shards", "postpress_async.ingest._shards"),
    "JsonLinesSink": ("postpress_async.ingest.sinks.files", "postpress_async.ingest.sinks.files"),
    "PartFilesSink": ("postpress_async.ingest.sinks.files", "postpress_async.ingest.sinks.files"),
    "SQLiteSink": ("postpress_async.ingest.sinks.sqlite", "postpress_async.ingest.sinks.sqlite"),
    "EngineUnavailableError": (
        "postpress_async._exceptions",
        "postpress_async.ingest.engines.dask",
    ),
    "ShardFailedError": ("postpress_async._exceptions", "postpress_async.ingest.engines.dask"),
}


if not TYPE_CHECKING:  # checkers see the names above; any other is their error, not Any

    def __getattr__(name: str) -> Any:
        return moved(__name__, name, MOVED)
