from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from postpress_async._config import ChatTime, OnUnreadable
from postpress_async._decoding import UnreadableItem
from postpress_async._error_body import envelope_instead_of_page
from postpress_async._filters import TIMED, ResourceName, check_encoded
from postpress_async._follow import DEFAULT_OVERLAP, ListFollower, Stamp
from postpress_async._pagination import AfterPage, ListStream, MakeFollower, PageBody, ReadPage
from postpress_async._params import check_flag, encode_limit
from postpress_async._poll import PollPolicy, WatchKind, start_state
from postpress_async._positions import Checkpoint, WatchState, filters_fingerprint
from postpress_async._repeats import Repeats, item_id, item_time
from postpress_async._rows import Row, RowPage, column_tuple, row_reader, row_repeats, row_stamp
from postpress_async._time import DateTimeParam, format_datetime, parse_datetime, to_ms
from postpress_async._transport import endpoint_parts
from postpress_async._unreadable import typed_reader
from postpress_async._watch import WatchStream
from postpress_async.models import Page

__all__ = ["Client", "Item", "Resource", "time_bounds"]

T = TypeVar("T")
#: What a resource's typed streams hand out: its model (``Messages[Message]``), or its
#: model or an ``UnreadableItem`` for a client with ``on_unreadable="yield"``. The client's
#: attributes set it from the client's marker (``AsyncPostpress.messages``), so each
#: method has one signature (see :mod:`postpress_async._unreadable`).
Item = TypeVar("Item")


class Client(Protocol):
    """What a resource uses of its client (``AsyncPostpress``): its two GETs, the policy
    for unreadable items, what a chat's time is and the default prefetch. Resources
    depend on this, not on the client, which builds them."""

    @property
    def on_unreadable(self) -> OnUnreadable: ...

    @property
    def chat_time(self) -> ChatTime: ...

    @property
    def prefetch(self) -> int: ...

    async def get(
        self, path: str, query: Mapping[str, str | None], model: type[T], *, endpoint: str
    ) -> T: ...

    async def _get_body(
        self, path: str, query: Mapping[str, str | None], *, endpoint: str
    ) -> tuple[bytes, int | None]: ...


