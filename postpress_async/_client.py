"""``AsyncPostpress``: configuration, the resources, and the one GET that they all use."""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    NoReturn,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
)

from ._config import (
    ChatTime,
    Limits,
    OnUnreadable,
    RetryPolicy,
    Timeout,
    as_timeout,
    check_chat_time,
    check_on_unreadable,
    resolve_api_key,
    resolve_base_url,
)
from ._decoding import UnreadableItem, decode, without_bom
from ._exceptions import ClientClosedError, EventLoopError, InvalidParameterError
from ._headers import extra_headers, merged_headers, own_headers
from ._lazy import asyncio
from ._observe import EventHooks, Observer, configure_logging_from_env, request_id_of
from ._page_body import server_time_ms
from ._params import check_flag, check_prefetch, encode_query
from ._retry import RetryBudget
from ._sender import ClientStats, Sender
from ._tasks import AsyncClosing, running_loop
from ._transport import AiohttpTransport, Request, Response, Transport, endpoint_parts
from ._unreadable import Mode, OnlyReadable, YieldsUnreadable
from .models import Account, Chat, Message
from .resources import Accounts, Chats, Messages

if TYPE_CHECKING:
    import aiohttp  # imported by the transport, only once one is built

__all__ = ["AsyncPostpress", "RawResponse"]

T = TypeVar("T")
P = ParamSpec("P")

