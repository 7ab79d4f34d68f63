from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from postpress_async._follow import DEFAULT_OVERLAP, ListFollower, Stamp
from postpress_async._pagination import ListStream, MakeFollower, PageBody
from postpress_async._params import encode_limit
from postpress_async._positions import Checkpoint, WatchState, filters_fingerprint
from postpress_async._time import format_datetime, to_ms
from postpress_async._transport import endpoint_parts
from postpress_async._watch import PollPolicy, WatchKind, WatchStream, start_state
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
        follower: MakeFollower | None = None,
    ) -> ListStream[T]:
        """The stream of a list endpoint: ``filters`` (already encoded) plus paging."""
        query = {**filters, "limit": None if limit is None else encode_limit(limit)}
        client = self._client
        endpoint = f"GET {path}"
        label = endpoint_parts(endpoint)[0]

        async def fetch(page_cursor: str | None) -> PageBody[T]:
            body = await client._get_body(path, {**query, "cursor": page_cursor}, endpoint=endpoint)
            return PageBody(body, model, endpoint=label)

        return ListStream(
            fetch,
            cursor=cursor,
            resume=resume,
            prefetch=client.prefetch if prefetch is None else prefetch,
            max_items=max_items,
            follower=follower,
        )

    def _follower(
        self,
        kind: WatchKind,
        filters: Mapping[str, str | None],
        after: datetime | None,
        stamp: Stamp,
    ) -> MakeFollower:
        """What a listing records so that, once done, a watch can continue it."""
        start = WatchState(
            kind=kind,
            fingerprint=filters_fingerprint(kind, filters),
            floor_ms=None if after is None else to_ms(after),
        )

        def follower(saved: WatchState | None) -> ListFollower:
            return ListFollower(saved or start, stamp, overlap=DEFAULT_OVERLAP)

        return follower

    def _watch(
        self,
        kind: WatchKind,
        path: str,
        filters: Mapping[str, str | None],
        model: type[Page[T]],
        stamp: Stamp,
        *,
        since: Any,
        policy: PollPolicy | None,
        limit: int | None,
        max_items: int | None,
    ) -> WatchStream[T]:
        """A watch over a list endpoint: ``filters`` (already encoded), polled after a floor."""
        if isinstance(since, ListStream):  # a finished listing: where it ended
            since = since.checkpoint
        state = start_state(since, kind=kind, fingerprint=filters_fingerprint(kind, filters))
        if limit is not None:
            encode_limit(limit)

        def list_after(
            *, after: datetime | None, before: datetime | None = None, limit: int | None = limit
        ) -> ListStream[T]:
            window = {
                "after": None if after is None else format_datetime(after),
                "before": None if before is None else format_datetime(before),
            }
            return self._list(
                path,
                {**filters, **window},
                model,
                limit=limit,
                cursor=None,
                resume=None,
                prefetch=0,
                max_items=None,
            )

        return WatchStream(
            list_after,
            stamp,
            state,
            policy=PollPolicy() if policy is None else policy,
            max_items=max_items,
        )
