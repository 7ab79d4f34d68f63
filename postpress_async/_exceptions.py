"""The one tree of errors the SDK raises.

::

    PostpressError
    ├── InvalidParameterError (also a ValueError)  bad input, raised before any request
    │   └── StateMismatchError                      a saved watch state from other filters
    ├── MissingAPIKeyError (also a ValueError)     no key given and none in POSTPRESS_API_KEY
    ├── ClientClosedError (also a RuntimeError)     the client was used after aclose()
    ├── EventLoopError (also a RuntimeError)        used from a second event loop, or not on asyncio
    ├── APIConnectionError                          the request never got an HTTP answer
    │   └── APITimeoutError                         ... because a timeout ran out
    ├── ResponseDecodeError                         a 2xx body that does not fit its model
    │   └── UnreadableItemError                     items of a list page that did not fit (the rest was read)
    ├── ResponseTooLargeError                       a 2xx body beyond ``Limits.max_response_bytes``
    ├── CursorLoopError                             a list stream's server sent a cursor it sent before
    ├── OutputLockedError                           another writer holds the export's output
    ├── IngestError                                 a sharded export (postpress_async.ingest) cannot go on
    │   ├── SinkUnavailableError                    the sink cannot serve: unreachable, no permission, wrong kind
    │   ├── SinkFailedError                         the sink failed while writing: disk full, I/O error, lost for good
    │   ├── EngineUnavailableError                  no Dask installed, or the scheduler is unreachable
    │   ├── PlanMismatchError                       the sink holds the same export asked with other options
    │   ├── ShardConflictError                      another writer moved a shard's checkpoint first
    │   └── ShardFailedError                        a shard failed on every try, a 401 not tried again (its pages stay)
    └── APIStatusError                              any non-2xx answer (also the class for unlisted statuses)
        ├── RedirectError              3xx (redirects are never followed)
        ├── BadRequestError            400
        ├── AuthenticationError        401
        ├── PermissionDeniedError      403
        ├── NotFoundError              404
        ├── RateLimitError             429
        ├── InternalServerError        500
        ├── BadGatewayError            502
        ├── ServiceUnavailableError    503
        └── GatewayTimeoutError        504

The mapping from an HTTP status to its class is the table ``STATUS_ERRORS`` in
:mod:`._status_errors`, beside :func:`~._status_errors.error_class_for`, the pure
function that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import msgspec

from ._positions import Checkpoint
from ._words import clipped, printable

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadGatewayError",
    "BadRequestError",
    "ClientClosedError",
    "CursorLoopError",
    "EngineUnavailableError",
    "EventLoopError",
    "GatewayTimeoutError",
    "IngestError",
    "InternalServerError",
    "InvalidParameterError",
    "MissingAPIKeyError",
    "NotFoundError",
    "OutputLockedError",
    "PermissionDeniedError",
    "PlanMismatchError",
    "PostpressError",
    "RateLimitError",
    "RedirectError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServiceUnavailableError",
    "ShardConflictError",
    "ShardFailedError",
    "SinkFailedError",
    "SinkUnavailableError",
    "StateMismatchError",
    "UnreadableItem",
    "UnreadableItemError",
    "find_header",
    "rebuilt",
    "with_checkpoint",
]


class PostpressError(Exception):
    """Base class of every error the SDK raises."""

    #: For an error raised by a list stream: the stream's checkpoint when it failed,
    #: exact to the item (``list(..., resume=error.checkpoint)`` continues).
    checkpoint: Checkpoint | None = None
    #: True when a retryable error surfaced because the client's retry budget was spent.
    retry_budget_exhausted: bool = False
    #: How many attempts were made before this error surfaced (1 when not retried).
    attempts: int = 1

    @property
    def resume_cursor(self) -> str | None:
        """For an error raised by a list stream: the cursor of the page to fetch again
        (``checkpoint.cursor``; ``None`` means "from the start")."""
        return None if self.checkpoint is None else self.checkpoint.cursor

    def __reduce__(self) -> tuple[object, ...]:
        # Pickle (Dask, multiprocessing) without calling ``__init__`` again: most
        # subclasses take other arguments than the ``args`` their message ends up in.
        return (_restore, (type(self), self.args), self.__dict__)

    def __str__(self) -> str:
        text = super().__str__()
        if self.retry_budget_exhausted:
            text += " (not retried: the client's retry budget is spent)"
        elif self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        return text


_E = TypeVar("_E", bound=PostpressError)


def _restore(cls: type[_E], args: tuple[object, ...]) -> _E:
    """An unpickled error: ``cls`` with its ``args``; its fields follow (``__setstate__``)."""
    return cls.__new__(cls, *args)


def rebuilt(error: _E, **fields: object) -> _E:
    """A new error of ``error``'s class, complete before anyone sees it (pure).

    Same message, fields, notes, chaining (``__cause__``/``__context__``, so a
    transport's deliberately unchained error stays unchained) and traceback, with
    ``fields`` set on top; ``error`` itself is left as it was. Any subclass works,
    whatever its ``__init__`` takes, since ``__init__`` is not run again.
    """
    cls = type(error)
    new = cls.__new__(cls, *error.args)
    new.__dict__.update(error.__dict__)
    new.__dict__.update(fields)
    new.__cause__ = error.__cause__
    new.__context__ = error.__context__
    new.__suppress_context__ = error.__suppress_context__
    return new.with_traceback(error.__traceback__)


def with_checkpoint(error: _E, checkpoint: Checkpoint) -> _E:
    """``error`` rebuilt complete with a list stream's ``checkpoint`` (see :func:`rebuilt`)."""
    return rebuilt(error, checkpoint=checkpoint)


class InvalidParameterError(PostpressError, ValueError):
    """A parameter failed validation; raised before any request is sent."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


class StateMismatchError(InvalidParameterError):
    """A saved watch state belongs to another endpoint, other filters, or another version."""

    def __init__(self, detail: str) -> None:
        super().__init__("since", detail)


class MissingAPIKeyError(PostpressError, ValueError):
    """No API key was passed and ``POSTPRESS_API_KEY`` is not set."""


class ClientClosedError(PostpressError, RuntimeError):
    """The client (or a view of it) was used after ``aclose()``."""


class EventLoopError(PostpressError, RuntimeError):
    """The client was used from an event loop other than the one it first ran in, or
    with no asyncio loop running (under trio: the SDK runs on asyncio only).

    Its connections belong to that first loop. Create the client inside the loop that
    uses it (for a web app: in the lifespan, not at import), one client a loop.
    """


class APIConnectionError(PostpressError):
    """The request got no HTTP response (DNS, refused or reset connection, broken body)."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(f"{message} ({method} {url})")
        self.method = method
        self.url = url


class APITimeoutError(APIConnectionError):
    """The request timed out before a complete response arrived."""


class ResponseDecodeError(PostpressError):
    """A successful response whose body does not fit the model of its endpoint."""

    def __init__(
        self, message: str, *, endpoint: str, path: str | None = None, body: bytes = b""
    ) -> None:
        where = f" at {path}" if path else ""
        super().__init__(f"{endpoint}: response does not fit its model{where}: {message}")
        self.endpoint = endpoint
        self.path = path
        self.body = body


class UnreadableItem(msgspec.Struct, frozen=True):
    """An item of a list page that does not fit its model, kept exactly as sent.

    The page's other items are read all the same (see :func:`~._decoding.decode_page`);
    an :class:`UnreadableItemError` carries these, and a client made with
    ``on_unreadable="yield"`` hands them out in the items' places.
    """

    #: The item's bytes exactly as the API sent them.
    raw: bytes
    #: Why it could not be read; ``error.path`` is relative to the page, e.g.
    #: ``$.items[3].timestamp``, and ``error.body`` is the page's body.
    error: ResponseDecodeError
    #: The item's position in its page (0: the first).
    index: int

    def __repr__(self) -> str:
        raw = self.raw if len(self.raw) <= _REPR_BYTES else self.raw[:_REPR_BYTES] + b"..."
        return (
            f"UnreadableItem(index={self.index}, path={self.error.path!r}, "
            f"raw={raw!r} ({len(self.raw)} bytes))"
        )


#: How many bytes of an unreadable item its repr shows.
_REPR_BYTES = 60


class UnreadableItemError(ResponseDecodeError):
    """Items of a list page that do not fit their model; the page's other items were read.

    ``items`` holds each one as an :class:`UnreadableItem`
    (its bytes as sent, its error with a path relative to the page, its index). ``path``
    and ``body`` are the first item's (``body`` is the page's).
    """

    def __init__(self, items: list[UnreadableItem], *, endpoint: str) -> None:
        faults = "; ".join(_fault(item.error) for item in items[:_FAULTS_LISTED])
        if len(items) > _FAULTS_LISTED:
            faults += f"; and {len(items) - _FAULTS_LISTED} more"
        count = f"{len(items)} item" + ("" if len(items) == 1 else "s")
        PostpressError.__init__(self, f"{count} of {endpoint} could not be read: {faults}")
        self.endpoint = endpoint
        self.path: str | None = items[0].error.path if items else None
        self.body: bytes = items[0].error.body if items else b""
        self.items = items


#: How many faults an UnreadableItemError's message spells out.
_FAULTS_LISTED = 5


def _fault(error: ResponseDecodeError) -> str:
    """``"$.items[3].timestamp: Expected `str`, got `int`"``: where and why, without the endpoint."""
    text = str(error.args[0]) if error.args else ""
    head = f"{error.endpoint}: response does not fit its model at {error.path}: "
    return f"{error.path}: {text[len(head) :]}" if text.startswith(head) else text


class ResponseTooLargeError(PostpressError):
    """A successful response body longer than ``Limits.max_response_bytes``.

    Raised while reading, as soon as the body (or its ``Content-Length``) passes the
    limit, so an endless or lying body never costs more memory than the limit.
    """

    def __init__(self, *, limit: int, method: str, url: str) -> None:
        super().__init__(
            f"response body exceeds the limit of {limit:,} bytes "
            f"(Limits.max_response_bytes) ({method} {url})"
        )
        self.limit = limit
        self.method = method
        self.url = url


class CursorLoopError(PostpressError):
    """A list stream's server sent a cursor it had already sent in the same stream, or
    ``MAX_PAGES_WITHOUT_ITEMS`` pages in a row with a new cursor and no new item.

    Following it would hand out the same pages (or none) again without end. ``resume_cursor``
    (and the stream's ``checkpoint``) still resume exactly after the last item handed
    out; ``cursor`` is the repeated cursor.
    """

    def __init__(self, cursor: str, *, endpoint: str = "", pages: int = 0) -> None:
        where = f"{endpoint}: " if endpoint else ""
        super().__init__(
            f"{where}the server sent {pages} pages in a row with a new cursor and no new "
            f"item (the last cursor {_shorten(cursor)!r}); stopped instead of paging for ever"
            if pages
            else f"{where}the server sent the cursor {_shorten(cursor)!r} a second time in one "
            "stream; stopped instead of looping over the same pages"
        )
        self.cursor = cursor
        #: How many pages in a row gave no new item, when that (not a repeated cursor)
        #: stopped the stream; else 0.
        self.pages = pages


class OutputLockedError(PostpressError):
    """Another process (or another export in this one) is writing to the same output.

    ``holder``: the process holding the lock, where the store names it (DuckDB: any
    session with the file open, an analyst's included, holds it).
    """

    def __init__(self, path: str, *, holder: str | None = None) -> None:
        super().__init__(
            f"{path} is being written by another export (it holds the file's lock); "
            "wait for it to finish or stop it first"
            if holder is None
            else f"{path} is held by another process ({holder}): another export, or a "
            "session that has it open; wait for it to finish or close it first"
        )
        self.path = path


class IngestError(PostpressError):
    """A sharded export cannot go on (besides any API error)."""


class _Unavailable(Exception):
    """A part of the run cannot serve; ``unreachable``: it could not be reached at all
    (refused, timed out, no such host), so trying again later may work, unlike a refusal
    (no permission, a wrong password, a wrong kind)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class SinkUnavailableError(_Unavailable, IngestError):
    """The sink cannot serve this run: unreachable (``unreachable`` is then true), no
    permission, wrong kind for the engine."""


class SinkFailedError(IngestError):
    """The sink failed while writing (a full disk, an I/O error, a database lost past its
    reconnect deadline); what was committed before stays, run again to continue."""


class EngineUnavailableError(_Unavailable, IngestError):
    """The engine cannot run: its extra is not installed, or the scheduler is unreachable
    (``unreachable`` is then true)."""


class PlanMismatchError(IngestError):
    """The sink holds an export of the same endpoint asked with other options."""


class ShardConflictError(IngestError):
    """Another writer moved this shard's checkpoint since it was read: this write is refused."""


class ShardFailedError(IngestError):
    """A shard's task failed on every try, or with an error a new try would meet again (a
    401), which is not tried again; its committed pages stay, run again to continue."""


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class APIStatusError(PostpressError):
    """The API answered with a non-2xx status; the fields of its error envelope are kept.
    ``note`` ends the message: what the SDK adds (a body cut short, a hint)."""

    def __init__(
        self,
        *,
        status: int,
        type: str | None,
        title: str | None,
        detail: str | None = None,
        instance: str | None = None,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        endpoint: str = "",
        retry_after: float | None = None,
        attempts: int = 1,
        retry_budget_exhausted: bool = False,
        note: str = "",
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.instance = instance
        self.method = method
        self.url = url
        self.headers: Mapping[str, str] = headers or {}
        self.body = body
        #: The endpoint label, e.g. ``"messages.list"`` (empty if unknown).
        self.endpoint = endpoint
        #: Seconds the server asked to wait (``Retry-After``, seconds or an HTTP date,
        #: parsed once, at most a year); ``None`` if it sent none we could read.
        self.retry_after = retry_after
        self.attempts = attempts
        self.retry_budget_exhausted = retry_budget_exhausted
        super().__init__(self._summary() + note)

    def header(self, name: str) -> str | None:
        """A response header by case-insensitive name, or None."""
        return find_header(self.headers, name)

    @property
    def request_id(self) -> str | None:
        """The server's id of the request, to quote to support: the ``X-Request-Id``
        header, else the error envelope's ``instance``; control characters escaped, as in
        every text of the server's that the SDK shows (see :func:`printable`)."""
        found = self.header("x-request-id")
        return self.instance if found is None else printable(found)

    @property
    def retry_after_header(self) -> str | None:
        """The raw ``Retry-After`` header, if the server sent one."""
        return self.header("retry-after")

    def _summary(self) -> str:
        # The server's words, each clipped: the fields keep them whole.
        parts = [f"{self.status}"]
        if self.type:
            parts.append(clipped(self.type))
        text = " ".join(parts)
        if self.title:
            text += f": {clipped(self.title)}"
        if self.detail and self.detail != self.title:
            text += f" - {clipped(self.detail)}"
        text += f" ({self.method} {self.url})"
        if self.instance:
            text += f" [instance {clipped(self.instance)}]"
        return text


class RedirectError(APIStatusError):
    """3xx: the SDK never follows a redirect (it would carry the API key elsewhere)."""

    @property
    def location(self) -> str | None:
        """Where the server asked to go, if it said."""
        return self.header("location")


class BadRequestError(APIStatusError):
    """400: malformed or invalid parameters."""


class AuthenticationError(APIStatusError):
    """401: credentials missing, expired or invalid."""


class PermissionDeniedError(APIStatusError):
    """403: authenticated, but the account is restricted or the action is not allowed."""


class NotFoundError(APIStatusError):
    """404: the id does not match anything visible to this API key."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how many seconds to wait."""


class InternalServerError(APIStatusError):
    """500: something went wrong at postpress or at the upstream provider."""


class BadGatewayError(APIStatusError):
    """502: a proxy in front of postpress could not reach it."""


class ServiceUnavailableError(APIStatusError):
    """503: postpress is temporarily unable to handle the request."""


class GatewayTimeoutError(APIStatusError):
    """504: the upstream provider did not respond in time."""


def find_header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (any case), or None: the one header lookup."""
    name = name.lower()
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
