"""The single seam between the SDK and HTTP: the only module that touches aiohttp.

Everything else speaks :class:`Request` and :class:`Response`; retries wrap
:meth:`Transport.send`, pagination calls it, tests can replace it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Protocol

from ._config import ERROR_BODY_READ_BYTES, ERROR_TAIL_BYTES, ERROR_TAIL_SECONDS, Limits, Timeout
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    EventLoopError,
    InvalidParameterError,
    ResponseTooLargeError,
)
from ._lazy import aiohttp, asyncio, yarl
from ._tasks import raise_unchained
from ._words import printable

__all__ = [
    "AiohttpTransport",
    "Headers",
    "MockTransport",
    "Request",
    "Response",
    "Transport",
    "endpoint_parts",
    "redact",
    "secrets_of",
]


@functools.lru_cache(maxsize=64)
def endpoint_parts(endpoint: str) -> tuple[str, str]:
    """``"GET /messages/{message_id}"`` -> ``("messages.retrieve", "/messages/{message_id}")``.

    The one place the endpoint label (the form users see in errors, logs and events, and
    the fake's route names) is made from a request's method and URL template.

    The label names the resource and the API docs' verb: a path with a ``{...}`` segment
    retrieves one item, any other lists.
    """
    template = endpoint.partition(" ")[2] or endpoint
    resource = template.strip("/").split("/", 1)[0]
    if not resource:
        return endpoint, template
    return f"{resource}.{'retrieve' if '{' in template else 'list'}", template


class Headers(Mapping[str, str]):
    """A request's headers, kept as sent and found in any case: ``headers["x-api-key"]``,
    ``"accept" in headers`` (HTTP names are case-insensitive; so is httpx's lookup).

    Its ``repr`` hides a secret header's value, as :class:`Request`'s does.
    """

    __slots__ = ("_items", "_names")

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = dict(headers)
        self._names = {name.lower(): name for name in self._items}

    def __getitem__(self, name: str) -> str:
        sent = self._names.get(name.lower()) if isinstance(name, str) else None
        if sent is None:
            raise KeyError(name)
        return self._items[sent]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def shown(self) -> dict[str, str]:
        """The headers as they may be shown: a secret header's value is ``***``."""
        return {
            name: "***" if name.lower() in SECRET_HEADERS else value
            for name, value in self._items.items()
        }

    def __repr__(self) -> str:
        return f"Headers({self.shown()!r})"


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, fully built: ``url`` is already percent-encoded (its query decoded
    in :attr:`params`); ``headers`` are found in any case (``request.headers["x-api-key"]``,
    see :class:`Headers`)."""

    method: str
    url: str
    headers: Mapping[str, str]
    #: The method and URL template, e.g. ``"GET /messages/{message_id}"`` (span names,
    #: ``url.template``); :attr:`label` is the form errors and logs show.
    endpoint: str = ""
    #: The accounts the request names (``account_id``), for per-account rate limits.
    accounts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))

    @property
    def label(self) -> str:
        """The endpoint label, e.g. ``"messages.list"`` (empty if ``endpoint`` is)."""
        return endpoint_parts(self.endpoint)[0] if self.endpoint else ""

    @property
    def params(self) -> Mapping[str, str]:
        """The query, decoded: ``request.params["limit"] == "100"`` (as httpx's
        ``request.url.params``); a list filter is one comma-joined value, as sent."""
        return yarl.URL(self.url, encoded=True).query

    def __repr__(self) -> str:
        # The headers carry the API key: show their names, never a secret's value.
        given = self.headers  # a Headers since __post_init__; typed as the caller's
        headers = (given if isinstance(given, Headers) else Headers(given)).shown()
        return (
            f"Request(method={self.method!r}, url={self.url!r}, headers={headers!r}, "
            f"endpoint={self.endpoint!r})"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Response:
    """An HTTP response: a 2xx body in full (up to ``Limits.max_response_bytes``), an
    error body up to ``Limits.max_error_body_bytes``.

    A longer error body keeps its last :data:`ERROR_TAIL_BYTES` too, in ``tail`` (the API's
    envelope ends with ``type`` and ``status``); the bytes between head and tail are dropped.

    ``headers`` are kept with lower-cased names (a transport's ``X-Request-Id`` is
    ``x-request-id``), so every reader finds them alike.
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    tail: bytes = dataclasses.field(default=b"", kw_only=True)

    def __post_init__(self) -> None:
        try:
            if any(not name.islower() for name in self.headers):
                lowered = {name.lower(): value for name, value in self.headers.items()}
                object.__setattr__(self, "headers", lowered)
        except (AttributeError, TypeError):
            raise TypeError(
                "Response headers must be a mapping of str names to str values, got "
                f"{type(self.headers).__name__}"
            ) from None


class Transport(Protocol):
    """What the client needs from HTTP: send a request, read the whole response."""

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        """Send ``request``; raise APIConnectionError / APITimeoutError if no full response."""
        ...

    async def aclose(self) -> None:
        """Release the transport's resources."""
        ...


class MockTransport:
    """A :class:`Transport` that answers every request with ``handler(request)``: no network.

    ``handler`` is a plain or async function from :class:`Request` to :class:`Response`
    (as httpx's ``MockTransport``); raising :class:`APIConnectionError` or
    :class:`APITimeoutError` there plays a network failure. Retries, limits, hooks and
    decoding all run as with a real transport::

        def handler(request: Request) -> Response:
            return Response(status=200, headers={}, content=b'{"object": "AccountList", "items": []}')

        client = AsyncPostpress(api_key="k", transport=MockTransport(handler))

    The server's clock is what a response's ``Date`` header says: without one (as
    above), a watch's and a store's positions are not bounded by it, and an item dated
    in the future moves them past what follows; add ``headers={"date": ...}``
    (``email.utils.formatdate(..., usegmt=True)``) to play a server with a clock.
    """

    def __init__(self, handler: Callable[[Request], Response | Awaitable[Response]]) -> None:
        self.handler = handler

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        """The handler's answer to ``request``."""
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, Response):
            raise TypeError(f"MockTransport handler returned {answer!r}, not a Response")
        for field, kind in (("status", int), ("content", bytes), ("tail", bytes)):
            value = getattr(answer, field)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise TypeError(
                    f"MockTransport handler returned a Response whose {field} is "
                    f"{type(value).__name__}, not {kind.__name__}"
                )
        if not 100 <= answer.status <= 599:
            raise TypeError(
                f"MockTransport handler returned a Response whose status is {answer.status}, "
                "not an HTTP status (100-599)"
            )
        for name, value in answer.headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(
                    f"MockTransport handler returned a Response with header {name!r}: "
                    f"{type(value).__name__} value; header names and values are str, as on "
                    "the wire ({'retry-after': '1'}, not {'retry-after': 1})"
                )
        return answer

    async def aclose(self) -> None:
        """Nothing to release."""


class AiohttpTransport:
    """A :class:`Transport` over an ``aiohttp.ClientSession``.

    With ``session=None`` it creates its own session lazily (inside the running
    loop) and closes it in :meth:`aclose`; a caller's session is never closed.
    """

    def __init__(
        self, *, session: aiohttp.ClientSession | None = None, limits: Limits | None = None
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidParameterError(
                "session", f"must be an aiohttp.ClientSession, got {type(session).__name__}"
            )
        self._session = session
        self._owns_session = session is None
        self._limits = limits or Limits()
        self._closed = False

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections, ttl_dns_cache=300, enable_cleanup_closed=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # The SDK decodes bytes itself; auto_decompress stays on for gzip bodies.
                skip_auto_headers=("User-Agent",),
                # A 250-message page is about 200 KiB: with aiohttp's 64 KiB buffer the
                # socket is paused and resumed several times a page, and read in more,
                # smaller chunks. Capped bodies still stop at their cap (see _read_capped).
                read_bufsize=_READ_BUFSIZE,
            )
        return self._session

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        """Send ``request`` through the session; a full response or a typed error."""
        if self._closed:
            raise ClientClosedError("the client (its transport) was closed with aclose()")
        session = self._get_session()
        self._check_usable(session)
        failure: APIConnectionError | ClientClosedError
        try:
            async with session.request(
                request.method,
                yarl.URL(request.url, encoded=True),
                headers=request.headers,
                timeout=_client_timeout(timeout),
                allow_redirects=False,
                # A caller's session may raise for a status: the status error is ours to
                # build (its class, its envelope, the retry decision).
                raise_for_status=False,
            ) as resp:
                tail = b""
                if 200 <= resp.status < 300:
                    content = await _read_capped(resp, self._limits.max_response_bytes, request)
                else:
                    content, tail = await _read_error_body(resp, self._limits)
                headers = _headers(resp.headers)
                return Response(status=resp.status, headers=headers, content=content, tail=tail)
        except asyncio.TimeoutError as exc:
            failure = APITimeoutError(
                _timed_out(exc, timeout, request), method=request.method, url=request.url
            )
        except aiohttp.ClientError as exc:
            broken = isinstance(exc, aiohttp.ClientPayloadError)
            what = (
                "Response body broken off" if broken else f"Connection failed: {type(exc).__name__}"
            )
            failure = APIConnectionError(
                f"{what}: {_scrub(exc, request)}", method=request.method, url=request.url
            )
        if self._owns_session and session.closed:
            # Our own aclose() closed the session under this request: say so, rather than
            # a connection error that the request loop would retry.
            failure = ClientClosedError(
                "the client was closed (aclose()) while this request was in flight"
            )
        # Raised here, outside the handler, so neither chained nor kept as __context__:
        # aiohttp's errors can hold the request headers (ClientResponseError.request_info),
        # and with them the API key.
        raise_unchained(failure)

    def _check_usable(self, session: aiohttp.ClientSession) -> None:
        """Raise the typed error for a session that cannot carry a request here."""
        # Only a caller's session can be closed here; aiohttp would raise a bare
        # RuntimeError("Session is closed"), which the request loop cannot tell apart.
        if session.closed:
            raise ClientClosedError(
                "the aiohttp.ClientSession passed as session= was closed; a client uses its "
                "session until its own aclose()"
            )
        # aiohttp would fail deep inside with a bare RuntimeError ("Event loop is closed",
        # "Timeout context manager should be used inside a task"), or worse, hang.
        if not _in_running_loop(session):
            raise EventLoopError(
                "this transport's session belongs to another event loop; use one "
                "transport per event loop"
                if self._owns_session
                else "the aiohttp.ClientSession passed as session= belongs to another event "
                "loop; create it (and the client) in the loop that uses them (in a web app: "
                "in the lifespan, not at import)"
            )

    async def aclose(self) -> None:
        """Close the session this transport created (a caller's session stays open).

        From an event loop other than the session's it raises :class:`EventLoopError`
        (its connections can only be closed in their own loop) and the session stays,
        to be closed from there.
        """
        self._closed = True
        if self._owns_session and self._session is not None:
            if not _in_running_loop(self._session):
                raise EventLoopError(
                    "this client's connections belong to the event loop it ran in: close it "
                    "in the event loop it ran in, before that loop ends (`async with` there)"
                )
            await self._session.close()
        self._session = None


def _in_running_loop(session: aiohttp.ClientSession) -> bool:
    """Whether ``session`` belongs to the running event loop (or its loop is unknown).

    aiohttp keeps the loop a session was made in as ``_loop`` (its public ``loop``
    property is deprecated); without one, aiohttp's own checks are all there is.
    """
    loop = getattr(session, "_loop", None)
    return loop is None or loop is asyncio.get_running_loop()


_READ_BUFSIZE = 2**18


@functools.lru_cache(maxsize=64)
def _client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeout.total, connect=timeout.connect, sock_read=timeout.read
    )


