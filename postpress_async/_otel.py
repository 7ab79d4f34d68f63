"""The OpenTelemetry adapter (the ``otel`` extra): imported only with ``telemetry=True``.

Spans follow the HTTP client semantic conventions: one ``CLIENT`` span a logical call
(``GET /messages``: the request with its retries), and under it one span an attempt,
with ``http.request.method``, ``url.template``, ``url.full`` (no key: it travels in a
header), ``server.address``, ``server.port``, ``http.response.status_code``,
``error.type`` and, on retries, ``http.request.resend_count``. Metrics: ``http.client.request.duration`` (seconds, one
a attempt) and ``postpress.client.retries`` (a counter, by endpoint and error type).
"""

from __future__ import annotations

import functools
import urllib.parse
from typing import Any

from ._exceptions import APIStatusError, InvalidParameterError, PostpressError
from ._transport import Request
from ._version import __version__

try:
    from opentelemetry import metrics, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise InvalidParameterError(
        "telemetry", "needs OpenTelemetry: pip install 'postpress-async[otel]'"
    ) from exc

__all__ = ["Telemetry"]

_SCOPE = "postpress_async"


def _error_type(status: int | None, error: BaseException | None) -> str | None:
    if status is not None and status >= 400:
        return str(status)
    if error is None:
        return None
    return f"{type(error).__module__.split('.')[0]}.{type(error).__name__}"


def _span_name(request: Request) -> str:
    """``GET /messages/{message_id}``: the method and the URL template."""
    return f"{request.method} {request.endpoint.partition(' ')[2] or request.endpoint}"


@functools.lru_cache(maxsize=16)
def _server_of(origin: str) -> tuple[tuple[str, Any], ...]:
    parts = urllib.parse.urlsplit(origin)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (("server.address", parts.hostname or ""), ("server.port", port))


def _server(url: str) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of ``url`` (required by the conventions)."""
    scheme, _, rest = url.partition("://")
    return dict(_server_of(f"{scheme}://{rest.partition('/')[0]}"))


class Telemetry:
    """Makes the spans and records the metrics of one client."""

    def __init__(self) -> None:
        self.tracer = trace.get_tracer(_SCOPE, __version__)
        meter = metrics.get_meter(_SCOPE, __version__)
        self.duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (one an attempt).",
        )
        self.retries = meter.create_counter(
            "postpress.client.retries", unit="{retry}", description="Retries made."
        )

    def _attributes(self, request: Request) -> dict[str, Any]:
        template = request.endpoint.partition(" ")[2] or request.endpoint
        return {
            "http.request.method": request.method,
            "url.template": template,
            "url.full": request.url,
            **_server(request.url),
        }

    def start_call(self, request: Request, endpoint: str) -> Any:
        """The span of one logical call, a child of the caller's current span."""
        attributes = self._attributes(request)
        attributes["postpress.endpoint"] = endpoint
        return self.tracer.start_span(
            _span_name(request), kind=SpanKind.CLIENT, attributes=attributes
        )

    def start_attempt(self, call_span: Any, request: Request, attempt: int) -> Any:
        """The span of one attempt, a child of the call's span."""
        attributes = self._attributes(request)
        if attempt > 1:
            attributes["http.request.resend_count"] = attempt - 1
        return self.tracer.start_span(
            # Not call_span.name: a span the sampler dropped (or the API's no-op span
            # when no SDK is set up) has no name.
            _span_name(request),
            context=trace.set_span_in_context(call_span),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )

    def end_attempt(
        self,
        span: Any,
        request: Request,
        status: int | None,
        error: PostpressError | None,
        elapsed: float,
    ) -> None:
        """Close an attempt's span and record its duration."""
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "url.template": request.endpoint.partition(" ")[2] or request.endpoint,
            **_server(request.url),
        }
        if status is not None:
            attributes["http.response.status_code"] = status
        error_type = _error_type(status, error)
        if error_type is not None:
            attributes["error.type"] = error_type
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(attributes)
        span.end()
        self.duration.record(elapsed, attributes)

    def count_retry(self, request: Request, endpoint: str, error: PostpressError) -> None:
        """Count one retry."""
        status = error.status if isinstance(error, APIStatusError) else None
        self.retries.add(
            1, {"postpress.endpoint": endpoint, "error.type": _error_type(status, error) or ""}
        )

    def end_call(
        self,
        span: Any,
        attempt_span: Any,
        status: int | None,
        error: BaseException | None,
        *,
        cancelled: bool,
    ) -> None:
        """Close the call's span (and an attempt's left open by a cancellation or by a
        transport's error that is not a PostpressError)."""
        if attempt_span is not None and attempt_span.is_recording():
            error_type = "cancelled" if cancelled else _error_type(None, error)
            attempt_span.set_attribute("error.type", error_type or "")
            if not cancelled:
                attempt_span.set_status(Status(StatusCode.ERROR))
            attempt_span.end()
        if cancelled:
            span.set_attribute("error.type", "cancelled")
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        error_type = _error_type(status, error)
        if error_type is not None:
            span.set_attribute("error.type", error_type)
            span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end()
