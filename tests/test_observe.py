"""What the request loop tells operators: log records, event hooks, ``POSTPRESS_LOG``."""

from __future__ import annotations

import asyncio
import logging
import pickle
import time

import pytest
from helpers import RecordingTransport, json_response

from postpress_async import (
    AsyncPostpress,
    InvalidParameterError,
    NotFoundError,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    RetryPolicy,
    ServiceUnavailableError,
)
from postpress_async._observe import (
    LOG_FIELDS,
    configure_logging_from_env,
    endpoint_parts,
    loggable_path,
)
from postpress_async.transports import Request, Response

KEY = "pp_secret_do_not_log"
POLICY = RetryPolicy(attempts=3, wait_initial=0.0, wait_max=0.0)
PAGE = {"object": "MessageList", "items": [], "cursor": None}


def flaky(failures: int, *, status: int = 503) -> RecordingTransport:
    """Fails the first ``failures`` requests with ``status``, then answers an empty page."""

    def respond(request: Request) -> Response:
        if len(transport.requests) <= failures:
            body = {"title": "t", "type": "errors/network_down", "status": status}
            headers = {"x-request-id": f"req_{len(transport.requests)}"}
            return json_response(status, body, headers)
        return json_response(200, PAGE, {"x-request-id": "req_ok"})

    transport = RecordingTransport(respond)
    return transport


def client_for(transport: RecordingTransport, **kwargs: object) -> AsyncPostpress:
    return AsyncPostpress(api_key=KEY, transport=transport, retry=POLICY, **kwargs)  # type: ignore[arg-type]


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "postpress_async"]


# -- pure helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "label", "template"),
    [
        pytest.param("GET /messages", "messages.list", "/messages", id="list"),
        pytest.param(
            "GET /messages/{message_id}",
            "messages.retrieve",
            "/messages/{message_id}",
            id="retrieve",
        ),
        pytest.param("GET /chats/{chat_id}", "chats.retrieve", "/chats/{chat_id}", id="chat"),
        pytest.param("GET /accounts", "accounts.list", "/accounts", id="accounts"),
    ],
)
def test_endpoint_labels_name_the_resource_and_the_docs_verb(
    endpoint: str, label: str, template: str
) -> None:
    """An endpoint ``GET /x/{id}`` is labelled ``x.retrieve``; ``GET /x`` is ``x.list``."""
    assert endpoint_parts(endpoint) == (label, template)


def test_a_long_cursor_is_shortened_in_the_logged_path() -> None:
    """Only the first 8 characters of a cursor are logged; the rest of the query stays."""
    url = "https://api.postpress.ai/api/v1/messages?limit=100&cursor=eyJvZmZzZXQiOjEwMH0xyz&x=1"
    assert loggable_path(url) == "/api/v1/messages?limit=100&cursor=eyJvZmZz...&x=1"


def test_a_short_cursor_and_a_query_without_one_are_kept() -> None:
    """Nothing is cut when there is nothing long to cut."""
    assert loggable_path("http://h:1/v1/chats?cursor=abc") == "/v1/chats?cursor=abc"
    assert loggable_path("http://h:1/v1/chats") == "/v1/chats"


# -- logs ------------------------------------------------------------------------------------


async def test_each_attempt_logs_one_debug_line_and_each_retry_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A call retried once logs: attempt (DEBUG), retry (WARNING), attempt (DEBUG)."""
    caplog.set_level(logging.DEBUG, logger="postpress_async")
    async with client_for(flaky(1)) as client:
        await client.messages.list(limit=10, cursor="c" * 40)
    first, retry, second = records(caplog)
    assert [first.levelno, retry.levelno, second.levelno] == [
        logging.DEBUG,
        logging.WARNING,
        logging.DEBUG,
    ]
    assert first.getMessage().startswith(
        "GET messages.list /api/v1/messages?limit=10&cursor=cccccccc... -> 503 errors/network_down"
    )
    assert "(attempt 1, request id req_1)" in first.getMessage()
    assert retry.getMessage().startswith("Retrying GET messages.list /api/v1/messages?")
    assert "after 503 errors/network_down (attempt 1 of 3)" in retry.getMessage()
    assert "GET GET" not in retry.getMessage()
    assert "-> 200 in" in second.getMessage()
    assert "(attempt 2, request id req_ok)" in second.getMessage()


async def test_every_record_carries_the_same_structured_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Structured handlers find method, endpoint, path, status, ... on every record."""
    caplog.set_level(logging.DEBUG, logger="postpress_async")
    async with client_for(flaky(1)) as client:
        await client.messages.list()
    first, retry, second = records(caplog)
    for record in (first, retry, second):
        for field in LOG_FIELDS:
            assert hasattr(record, field), (record.getMessage(), field)
    assert (first.status, first.error_type, first.attempt) == (503, "errors/network_down", 1)  # type: ignore[attr-defined]
    assert (second.status, second.error_type, second.request_id) == (200, None, "req_ok")  # type: ignore[attr-defined]
    assert first.endpoint == "messages.list"  # type: ignore[attr-defined]
    assert isinstance(first.elapsed_ms, float)  # type: ignore[attr-defined]