async def _read_capped(resp: aiohttp.ClientResponse, limit: int, request: Request) -> bytes:
    """The whole body, or ResponseTooLargeError as soon as it (or its length) passes ``limit``.

    Read chunk by chunk as it arrives (decompressed, so a gzip bomb counts at full
    size); aiohttp pauses the socket while its small buffer is full, so memory stays
    near ``limit`` whatever the server sends.
    """
    length = resp.content_length
    if length is not None and length > limit:
        resp.close()
        raise ResponseTooLargeError(limit=limit, method=request.method, url=request.url)
    chunks: list[bytes] = []
    size = 0
    while chunk := await resp.content.readany():
        size += len(chunk)
        if size > limit:
            resp.close()  # drop the connection: the rest of the body is never read
            raise ResponseTooLargeError(limit=limit, method=request.method, url=request.url)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_error_body(resp: aiohttp.ClientResponse, limits: Limits) -> tuple[bytes, bytes]:
    """An error body's head (``limits.max_error_body_bytes``) and, if it is longer but ends
    within :data:`ERROR_BODY_READ_BYTES` (and ``limits.max_response_bytes``), its last
    :data:`ERROR_TAIL_BYTES` (``Response.tail``).

    A body that breaks off or stalls gives its head (no tail: its end was not seen): the
    status says what went wrong (a 401 stays an AuthenticationError, not an error to retry).
    Past the head the rest is waited for :data:`ERROR_TAIL_SECONDS` at most.
    """
    cap, most = limits.max_error_body_bytes, min(limits.max_response_bytes, ERROR_BODY_READ_BYTES)
    tail_wanted = resp.content_length is None or resp.content_length <= most
    head, tail, size = bytearray(), bytearray(), 0
    loop, until = asyncio.get_running_loop(), 0.0
    try:
        while True:
            if size >= cap and not tail_wanted:
                resp.close()  # the connection still carries the unread rest: not reusable
                return bytes(head), b""
            if size >= cap:  # only the tail is still wanted: not worth a read timeout
                until = until or loop.time() + ERROR_TAIL_SECONDS
            read = resp.content.readany()
            chunk = await (asyncio.wait_for(read, until - loop.time()) if until else read)
            if not chunk:
                return bytes(head), bytes(tail) if tail_wanted and size > cap else b""
            size += len(chunk)
            tail_wanted = tail_wanted and size <= most
            if tail_wanted:
                tail += chunk
                del tail[:-ERROR_TAIL_BYTES]
            if len(head) < cap:
                head += chunk[: cap - len(head)]
    except (aiohttp.ClientPayloadError, asyncio.TimeoutError):
        resp.close()
        return bytes(head), b""


