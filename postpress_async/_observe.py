"""What the request loop tells the outside: log records, event hooks, OpenTelemetry.

The loop in ``_sender.py`` opens one :class:`CallObserver` a logical call (a GET with
its retries) and reports each attempt, retry and the outcome to it. From there:

* **logs**, on the ``postpress_async`` logger: one DEBUG line an attempt, one WARNING
  line a retry and a final failure; every record carries the same fields in ``extra=``
  (:data:`LOG_FIELDS`). The API key is never among them: requests are described by
  method, endpoint label and path, never by their headers;
* **event hooks**, ``AsyncPostpress(event_hooks={"request": [...], "response": [...],
  "retry": [...]})``: async (or plain) callables given a frozen :class:`RequestEvent`,
  :class:`ResponseEvent` or :class:`RetryEvent`. A hook that raises is logged and
  counted (``stats().hook_errors``) and the call goes on as if it had not run;
* **OpenTelemetry**, ``AsyncPostpress(telemetry=True)`` with the ``otel`` extra: the
  adapter in ``_otel.py`` is imported then, and only then.

``POSTPRESS_LOG=debug|info|warning`` adds a stderr handler when the application has
configured none (:func:`configure_logging_from_env`).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidParameterError,
    PostpressError,
)
from ._lazy import logging
from ._transport import Request, Response, endpoint_parts
from ._words import printable

if TYPE_CHECKING:
    from ._otel import Telemetry

__all__ = [
    "LOG_FIELDS",
    "CallObserver",
    "EventHook",
    "EventHooks",
    "Observer",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "configure_logging_from_env",
    "endpoint_parts",
    "error_type_of",
    "loggable_path",
    "request_id_of",
]

#: logging's level numbers (a stable part of its API), without importing it.
_DEBUG: Final = 10
_INFO: Final = 20
_WARNING: Final = 30

_logger: logging.Logger | None = None


def package_logger() -> logging.Logger:
    """The ``postpress_async`` logger, made (with its NullHandler) by the first client."""
    global _logger
    if _logger is None:
        _logger = logging.getLogger("postpress_async")
        # A library's records go where the application says, nowhere else: without this,
        # Python's last-resort handler would print every WARNING to stderr of an
        # application that configured no logging.
        _logger.addHandler(logging.NullHandler())
    return _logger


#: The ``extra=`` fields of every request, retry and failure record.
LOG_FIELDS: Final = (
    "method",
    "endpoint",
    "path",
    "status",
    "error_type",
    "attempt",
    "elapsed_ms",
    "request_id",
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestEvent:
    """An attempt is about to be sent."""

    #: ``"GET"``.
    method: str
    #: The endpoint label, e.g. ``"messages.list"``.
    endpoint: str
    #: The full URL, query included (the API key travels in a header, never here).
    url: str
    #: 1 for the first attempt, 2 for the first retry, ...
    attempt: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ResponseEvent:
    """An attempt ended: with a response (any status), or with no HTTP answer."""

    method: str
    endpoint: str
    url: str
    attempt: int
    #: The HTTP status; ``None`` when no response arrived (connection error, timeout).
    status: int | None
    #: The error's ``type`` (``"errors/network_down"``), ``"timeout"``, ``"connection"``,
    #: or ``None`` for a 2xx.
    error_type: str | None
    #: Seconds from sending to the whole body read (or to the failure).
    elapsed: float
    #: The server's request id (``X-Request-Id``, else the error envelope's ``instance``).
    request_id: str | None
    #: The response headers, lower-cased, read-only (empty when no response arrived).
    headers: Mapping[str, str]

    def __reduce__(self) -> tuple[Any, ...]:
        # A read-only mapping does not pickle: send a dict, made read-only again on arrival
        # (a hook may put its events on a multiprocessing queue).
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        return (_response_event, (fields | {"headers": dict(self.headers)},))


def _response_event(fields: dict[str, Any]) -> ResponseEvent:
    """An unpickled :class:`ResponseEvent`, its headers read-only again."""
    return ResponseEvent(**(fields | {"headers": MappingProxyType(fields["headers"])}))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetryEvent:
    """A failed attempt will be retried after ``delay`` seconds."""

    method: str
    endpoint: str
    url: str
    #: The attempt that failed.
    attempt: int
    #: The error it failed with.
    error: PostpressError
    #: Seconds the client waits before the next attempt.
    delay: float


Event: TypeAlias = RequestEvent | ResponseEvent | RetryEvent
#: An event hook: an async callable given the event (a plain function is called as is).
EventHook: TypeAlias = Callable[[Any], Awaitable[None] | None]
#: ``{"request": [...], "response": [...], "retry": [...]}``; any key may be left out.
EventHooks: TypeAlias = Mapping[Literal["request", "response", "retry"], Sequence[EventHook]]
_HOOK_KINDS: Final = ("request", "response", "retry")


# -- pure helpers ---------------------------------------------------------------------------


_CURSOR: Final = re.compile(r"(\bcursor=)([^&]{8})[^&]{5,}")


def loggable_path(url: str) -> str:
    """The path and query of ``url``, with a long cursor cut to its first 8 characters."""
    start = url.find("/", url.find("//") + 2) if "//" in url else 0
    path = url[start:] if start >= 0 else "/"
    return _CURSOR.sub(r"\g<1>\g<2>...", path) if "cursor=" in path else path


def error_type_of(error: BaseException | None) -> str | None:
    """A short error type: the envelope's ``type``, ``"timeout"``, ``"connection"``, or a class."""
    if error is None:
        return None
    if isinstance(error, APIStatusError):
        return error.type or type(error).__name__
    if isinstance(error, APIConnectionError):
        return "timeout" if isinstance(error, APITimeoutError) else "connection"
    return type(error).__name__


