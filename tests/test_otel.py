"""OpenTelemetry: a span a call, a child span an attempt, duration and retry metrics.

Checked with the OpenTelemetry SDK's in-memory exporter and metric reader (the
``test-ops`` extra; ``.ci/run`` installs it and sets ``README_TEST_REQUIRE_ALL``, so in CI a
missing SDK fails these tests instead of skipping them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from helpers import RecordingTransport, json_response

from postpress_async import AsyncPostpress, InvalidParameterError, RetryPolicy
from postpress_async.transports import Request, Response

if not os.environ.get("README_TEST_REQUIRE_ALL"):  # CI sets it: there a missing SDK fails
    pytest.importorskip("opentelemetry.sdk", reason="the test-ops extra is not installed")

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader()


@pytest.fixture(scope="module")
def _providers() -> None:
    # The global providers can be set once a process (a README example may have set the
    # tracer's already): every test of this module shares these.
    tracer_provider = trace.get_tracer_provider()
    if not isinstance(tracer_provider, TracerProvider):
        tracer_provider = TracerProvider()
        trace.set_tracer_provider(tracer_provider)
    tracer_provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))


@pytest.fixture
def spans(_providers: None) -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def metric_points(name: str) -> list[Any]:
    data = _READER.get_metrics_data()
    points = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    points.extend(metric.data.data_points)
    return points


def flaky(failures: int) -> RecordingTransport:
    def respond(request: Request) -> Response:
        if len(transport.requests) <= failures:
            body = {"title": "t", "type": "errors/network_down", "status": 503}
            return json_response(503, body)
        return json_response(200, {"object": "MessageList", "items": [], "cursor": None})

    transport = RecordingTransport(respond)
    return transport


def client_for(transport: RecordingTransport, **kwargs: Any) -> AsyncPostpress:
    retry = RetryPolicy(attempts=3, wait_initial=0.0, wait_max=0.0)
    return AsyncPostpress(api_key="pp_k", transport=transport, retry=retry, **kwargs)


def by_parent(finished: tuple[ReadableSpan, ...]) -> tuple[ReadableSpan, list[ReadableSpan]]:
    (call,) = [span for span in finished if span.parent is None]
    attempts = [span for span in finished if span.parent is not None]
    return call, sorted(attempts, key=lambda span: span.start_time or 0)


async def test_a_retried_call_is_one_client_span_with_a_child_span_an_attempt(
    spans: InMemorySpanExporter,
) -> None:
    """``GET /messages`` with one retry: a call span, two attempt spans under it."""
    async with client_for(flaky(1), telemetry=True) as client:
        await client.messages.list(limit=5)
    call, attempts = by_parent(spans.get_finished_spans())
    assert call.name == "GET /messages" and call.kind is SpanKind.CLIENT
    assert [span.name for span in attempts] == ["GET /messages", "GET /messages"]
    assert all(span.parent and span.parent.span_id == call.context.span_id for span in attempts)
    first, second = (dict(span.attributes or {}) for span in attempts)
    assert first["http.request.method"] == "GET"
    assert first["url.template"] == "/messages"
    assert first["http.response.status_code"] == 503
    assert first["error.type"] == "503"
    assert "http.request.resend_count" not in first
    assert second["http.request.resend_count"] == 1
    assert second["http.response.status_code"] == 200
    assert "error.type" not in second
    assert dict(call.attributes or {})["http.response.status_code"] == 200
    assert call.status.status_code is not StatusCode.ERROR


async def test_spans_and_durations_name_the_server_as_the_conventions_require(
    spans: InMemorySpanExporter,
) -> None:
    """``server.address`` and ``server.port`` are required on HTTP client spans and on
    ``http.client.request.duration``: without them a service map cannot tell the API
    from any other host the process calls."""
    transport = flaky(0)
    async with AsyncPostpress(
        api_key="pp_k",
        base_url="http://127.0.0.1:8123/api/v1",
        transport=transport,
        telemetry=True,
    ) as client:
        await client.accounts.list()
    call, (attempt,) = by_parent(spans.get_finished_spans())
    for span in (call, attempt):
        attributes = dict(span.attributes or {})
        assert (attributes["server.address"], attributes["server.port"]) == ("127.0.0.1", 8123)
    durations = metric_points("http.client.request.duration")
    assert any(p.attributes.get("server.address") == "127.0.0.1" for p in durations)
    async with client_for(flaky(0), telemetry=True) as client:  # the default https URL
        await client.accounts.list()
    call = [span for span in spans.get_finished_spans() if span.parent is None][-1]
    assert dict(call.attributes or {})["server.port"] == 443


async def test_a_call_that_is_not_sampled_runs_like_any_other(
    spans: InMemorySpanExporter,
) -> None:
    """Under a parent the sampler dropped (or with no SDK configured) spans do not
    record: every call must still run, not fail with AttributeError on such a span."""
    dropped = trace.NonRecordingSpan(
        trace.SpanContext(trace_id=1, span_id=1, is_remote=True, trace_flags=trace.TraceFlags(0))
    )
    transport = flaky(1)
    async with client_for(transport, telemetry=True) as client:
        with trace.use_span(dropped):
            page = await client.messages.list(limit=5)  # a 503, then the page
    assert page.items == []
    assert len(transport.requests) == 2
    assert spans.get_finished_spans() == ()


async def test_a_failed_call_marks_its_span_as_an_error(spans: InMemorySpanExporter) -> None:
    """A call that fails for good ends its span with ``error.type`` and an ERROR status."""
    async with client_for(flaky(10), telemetry=True) as client:
        with pytest.raises(Exception, match="503"):
            await client.messages.retrieve("msg_1")
    call, attempts = by_parent(spans.get_finished_spans())
    assert call.name == "GET /messages/{message_id}"
    assert len(attempts) == 3
    assert dict(call.attributes or {})["error.type"] == "503"
    assert call.status.status_code is StatusCode.ERROR


async def test_a_transport_that_raises_a_foreign_error_is_not_marked_cancelled(
    spans: InMemorySpanExporter,
) -> None:
    """A custom transport's own error ends both spans as an ERROR of its class."""
    async with client_for(RecordingTransport(lambda r: KeyError("lease")), telemetry=True) as c:
        with pytest.raises(KeyError):
            await c.accounts.list()
    call, (attempt,) = by_parent(spans.get_finished_spans())
    for span in (call, attempt):
        assert dict(span.attributes or {})["error.type"] == "builtins.KeyError"
        assert span.status.status_code is StatusCode.ERROR