async def test_a_retry_line_times_its_attempt_and_a_failure_line_the_whole_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``elapsed_ms`` of a retry is the failed attempt's (as its DEBUG line says); that of a
    call failing for good covers every attempt. Each attempt here takes 2 ms at least."""
    caplog.set_level(logging.DEBUG, logger="postpress_async")

    def slow_down(request: Request) -> Response:
        time.sleep(0.002)
        return json_response(503, {"title": "t", "type": "errors/network_down", "status": 503})

    async with client_for(RecordingTransport(slow_down)) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.messages.list()
    logged = records(caplog)
    attempts = [r.elapsed_ms for r in logged if r.levelno == logging.DEBUG]  # type: ignore[attr-defined]
    retries = [r.elapsed_ms for r in logged if r.getMessage().startswith("Retrying")]  # type: ignore[attr-defined]
    (failed,) = [r.elapsed_ms for r in logged if " failed: " in r.getMessage()]  # type: ignore[attr-defined]
    assert len(attempts) == 3 and min(attempts) >= 2.0
    assert retries == attempts[:-1]
    assert failed >= sum(attempts) - 0.2  # each figure is rounded to 0.1 ms


async def test_a_final_failure_logs_one_warning_naming_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A call that fails for good says so once, at WARNING, with its request id."""
    caplog.set_level(logging.WARNING, logger="postpress_async")

    def missing(request: Request) -> Response:
        body = {"title": "Not found", "type": "errors/resource_not_found", "status": 404}
        return json_response(404, {**body, "instance": "req_404"})

    async with client_for(RecordingTransport(missing)) as client:
        with pytest.raises(NotFoundError):
            await client.messages.retrieve("msg_1")
    (record,) = records(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        "GET messages.retrieve /api/v1/messages/msg_1 failed: 404"
    )
    assert record.request_id == "req_404"  # type: ignore[attr-defined]


async def test_a_call_failing_with_a_foreign_error_logs_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A custom transport's own error is a failure to log, not a silent cancellation."""
    caplog.set_level(logging.WARNING, logger="postpress_async")
    async with client_for(RecordingTransport(lambda r: KeyError("lease"))) as client:
        with pytest.raises(KeyError):
            await client.accounts.list()
    (record,) = records(caplog)
    assert record.getMessage() == "GET accounts.list /api/v1/accounts failed: 'lease'"
    assert record.error_type == "KeyError"  # type: ignore[attr-defined]


async def test_the_api_key_is_in_no_log_record(caplog: pytest.LogCaptureFixture) -> None:
    """Neither the message nor any extra field of any record holds the key."""
    caplog.set_level(logging.DEBUG, logger="postpress_async")
    async with client_for(flaky(5)) as client:
        with pytest.raises(Exception, match="503"):
            await client.messages.list()
    assert len(records(caplog)) == 3 + 2 + 1  # attempts, retries, the final failure
    for record in records(caplog):
        assert KEY not in record.getMessage()
        assert all(KEY not in repr(value) for value in vars(record).values())