def request_id_of(headers: Mapping[str, str], error: BaseException | None) -> str | None:
    """The server's request id: the ``X-Request-Id`` header, else the envelope's ``instance``;
    control characters escaped (it is written into log lines and terminals)."""
    if isinstance(error, APIStatusError):
        return error.request_id
    found = headers.get("x-request-id")
    return None if found is None else printable(found)


# -- logging configuration ------------------------------------------------------------------

_LEVELS: Final = {"debug": _DEBUG, "info": _INFO, "warning": _WARNING}


def configure_logging_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """Honour ``POSTPRESS_LOG``: add a stderr handler if the application configured none.

    Returns whether a handler was added. An unknown level is refused by name.
    """
    value = environ.get("POSTPRESS_LOG", "").strip().lower()
    if not value:
        return False
    level = _LEVELS.get(value)
    if level is None:
        raise InvalidParameterError(
            "POSTPRESS_LOG", f"must be one of {', '.join(_LEVELS)}, got {value!r}"
        )
    if _configured():  # the application (or a previous client) decided already
        return False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = package_logger()
    logger.addHandler(handler)
    logger.setLevel(level)
    return True


def _configured() -> bool:
    current: logging.Logger | None = package_logger()
    while current is not None:
        if any(not isinstance(h, logging.NullHandler) for h in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


# -- the observer ---------------------------------------------------------------------------


class Observer:
    """One client's hooks, telemetry and hook-error count; opens a :class:`CallObserver`."""

    def __init__(self, *, hooks: EventHooks | None = None, telemetry: bool = False) -> None:
        hooks = {} if hooks is None else hooks  # False or "" is refused, not read as none
        if not isinstance(hooks, Mapping):
            raise InvalidParameterError("event_hooks", "must be a mapping of event -> hooks")
        entries: Iterable[tuple[object, object]] = hooks.items()
        for kind, listed in entries:
            if kind not in _HOOK_KINDS:
                raise InvalidParameterError(
                    "event_hooks", f"unknown event {kind!r}; expected one of {_HOOK_KINDS}"
                )
            if isinstance(listed, (str, bytes)) or not isinstance(listed, Sequence):
                raise InvalidParameterError("event_hooks", f"{kind}: must be a list of hooks")
            for hook in listed:
                if not callable(hook):
                    raise InvalidParameterError("event_hooks", f"{kind}: {hook!r} is not callable")
        self.request_hooks: tuple[EventHook, ...] = tuple(hooks.get("request", ()))
        self.response_hooks: tuple[EventHook, ...] = tuple(hooks.get("response", ()))
        self.retry_hooks: tuple[EventHook, ...] = tuple(hooks.get("retry", ()))
        self.hook_errors = 0
        self.logger = package_logger()
        self.telemetry: Telemetry | None = None
        if telemetry:
            from ._otel import Telemetry  # the optional extra, imported only when chosen

            self.telemetry = Telemetry()

    def call(self, request: Request) -> CallObserver:
        """Observe one logical call of ``request``."""
        return CallObserver(self, request)

    async def run_hooks(
        self,
        hooks: tuple[EventHook, ...],
        event: Event,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Call each hook with ``event`` (awaiting what an async one returns); a failing
        hook is logged (with the request's ``fields`` in ``extra=``, as every record about
        a request) and counted, never raised."""
        for hook in hooks:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: PERF203 - one hook's failure must not skip the next
                self.hook_errors += 1
                self.logger.warning(
                    "event hook %r failed on %s; the request goes on",
                    hook,
                    type(event).__name__,
                    exc_info=True,
                    extra=dict(fields or {}),
                )


class CallObserver:
    """Reports one logical call: its attempts, retries and outcome."""

    __slots__ = (
        "_attempt_span",
        "_call_span",
        "_called",
        "_elapsed",
        "_observer",
        "_started",
        "attempts",
        "endpoint",
        "request",
        "status",
    )

    def __init__(self, observer: Observer, request: Request) -> None:
        self._observer = observer
        self.request = request
        self.endpoint = request.label
        self._called = time.perf_counter()
        self._started = 0.0
        self._elapsed = 0.0  # the last attempt's seconds, for its retry line
        #: Attempts started so far.
        self.attempts = 0
        #: The status of the last attempt (``None``: none yet, or no HTTP answer).
        self.status: int | None = None
        self._call_span: Any = None
        self._attempt_span: Any = None
        if observer.telemetry is not None:
            self._call_span = observer.telemetry.start_call(request, self.endpoint)

    def _fields(
        self, attempt: int, status: int | None, error: BaseException | None, elapsed: float
    ) -> dict[str, Any]:
        headers = getattr(error, "headers", None) or {}
        return {
            "method": self.request.method,
            "endpoint": self.endpoint,
            "path": loggable_path(self.request.url),
            "status": status,
            "error_type": error_type_of(error),
            "attempt": attempt,
            "elapsed_ms": round(elapsed * 1000, 1),
            "request_id": request_id_of(headers, error),
        }

    async def attempt(self, attempt: int) -> None:
        """Attempt ``attempt`` is about to be sent."""
        self.attempts = attempt
        observer = self._observer
        if observer.telemetry is not None:
            self._attempt_span = observer.telemetry.start_attempt(
                self._call_span, self.request, attempt
            )
        if observer.request_hooks:
            await observer.run_hooks(
                observer.request_hooks,
                RequestEvent(
                    method=self.request.method,
                    endpoint=self.endpoint,
                    url=self.request.url,
                    attempt=attempt,
                ),
                self._fields(attempt, None, None, 0.0),
            )
        self._started = time.perf_counter()

    async def outcome(
        self, attempt: int, response: Response | None, error: PostpressError | None
    ) -> None:
        """Attempt ``attempt`` ended with ``response`` (any status) or with ``error`` only."""
        elapsed = self._elapsed = time.perf_counter() - self._started
        observer = self._observer
        status = response.status if response is not None else None
        if observer.telemetry is not None:
            observer.telemetry.end_attempt(self._attempt_span, self.request, status, error, elapsed)
        self.status = status
        debug = observer.logger.isEnabledFor(_DEBUG)
        if not (debug or observer.response_hooks):
            return
        headers = response.headers if response is not None else {}
        request_id = request_id_of(headers, error)
        fields = self._fields(attempt, status, error, elapsed)
        fields["request_id"] = request_id
        if debug:
            _log(
                observer.logger,
                _DEBUG,
                fields,
                "%s %s %s -> %s in %.1f ms (attempt %d%s)",
                _outcome_text(status, error),
                fields["elapsed_ms"],
                attempt,
                f", request id {request_id}" if request_id else "",
            )
        if observer.response_hooks:
            await observer.run_hooks(
                observer.response_hooks,
                ResponseEvent(
                    method=self.request.method,
                    endpoint=self.endpoint,
                    url=self.request.url,
                    attempt=attempt,
                    status=status,
                    error_type=error_type_of(error),
                    elapsed=elapsed,
                    request_id=request_id,
                    headers=MappingProxyType(headers),
                ),
                fields,
            )

    async def retry(
        self, attempt: int, max_attempts: int, error: PostpressError, delay: float
    ) -> None:
        """Attempt ``attempt`` failed with ``error`` and is retried in ``delay`` seconds."""
        observer = self._observer
        if observer.telemetry is not None:
            observer.telemetry.count_retry(self.request, self.endpoint, error)
        fields = self._fields(attempt, getattr(error, "status", None), error, self._elapsed)
        fields["delay"] = delay
        if observer.logger.isEnabledFor(_WARNING):
            _log(
                observer.logger,
                _WARNING,
                fields,
                "Retrying %s %s %s after %s (attempt %d of %d) in %.3f s",
                _outcome_text(fields["status"], error),
                attempt,
                max_attempts,
                delay,
            )
        if observer.retry_hooks:
            await observer.run_hooks(
                observer.retry_hooks,
                RetryEvent(
                    method=self.request.method,
                    endpoint=self.endpoint,
                    url=self.request.url,
                    attempt=attempt,
                    error=error,
                    delay=delay,
                ),
                fields,
            )

    def end(self, error: BaseException | None, *, cancelled: bool = False) -> None:
        """The call is over: it succeeded, failed with ``error`` (a :class:`PostpressError`,
        or a custom transport's own exception), or was cancelled."""
        telemetry = self._observer.telemetry
        if telemetry is not None:
            # A failed call ends with its error's status, or none: not the status of an
            # earlier attempt (a 503, then a timeout waiting for a slot or a foreign error).
            # Nor does a call cancelled while it waited to retry a 503 end as that 503: it
            # was cancelled, not failed.
            status = error.status if isinstance(error, APIStatusError) else None
            if error is None and not cancelled:
                status = self.status
            telemetry.end_call(
                self._call_span, self._attempt_span, status, error, cancelled=cancelled
            )
        logger = self._observer.logger
        if error is not None and logger.isEnabledFor(_WARNING):
            elapsed = time.perf_counter() - self._called  # the whole call, retries included
            fields = self._fields(self.attempts, getattr(error, "status", None), error, elapsed)
            _log(logger, _WARNING, fields, "%s %s %s failed: %s", error)


def _log(
    logger: logging.Logger, level: int, fields: dict[str, Any], template: str, *args: object
) -> None:
    """Log a record about a request: the template's first three ``%s`` are its method,
    endpoint and path; ``fields`` also go in ``extra=``."""
    logger.log(
        level, template, fields["method"], fields["endpoint"], fields["path"], *args, extra=fields
    )


def _outcome_text(status: int | None, error: PostpressError | None) -> str:
    if error is None:
        return str(status)
    kind = error_type_of(error)
    return f"{status} {kind}" if status is not None else f"{kind} ({error})"
