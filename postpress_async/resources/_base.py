from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from postpress_async._pagination import Checkpoint, FetchPage, ListStream

if TYPE_CHECKING:
    from postpress_async._client import AsyncPostpress

__all__ = ["Resource"]

T = TypeVar("T")


class Resource:
    """A namespace of endpoints bound to a client."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncPostpress) -> None:
        self._client = client

    def _stream(
        self,
        fetch: FetchPage[T],
        *,
        cursor: str | None,
        resume: Checkpoint | None,
        prefetch: int | None,
        max_items: int | None,
    ) -> ListStream[T]:
        return ListStream(
            fetch,
            cursor=cursor,
            resume=resume,
            prefetch=self._client.prefetch if prefetch is None else prefetch,
            max_items=max_items,
        )