def test_postpress_log_adds_a_handler_only_when_none_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``POSTPRESS_LOG=debug`` configures stderr logging, unless the app configured some."""
    logger = logging.getLogger("postpress_async")
    root = logging.getLogger()
    monkeypatch.setattr(logger, "handlers", [logging.NullHandler()])
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    assert configure_logging_from_env({}) is False
    assert configure_logging_from_env({"POSTPRESS_LOG": "debug"}) is True
    assert logger.level == logging.DEBUG
    assert any(isinstance(h, logging.StreamHandler) for h in logger.handlers)
    assert configure_logging_from_env({"POSTPRESS_LOG": "debug"}) is False  # not twice

    monkeypatch.setattr(logger, "handlers", [logging.NullHandler()])
    monkeypatch.setattr(root, "handlers", [logging.StreamHandler()])  # the app's own
    assert configure_logging_from_env({"POSTPRESS_LOG": "info"}) is False


def test_an_unknown_postpress_log_level_is_refused_by_name() -> None:
    """A typo in ``POSTPRESS_LOG`` is an InvalidParameterError naming it."""
    with pytest.raises(InvalidParameterError, match="POSTPRESS_LOG"):
        configure_logging_from_env({"POSTPRESS_LOG": "verbose"})


# -- hooks -----------------------------------------------------------------------------------


async def test_hooks_see_every_attempt_response_and_retry_in_order() -> None:
    """Each event hook gets a frozen, typed event, in the order things happen."""
    seen: list[object] = []

    async def record(event: object) -> None:
        seen.append(event)

    hooks = {"request": [record], "response": [record], "retry": [record]}
    async with client_for(flaky(1), event_hooks=hooks) as client:
        await client.messages.list()
    kinds = [type(event).__name__ for event in seen]
    assert kinds == ["RequestEvent", "ResponseEvent", "RetryEvent", "RequestEvent", "ResponseEvent"]
    first, failed, retry, _, ok = seen
    assert isinstance(first, RequestEvent) and first.endpoint == "messages.list"
    assert isinstance(failed, ResponseEvent) and failed.status == 503
    assert failed.error_type == "errors/network_down" and failed.request_id == "req_1"
    assert isinstance(retry, RetryEvent) and retry.attempt == 1 and retry.delay == 0.0
    assert isinstance(ok, ResponseEvent) and (ok.status, ok.attempt) == (200, 2)
    with pytest.raises(AttributeError):
        ok.status = 500  # type: ignore[misc]
    with pytest.raises(TypeError):
        ok.headers["x-request-id"] = "forged"  # type: ignore[index]


async def test_events_survive_pickling_for_a_hook_that_sends_them_to_another_process() -> None:
    """A hook may put its events on a multiprocessing queue: each pickles, read-only still."""
    seen: list[RequestEvent | ResponseEvent | RetryEvent] = []

    async def record(event: RequestEvent | ResponseEvent | RetryEvent) -> None:
        seen.append(event)

    hooks = {"request": [record], "response": [record], "retry": [record]}
    async with client_for(flaky(1), event_hooks=hooks) as client:
        await client.messages.list()
    again = [pickle.loads(pickle.dumps(event)) for event in seen]
    assert [type(event) for event in again] == [type(event) for event in seen]
    assert [repr(event) for event in again] == [repr(event) for event in seen]
    failed = again[1]
    assert isinstance(failed, ResponseEvent) and failed.headers["x-request-id"] == "req_1"
    with pytest.raises(TypeError):
        failed.headers["x-request-id"] = "forged"  # type: ignore[index]


async def test_a_failing_hook_is_logged_and_counted_and_the_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hook that raises never reaches the caller: the items all arrive, stats count it."""
    pages = iter(
        [
            {"object": "MessageList", "items": [], "cursor": "c2"},
            {"object": "MessageList", "items": [], "cursor": None},
        ]
    )
    transport = RecordingTransport(lambda request: json_response(200, next(pages)))

    async def broken(event: object) -> None:
        raise RuntimeError("hook bug")

    caplog.set_level(logging.WARNING, logger="postpress_async")
    hooks = {"request": [broken], "response": [broken]}
    async with client_for(transport, event_hooks=hooks) as client:
        collected = [page async for page in client.messages.list().pages()]
        assert client.stats().hook_errors == 4
    assert [page.cursor for page in collected] == ["c2", None]
    assert any("event hook" in r.getMessage() and r.exc_info for r in records(caplog))


