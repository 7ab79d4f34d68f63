from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, TypeVar

from postpress_async._pagination import Checkpoint, ListStream
from postpress_async._params import encode_limit
from postpress_async.models import Page

if TYPE_CHECKING:
    from postpress_async._client import AsyncPostpress

__all__ = ["Resource"]

T = TypeVar("T")


class Resource:
    """A namespace of endpoints bound to a client."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncPostpress) -> None:
        self._client = client

    def _list(
        self,
        path: str,
        filters: Mapping[str, str | None],
        model: type[Page[T]],
        *,
        limit: int | None,
        cursor: str | None,
        resume: Checkpoint | None,
        prefetch: int | None,
        max_items: int | None,
    ) -> ListStream[T]:
        """The stream of a list endpoint: ``filters`` (already encoded) plus paging."""
        query = {**filters, "limit": None if limit is None else encode_limit(limit)}
        client = self._client

        def fetch(page_cursor: str | None) -> Awaitable[Page[T]]:
            return client.get(path, {**query, "cursor": page_cursor}, model, endpoint=f"GET {path}")

        return ListStream(
            fetch,
            cursor=cursor,
            resume=resume,
            prefetch=client.prefetch if prefetch is None else prefetch,
            max_items=max_items,
        )