#: Request headers whose values are secrets: never shown, never in a message.
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})


#: aiohttp quotes what the server sent in some messages (a bad status line): keep a
#: line's worth, so a hostile server cannot make the error a megabyte long.
_MAX_CAUSE = 300


#: A secret shorter than this is not searched for in text, the whole value nor a part of
#: it: a toy key (``api_key="k"`` in a test) or a two-letter cookie value would star out
#: every word holding it, and a match that short is more likely a word than the secret.
#: The header itself is never shown, whatever its length (``repr(Request)``).
_MIN_SECRET_PART = 8


def secrets_of(value: str) -> list[str]:
    """What a server could echo of a secret header's ``value``, longest first: the whole
    value, the credentials after its scheme (``Bearer <token>``) and each cookie's value;
    each of at least ``_MIN_SECRET_PART`` characters (none for a shorter value)."""
    found: set[str] = set()
    credentials = value.strip().partition(" ")[2].strip()
    cookies = [pair.partition("=")[2].strip() for pair in value.split(";")]
    for part in (value, credentials, *cookies):
        if len(part) >= _MIN_SECRET_PART:
            found.add(part)
    return sorted(found, key=len, reverse=True)


def redact(text: str, request: Request) -> str:
    """``text`` without any secret of ``request``'s headers (a server may echo it): the
    whole value, or its token alone (``Authorization: Bearer <token>``, a cookie)."""
    for name, value in request.headers.items():
        if name.lower() in SECRET_HEADERS and value:
            for secret in secrets_of(value):
                text = text.replace(secret, "***")
    return text