async def test_a_plain_function_hook_runs_and_is_no_hook_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A plain ``def`` hook (print, a metrics counter) is called like an async one, not
    logged as failed with "NoneType can't be used in 'await' expression" on every event."""
    seen: list[object] = []

    def record(event: object) -> None:
        seen.append(event)

    caplog.set_level(logging.WARNING, logger="postpress_async")
    hooks = {"request": [record], "response": [record], "retry": [record]}
    async with client_for(flaky(1), event_hooks=hooks) as client:
        await client.messages.list()
        assert client.stats().hook_errors == 0
    kinds = [type(event).__name__ for event in seen]
    assert kinds == ["RequestEvent", "ResponseEvent", "RetryEvent", "RequestEvent", "ResponseEvent"]
    assert not any("event hook" in r.getMessage() for r in records(caplog))


async def test_a_cancelled_hook_cancels_the_call() -> None:
    """Cancellation is not a hook failure: it propagates."""

    async def slow(event: object) -> None:
        await asyncio.sleep(3600)

    async with client_for(flaky(0), event_hooks={"request": [slow]}) as client:
        with pytest.raises(asyncio.TimeoutError):  # not the builtin before 3.11
            await asyncio.wait_for(client.messages.retrieve("m"), 0.01)
        assert client.stats().hook_errors == 0


@pytest.mark.parametrize(
    "hooks",
    [
        pytest.param({"sent": []}, id="unknown-event"),
        pytest.param({"request": print}, id="not-a-list"),
        pytest.param({"request": ["nope"]}, id="not-callable"),
    ],
)
def test_bad_event_hooks_are_refused_at_construction(hooks: object) -> None:
    """A misspelt event name or a non-callable is an InvalidParameterError."""
    with pytest.raises(InvalidParameterError, match="event_hooks"):
        client_for(flaky(0), event_hooks=hooks)


async def test_a_request_id_with_control_characters_is_logged_and_handed_out_escaped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """aiohttp passes control characters in a header value through: an ``X-Request-Id``
    holding an escape sequence or a bell must not reach the DEBUG line (``postpress
    --debug`` writes it to a terminal), the events or the error as such."""
    caplog.set_level(logging.DEBUG, logger="postpress_async")
    hostile = "req\x1b[2J\x07_1"
    seen: list[str | None] = []

    def respond(request: Request) -> Response:
        status = 503 if len(transport.requests) == 1 else 200
        body = {"title": "t", "type": "errors/network_down"} if status == 503 else PAGE
        return json_response(status, body, {"x-request-id": hostile})

    transport = RecordingTransport(respond)
    hooks = {"response": [lambda event: seen.append(event.request_id)]}
    async with client_for(transport, event_hooks=hooks) as client:
        raw = await client.raw_response(client.messages.list)
    assert seen == ["req\\x1b[2J\\x07_1"] * 2 and raw.request_id == seen[0]
    for record in records(caplog):
        assert "\x1b" not in record.getMessage() and "\x07" not in record.getMessage()
        assert record.request_id == seen[0]  # type: ignore[attr-defined]
    error = ServiceUnavailableError(
        status=503, type=None, title="t", method="GET", url="u", headers={"X-Request-Id": hostile}
    )
    assert error.request_id == seen[0]


async def test_a_failing_hook_is_logged_with_the_fields_of_its_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ "Every record carries the same fields": a handler formatting ``%(endpoint)s`` must
    not break (``--- Logging error ---``) on the record of a hook that failed, and that
    record says which request and attempt it was about."""

    def broken(event: object) -> None:
        raise RuntimeError("hook bug")

    caplog.set_level(logging.WARNING, logger="postpress_async")
    hooks = {"request": [broken], "response": [broken], "retry": [broken]}
    async with client_for(flaky(1), event_hooks=hooks) as client:
        await client.messages.list()
        assert client.stats().hook_errors == 5  # two requests, two responses, one retry
    failed = [r for r in records(caplog) if r.getMessage().startswith("event hook")]
    assert len(failed) == 5
    for record in failed:
        for field in LOG_FIELDS:
            assert hasattr(record, field), (record.getMessage(), field)
        assert record.endpoint == "messages.list"  # type: ignore[attr-defined]
    assert [r.attempt for r in failed] == [1, 1, 1, 2, 2]  # type: ignore[attr-defined]
    assert [r.status for r in failed] == [None, 503, 503, None, 200]  # type: ignore[attr-defined]