async def test_a_call_span_shows_how_the_call_ended_not_an_earlier_attempt(
    spans: InMemorySpanExporter,
) -> None:
    """A 503, then a transport's own error: the call failed with the error, so its span
    says that error, not the first attempt's status."""

    def respond(request: Request) -> Response | Exception:
        if len(transport.requests) == 1:
            return json_response(503, {"title": "t", "type": "errors/network_down"})
        return KeyError("lease")

    transport = RecordingTransport(respond)
    async with client_for(transport, telemetry=True) as client:
        with pytest.raises(KeyError):
            await client.accounts.list()
    call, _ = by_parent(spans.get_finished_spans())
    attributes = dict(call.attributes or {})
    assert attributes["error.type"] == "builtins.KeyError"
    assert "http.response.status_code" not in attributes


async def test_durations_and_retries_are_recorded_as_metrics(spans: InMemorySpanExporter) -> None:
    """``http.client.request.duration`` gets a point per attempt; retries are counted."""
    before = sum(p.value for p in metric_points("postpress.client.retries"))
    async with client_for(flaky(2), telemetry=True) as client:
        await client.accounts.list()
    retries = metric_points("postpress.client.retries")
    assert sum(p.value for p in retries) - before == 2
    durations = metric_points("http.client.request.duration")
    templates = {p.attributes.get("url.template") for p in durations}
    assert "/accounts" in templates
    assert sum(p.count for p in durations if p.attributes.get("url.template") == "/accounts") >= 3


async def test_no_spans_without_telemetry(spans: InMemorySpanExporter) -> None:
    """Telemetry is opt-in: a client without it makes no span."""
    async with client_for(flaky(0)) as client:
        await client.accounts.list()
    assert spans.get_finished_spans() == ()


def test_telemetry_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """``telemetry=True`` with OpenTelemetry missing names the extra to install."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.delitem(sys.modules, "postpress_async._otel", raising=False)
    with pytest.raises(InvalidParameterError, match=r"postpress-async\[otel\]"):
        client_for(flaky(0), telemetry=True)


@pytest.mark.slow
def test_importing_the_sdk_does_not_import_opentelemetry() -> None:
    """Zero cost when not chosen: ``import postpress_async`` leaves OpenTelemetry alone."""
    code = "import sys, postpress_async; print('opentelemetry' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_a_call_cancelled_while_waiting_to_retry_ends_cancelled_not_failed(
    spans: InMemorySpanExporter,
) -> None:
    """A 503, then the caller gives up during the backoff (a stream closed, a web request
    abandoned): the call was cancelled, so its span says ``cancelled``, not a failed 503
    with an ERROR status an error-rate dashboard would count."""
    transport = flaky(10)
    retry = RetryPolicy(attempts=3, wait_initial=60.0, wait_max=60.0)
    scope = anyio.CancelScope()

    def on_retry(event: object) -> None:
        scope.cancel()  # cancelled as the backoff starts: no clock involved

    async with AsyncPostpress(
        api_key="pp_k",
        transport=transport,
        retry=retry,
        telemetry=True,
        event_hooks={"retry": [on_retry]},
    ) as client:
        with scope:
            await client.accounts.list()
    assert len(transport.requests) == 1
    call, (attempt,) = by_parent(spans.get_finished_spans())
    assert dict(attempt.attributes or {})["error.type"] == "503"  # the attempt did fail
    attributes = dict(call.attributes or {})
    assert attributes["error.type"] == "cancelled"
    assert "http.response.status_code" not in attributes
    assert call.status.status_code is not StatusCode.ERROR
