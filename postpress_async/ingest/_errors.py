"""The ingestion errors: a sink, an engine or a stored export that cannot serve a run."""

from __future__ import annotations

from postpress_async._exceptions import PostpressError

__all__ = ["EngineUnavailableError", "IngestError", "ShardConflictError", "SinkUnavailableError"]


class IngestError(PostpressError):
    """Base of the errors an ingestion run raises before or besides any API error."""


class SinkUnavailableError(IngestError):
    """The sink cannot serve this run: unreachable, no permission, wrong kind for the engine."""


class EngineUnavailableError(IngestError):
    """The engine cannot run: its extra is not installed, or the scheduler is unreachable."""


class ShardConflictError(IngestError):
    """Another writer moved this shard's checkpoint since it was read: this write is refused."""