class Resource(Generic[Item]):
    """A namespace of endpoints bound to a client, generic in what its streams hand out."""

    __slots__ = ("_client",)

    #: The listing's name and path (``"messages"``, ``"/messages"``), set by each resource.
    _name: ResourceName
    _path: str

    def __init__(self, client: Client) -> None:
        self._client = client

    def _list(
        self,
        path: str,
        filters: Mapping[str, str | None],
        model: type[Page[Any]],
        *,
        limit: int | None,
        cursor: str | None,
        resume: Checkpoint | None,
        prefetch: int | None,
        max_items: int | None,
        follower: MakeFollower | None = None,
        read: ReadPage[Any] | None = None,
        on_unreadable: OnUnreadable | None = None,
        repeats: Repeats[Any] | None = None,
        placed_by: str | None = None,
    ) -> ListStream[Any]:
        """The stream of a list endpoint: ``filters`` (already encoded) plus paging.

        Pages are read into ``model`` unless ``read`` reads them otherwise (rows); an
        item that does not fit ``model`` is dealt with as ``on_unreadable`` says (the
        client's policy unless given); ``placed_by``: a field without which an item is
        unreadable to this stream (a watch's time). ``repeats``: how an item is known, so
        that an offset-paging server's repeats are handed out once (default: typed items').
        """
        query = {**filters, "limit": None if limit is None else encode_limit(limit)}
        client = self._client
        endpoint = f"GET {path}"
        label = endpoint_parts(endpoint)[0]
        after_page: AfterPage | None = None
        if read is None:
            policy = client.on_unreadable if on_unreadable is None else on_unreadable
            read, after_page = typed_reader(
                model, endpoint=label, policy=policy, placed_by=placed_by
            )
        reader = read

        async def fetch(page_cursor: str | None) -> PageBody[Any]:
            body, server_ms = await client._get_body(
                path, {**query, "cursor": page_cursor}, endpoint=endpoint
            )
            page = PageBody(body, reader, server_ms)
            if page.cursor is None and (error := envelope_instead_of_page(body, endpoint=label)):
                raise error
            return page

        return ListStream(
            fetch,
            cursor=cursor,
            resume=resume,
            prefetch=client.prefetch if prefetch is None else prefetch,
            max_items=max_items,
            follower=follower,
            after_page=after_page,
            repeats=repeats if repeats is not None else self._repeats(),
        )

    def _repeats(self) -> Repeats[Any]:
        """How typed items are known and placed (messages and chats are listed by their
        ``timestamp``; accounts' order is not known), to drop an offset server's repeats."""
        return Repeats(item_id, None if self._name == "accounts" else item_time)

    def rows(
        self,
        *,
        filters: Mapping[str, str] | None = None,
        after: DateTimeParam | None = None,
        before: DateTimeParam | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
        resume: Checkpoint | None = None,
        prefetch: int | None = None,
        max_items: int | None = None,
        follow: bool = True,
    ) -> ListStream[Row]:
        """The listing as rows for a store: ``(id, *columns, data)``, ``data`` as the API sent it.

        The raw path of the ingest sinks (:mod:`postpress_async._rows`): each page is cut
        into its items' exact bytes plus a light decode of ``columns`` (``None``: all of
        the resource's typed columns); an item that cannot be read is set aside on the
        page's ``rejects`` instead of failing the page. ``filters`` are already the API's
        strings (as a stored shard holds them), keyed by the resource's filter names: another
        key is refused, never sent for the server to ignore. Same transport, retries, prefetch,
        checkpoints and cursor-loop guard as :meth:`list`; ``follow`` records where a
        watch continuing the listing starts (``checkpoint.follow``).
        """
        encoded = check_encoded(self._name, {} if filters is None else filters)
        check_flag("follow", follow)
        columns = column_tuple(columns)
        after_at, after_text, before_text = time_bounds(after, before)
        window = {"after": after_text, "before": before_text}
        name = self._name
        follower = None
        if follow and (name == "messages" or name == "chats"):
            follower = self._follower(name, encoded, after_at, row_stamp(name, columns))
        return self._list(
            self._path,
            {**encoded, **window} if name in TIMED else encoded,
            RowPage,
            limit=limit,
            cursor=None,
            resume=resume,
            prefetch=prefetch,
            max_items=max_items,
            follower=follower,
            read=row_reader(name, columns, endpoint_label=f"GET {self._path}"),
            repeats=row_repeats(name, columns),
        )

    def _follower(
        self,
        kind: WatchKind,
        filters: Mapping[str, str | None],
        after: datetime | None,
        stamp: Stamp,
        *,
        typed: bool = False,
    ) -> MakeFollower:
        """What a listing records so that, once done, a watch can continue it.

        ``typed``: a typed listing, whose pages may hand out ``UnreadableItem`` s
        (``on_unreadable="yield"``): those have no place in time, the follower skips them.
        """
        if typed and self._client.on_unreadable == "yield":
            stamp = _readable_only(stamp)
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
        timed: bool = True,
        placed_by: str | None = None,
    ) -> WatchStream[T]:
        """A watch over a list endpoint: ``filters`` (already encoded), polled after a floor.

        ``timed=False``: the endpoint's ``after``/``before`` do not bound the stamps the
        watch follows; it lists without them (see :class:`WatchStream`). ``placed_by``: the
        field an item must have to be placed in time; one without it is an unreadable item
        (raised once, or skipped), never one that stops every poll.
        """
        if isinstance(since, ListStream):  # a finished listing: where it ended
            since = since.checkpoint
        state = start_state(since, kind=kind, fingerprint=filters_fingerprint(kind, filters))
        if limit is not None:
            encode_limit(limit)

        # An item a watch cannot read has no place in time: it cannot be handed out once
        # and in order, so "yield" skips it too (with its WARNING). "raise": the watch
        # reads it, and raises it once, after the readable items of its poll.
        reading: OnUnreadable = "yield" if self._client.on_unreadable == "raise" else "skip"
        if reading == "yield":
            stamp = _readable_only(stamp)

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
                on_unreadable=reading,
                placed_by=placed_by,
            )

        return WatchStream(
            list_after,
            stamp,
            state,
            policy=PollPolicy() if policy is None else policy,
            max_items=max_items,
            limit=limit,
            timed=timed,
        )


def time_bounds(
    after: DateTimeParam | None, before: DateTimeParam | None
) -> tuple[datetime | None, str | None, str | None]:
    """A listing's strict time bounds, ``after`` checked first: ``after`` as a datetime (where
    a watch continuing the listing starts), then both as the API takes them, ``before``
    rounded up to the next millisecond (see :func:`~postpress_async._time.parse_datetime`)."""
    after_at = None if after is None else parse_datetime("after", after)
    before_at = None if before is None else parse_datetime("before", before, upper=True)
    return (
        after_at,
        None if after_at is None else format_datetime(after_at),
        None if before_at is None else format_datetime(before_at),
    )


def _readable_only(stamp: Stamp) -> Stamp:
    def readable(item: Any) -> tuple[int, str] | None:
        return None if isinstance(item, UnreadableItem) else stamp(item)

    return readable
