"""A shard as the client's list stream, resumed from its checkpoint."""

from __future__ import annotations

from typing import Any

from postpress_async._client import AsyncPostpress
from postpress_async._filters import decode_filters
from postpress_async._pagination import ListStream
from postpress_async._positions import Checkpoint

from ._shards import Shard

__all__ = ["shard_stream"]


def shard_stream(
    client: AsyncPostpress,
    shard: Shard,
    *,
    resume: Checkpoint | None = None,
    limit: int | None = None,
    prefetch: int | None = None,
) -> ListStream[Any]:
    """The client's typed list stream over ``shard`` (its filters and window)."""
    paging: dict[str, Any] = {"limit": limit, "prefetch": prefetch, "resume": resume}
    if shard.endpoint == "accounts":
        return client.accounts.list(**paging)
    filters = decode_filters(shard.endpoint, shard.filters)
    after, before = shard.window.after, shard.window.before
    if shard.endpoint == "chats":
        return client.chats.list(**filters, after=after, before=before, **paging)
    return client.messages.list(**filters, after=after, before=before, **paging)