def _scrub(exc: BaseException, request: Request) -> str:
    """``str(exc)``, on one line, shortened, without the value of any secret request
    header (aiohttp quotes what the server sent)."""
    text = printable(redact(str(exc), request))
    if len(text) > _MAX_CAUSE:
        text = text[: _MAX_CAUSE - 3] + "..."
    return text


def _timed_out(exc: BaseException, timeout: Timeout, request: Request) -> str:
    """Which timeout fired, by what aiohttp raised: the one to raise, or the server to blame."""
    # aiohttp >= 3.10 tells connect and read apart by class; older ones by message only.
    if isinstance(exc, getattr(aiohttp, "ConnectionTimeoutError", ())):
        field, what = "connect", "no connection within"
    elif isinstance(exc, getattr(aiohttp, "SocketTimeoutError", ())):
        field, what = "read", "nothing received for"
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        return f"Request timed out: {_scrub(exc, request)}"
    else:
        field, what = "total", "the attempt took over"
    seconds = getattr(timeout, field)
    if seconds is None:  # not ours: say what aiohttp said
        return f"Request timed out: {_scrub(exc, request) or type(exc).__name__}"
    hint = ", or what was left of RetryPolicy.deadline" if field == "total" else ""
    return f"Request timed out: {what} {seconds:g} s (Timeout.{field}{hint})"


def _headers(raw: Mapping[str, str]) -> Mapping[str, str]:
    # Lower-cased plain dict: cheap to look up, no aiohttp types past the seam.
    return {key.lower(): value for key, value in raw.items()}