#: The responses of the calls made inside ``raw_response`` (per task, copied into the
#: tasks it starts), so concurrent callers never see each other's.
_CAPTURE: contextvars.ContextVar[list[Response] | None] = contextvars.ContextVar(
    "postpress_raw_responses", default=None
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RawResponse(Generic[T]):
    """A call's result with the HTTP response it came from (``client.raw_response``)."""

    #: What the call returned: the model, or the first page.
    parsed: T
    #: The HTTP status of the successful response.
    status: int
    #: Its headers, lower-cased.
    headers: Mapping[str, str]
    #: The server's request id (``X-Request-Id``), if it sent one.
    request_id: str | None


R = TypeVar("R")
RY = TypeVar("RY")


class _ByMode(Protocol[R, RY]):
    """A client's resource as type checkers see it: ``R`` on a client whose streams hand
    out only what fits their models (:class:`OnlyReadable`), ``RY`` on one made with
    ``on_unreadable="yield"`` (:class:`YieldsUnreadable`). Types only: at run time the
    attribute is the resource itself, set in ``__init__``.
    """

    @overload
    def __get__(self, client: AsyncPostpress[OnlyReadable], owner: object) -> R: ...
    @overload
    def __get__(self, client: AsyncPostpress[YieldsUnreadable], owner: object) -> RY: ...
    @overload
    def __get__(self, client: AsyncPostpress[Any], owner: object) -> R | RY: ...
    def __set__(self, client: AsyncPostpress[Any], value: R | RY) -> None: ...


class _Lifecycle:
    """The loop a client runs in and whether it was closed, shared with its views."""

    __slots__ = ("closed", "loop")

    def __init__(self) -> None:
        self.closed = False
        self.loop: asyncio.AbstractEventLoop | None = None

    def check(self) -> None:
        if self.closed:
            raise ClientClosedError(
                "this AsyncPostpress client was closed (aclose() or the end of its "
                "`async with`); create a new one"
            )
        loop = running_loop()
        if self.loop is None:
            self.loop = loop
        elif loop is not self.loop:
            raise EventLoopError(
                "this AsyncPostpress client is bound to the event loop it first ran in; "
                "create one client per event loop (in a web app: in the lifespan, not at import)"
            )


class AsyncPostpress(AsyncClosing, Generic[Mode]):
    """Async client for the postpress API.

    Use it as ``async with AsyncPostpress(api_key=...) as client:`` (or call
    :meth:`aclose`). The API key comes from ``api_key`` or ``POSTPRESS_API_KEY``;
    the base URL from ``base_url``, ``POSTPRESS_BASE_URL``, or
    ``https://api.postpress.ai/api/v1`` (the path of the docs' runnable examples).

    Pass ``session=`` to reuse your own ``aiohttp.ClientSession`` (the client never
    closes it), or ``transport=`` to replace HTTP altogether (tests).
    ``default_headers`` go on every request; a ``User-Agent`` or ``accept`` there, in
    any case, replaces the SDK's (the API key is set with ``api_key`` only).

    ``event_hooks={"request": [...], "response": [...], "retry": [...]}`` takes async
    (or plain) callables given a frozen event for each attempt, response and retry;
    ``telemetry=True`` traces every call with OpenTelemetry (the ``otel`` extra).
    ``POSTPRESS_LOG=debug`` logs every attempt to stderr when logging is not configured.

    Plain ``http://`` to a host other than loopback is refused (it would send the key
    unencrypted) unless ``allow_insecure_http=True``. Redirects are never followed.

    ``on_unreadable`` is what a list stream does with an item of a page that does not
    fit its model (the rest of the page is read all the same): ``"raise"`` (default)
    hands out the page's other items, then raises ``UnreadableItemError`` (resume with
    its ``checkpoint``: it goes on after that page); ``"skip"`` logs a WARNING an item;
    ``"yield"`` hands out an ``UnreadableItem`` in its place (the streams are then typed
    ``ListStream[Message | UnreadableItem]``: the client is an
    ``AsyncPostpress[YieldsUnreadable]``, not the default ``AsyncPostpress[OnlyReadable]``).
    A watch raises or skips (``"yield"`` skips: it cannot place such an item in time);
    ``retrieve`` always raises ``ResponseDecodeError``.

    ``chat_time`` is what the ``before``/``after`` bounds of ``GET /chats`` filter by,
    which the API docs leave contradictory (they say "created"; a Chat shows only its
    last activity, ``timestamp``): ``"activity"`` (default) follows chats by polling
    ``after=`` the last activity seen; ``"created"`` makes ``chats.watch`` and ingest's
    chats catch-up and follow list every chat of their filters each poll, since a
    creation bound cannot find a chat whose activity moved. ``chats.list(before=,
    after=)`` sends the bounds as given either way.
    """

    accounts: _ByMode[Accounts[Account], Accounts[Account | UnreadableItem]]
    chats: _ByMode[Chats[Chat], Chats[Chat | UnreadableItem]]
    messages: _ByMode[Messages[Message], Messages[Message | UnreadableItem]]

    @overload
    def __init__(
        self: AsyncPostpress[OnlyReadable],
        *,
        api_key: str | None = ...,
        base_url: str | None = ...,
        timeout: Timeout | float | None = ...,
        retry: RetryPolicy | None = ...,
        limits: Limits | None = ...,
        prefetch: int = ...,
        session: aiohttp.ClientSession | None = ...,
        transport: Transport | None = ...,
        default_headers: Mapping[str, str] | None = ...,
        event_hooks: EventHooks | None = ...,
        telemetry: bool = ...,
        allow_insecure_http: bool = ...,
        on_unreadable: Literal["raise", "skip"] = ...,
        chat_time: ChatTime = ...,
    ) -> None: ...
    @overload
    def __init__(
        self: AsyncPostpress[YieldsUnreadable],
        *,
        api_key: str | None = ...,
        base_url: str | None = ...,
        timeout: Timeout | float | None = ...,
        retry: RetryPolicy | None = ...,
        limits: Limits | None = ...,
        prefetch: int = ...,
        session: aiohttp.ClientSession | None = ...,
        transport: Transport | None = ...,
        default_headers: Mapping[str, str] | None = ...,
        event_hooks: EventHooks | None = ...,
        telemetry: bool = ...,
        allow_insecure_http: bool = ...,
        on_unreadable: Literal["yield"],
        chat_time: ChatTime = ...,
    ) -> None: ...
    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        prefetch: int = 1,
        session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
        default_headers: Mapping[str, str] | None = None,
        event_hooks: EventHooks | None = None,
        telemetry: bool = False,
        allow_insecure_http: bool = False,
        on_unreadable: OnUnreadable = "raise",
        chat_time: ChatTime = "activity",
    ) -> None:
        if session is not None and transport is not None:
            raise InvalidParameterError("transport", "give either session= or transport=, not both")
        if transport is not None and not (
            callable(getattr(transport, "send", None))
            and callable(getattr(transport, "aclose", None))
        ):
            raise InvalidParameterError(
                "transport",
                f"must be a Transport (send and aclose), got {type(transport).__name__}",
            )
        # Truthiness would read allow_insecure_http="false" (from a config file) as yes.
        check_flag("allow_insecure_http", allow_insecure_http)
        check_flag("telemetry", telemetry)
        self._on_unreadable = check_on_unreadable(on_unreadable)
        self._chat_time = check_chat_time(chat_time)
        # The URL first: a password in it may be what its user took for the key.
        self.base_url: str = resolve_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._api_key = resolve_api_key(api_key)
        self.timeout: Timeout = as_timeout(timeout)
        self.retry: RetryPolicy = _as_policy(retry if retry is not None else RetryPolicy())
        self.limits: Limits = _as_limits(limits if limits is not None else Limits())
        self.prefetch: int = check_prefetch(prefetch)
        self._headers = merged_headers(
            own_headers(self._api_key),
            # None only: a falsy non-mapping (False, "") is refused, not read as "no headers"
            extra_headers(
                {} if default_headers is None else default_headers, param="default_headers"
            ),
        )
        configure_logging_from_env()
        self._sender = Sender(
            transport or AiohttpTransport(session=session, limits=self.limits),
            limits=self.limits,
            budget=RetryBudget(
                ratio=self.limits.retry_budget_ratio, floor=self.limits.retry_budget_floor
            ),
            observer=Observer(hooks=event_hooks, telemetry=telemetry),
        )
        self._owns_transport = True
        self._lifecycle = _Lifecycle()
        self._bind_resources()

    def _bind_resources(self) -> None:
        self.accounts = Accounts(self)
        self.chats = Chats(self)
        self.messages = Messages(self)

    @property
    def on_unreadable(self) -> OnUnreadable:
        """What a list stream does with an item that does not fit its model (see the class)."""
        return self._on_unreadable

    @property
    def chat_time(self) -> ChatTime:
        """What ``GET /chats``' ``before``/``after`` filter by: last activity or creation."""
        return self._chat_time

    @overload
    def with_options(
        self,
        *,
        timeout: Timeout | float | None = ...,
        retry: RetryPolicy | None = ...,
        prefetch: int | None = ...,
        headers: Mapping[str, str] | None = ...,
        api_key: str | None = ...,
        on_unreadable: None = ...,
        chat_time: ChatTime | None = ...,
    ) -> AsyncPostpress[Mode]: ...
    @overload
    def with_options(
        self,
        *,
        timeout: Timeout | float | None = ...,
        retry: RetryPolicy | None = ...,
        prefetch: int | None = ...,
        headers: Mapping[str, str] | None = ...,
        api_key: str | None = ...,
        on_unreadable: Literal["raise", "skip"],
        chat_time: ChatTime | None = ...,
    ) -> AsyncPostpress[OnlyReadable]: ...
    @overload
    def with_options(
        self,
        *,
        timeout: Timeout | float | None = ...,
        retry: RetryPolicy | None = ...,
        prefetch: int | None = ...,
        headers: Mapping[str, str] | None = ...,
        api_key: str | None = ...,
        on_unreadable: Literal["yield"],
        chat_time: ChatTime | None = ...,
    ) -> AsyncPostpress[YieldsUnreadable]: ...
    def with_options(
        self,
        *,
        timeout: Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        prefetch: int | None = None,
        headers: Mapping[str, str] | None = None,
        api_key: str | None = None,
        on_unreadable: OnUnreadable | None = None,
        chat_time: ChatTime | None = None,
    ) -> AsyncPostpress[Any]:
        """A view of this client with other defaults, sharing its connections, limit and budget.

        ``client.with_options(retry=RetryPolicy.disabled()).messages.retrieve(id)`` is
        the per-call override; ``headers={"X-Trace": "..."}`` adds (or replaces) request
        headers, the API key excepted: ``api_key="..."`` gives the view another key (a
        rotated one, without a new connection pool; streams already open keep theirs);
        ``on_unreadable`` and ``chat_time`` as in the constructor. Closing the view does
        nothing; close the original.
        """
        policy = None if on_unreadable is None else check_on_unreadable(on_unreadable)
        chat_time = None if chat_time is None else check_chat_time(chat_time)
        clone: AsyncPostpress[Any] = object.__new__(AsyncPostpress)
        clone.__dict__.update(self.__dict__)
        if policy is not None:
            clone._on_unreadable = policy
        if chat_time is not None:
            clone._chat_time = chat_time
        if timeout is not None:
            clone.timeout = as_timeout(timeout)
        if retry is not None:
            clone.retry = _as_policy(retry)
        if prefetch is not None:
            clone.prefetch = check_prefetch(prefetch)
        if headers is not None:
            clone._headers = merged_headers(self._headers, extra_headers(headers))
        if api_key is not None:
            clone._api_key = resolve_api_key(api_key)
            clone._headers = merged_headers(clone._headers, {"X-API-KEY": clone._api_key})
        clone._owns_transport = False
        clone._bind_resources()
        return clone

    def stats(self) -> ClientStats:
        """Counters: requests, retries by error type, budget rejections, time spent waiting,
        the in-flight limit in force, event hooks that failed."""
        return self._sender.stats()

    async def get(
        self, path: str, query: Mapping[str, str | None], model: type[T], *, endpoint: str
    ) -> T:
        """GET ``path`` (already encoded) with ``query`` and decode the body as ``model``.

        The one request method every resource uses; retries and the in-flight limit
        apply inside it.
        """
        body, _ = await self._get_body(path, query, endpoint=endpoint)
        return decode(body, model, endpoint=endpoint_parts(endpoint)[0])

    async def _get_body(
        self, path: str, query: Mapping[str, str | None], *, endpoint: str
    ) -> tuple[bytes, int | None]:
        """:meth:`get` without the decode: the 2xx body (list streams decode it later), and
        the server's time it was sent at (its ``Date`` header; ``None``: none said)."""
        self._lifecycle.check()
        accounts = query.get("account_id")
        request = Request(
            method="GET",
            url=self.base_url + path + encode_query(query),
            headers=self._headers,
            endpoint=endpoint,
            accounts=() if accounts is None else tuple(accounts.split(",")),
        )
        response = await self._sender.send(request, timeout=self.timeout, policy=self.retry)
        captured = _CAPTURE.get()
        if captured is not None:
            captured.append(response)
        return without_bom(response.content), server_time_ms(response.headers.get("date"))

    async def raw_response(
        self, call: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> RawResponse[T]:
        """Make ``call(*args, **kwargs)`` and return its result with its HTTP response.

        ``raw = await client.raw_response(client.messages.retrieve, "msg_1")`` gives
        ``raw.parsed`` (the Message), ``raw.status``, ``raw.headers``, ``raw.request_id``;
        for a list, the response of its first page (``client.messages.list, limit=10``).
        """
        token = _CAPTURE.set([])
        try:
            parsed = await call(*args, **kwargs)
            captured = _CAPTURE.get() or []
        finally:
            _CAPTURE.reset(token)
        if not captured:
            raise InvalidParameterError("call", "made no request through this client")
        response = captured[0]
        return RawResponse(
            parsed=parsed,
            status=response.status,
            headers=response.headers,
            request_id=request_id_of(response.headers, None),
        )

    async def aclose(self) -> None:
        """Close the connections this client opened (a caller's session stays open).

        Any later call on the client or its views raises :class:`ClientClosedError`.
        """
        if self._owns_transport:
            self._lifecycle.closed = True
            await self._sender.transport.aclose()

    def __reduce__(self) -> NoReturn:
        # A copy in another process would share no connection, limit or budget with this
        # one, and its pickle would hold the key in clear: say what to send instead.
        raise TypeError(
            "an AsyncPostpress client cannot be pickled (it owns connections and limits "
            "bound to this process): send ClientConfig.from_client(client) "
            "(postpress_async.ingest) and build the client where it runs, with config.client()"
        )

    def __repr__(self) -> str:
        # Not even a prefix of the key: the README promises it never shows.
        return f"AsyncPostpress(base_url={self.base_url!r}, api_key='***')"


def added_headers(client: AsyncPostpress[Any]) -> dict[str, str]:
    """The headers ``client``'s caller added: ``default_headers``, a view's ``headers``."""
    own = own_headers(client._api_key)
    return {name: value for name, value in client._headers.items() if own.get(name) != value}


def _as_limits(value: object) -> Limits:
    if not isinstance(value, Limits):
        raise InvalidParameterError("limits", f"must be a Limits, got {type(value).__name__}")
    return value


def _as_policy(value: object) -> RetryPolicy:
    if not isinstance(value, RetryPolicy):
        raise InvalidParameterError("retry", f"must be a RetryPolicy, got {type(value).__name__}")
    return value
