"""Retry decisions, delays and the budget: pure, no event loop, no clock."""

from __future__ import annotations

import datetime
import email.utils
import json
import time

import pytest

from postpress_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadGatewayError,
    CursorLoopError,
    InvalidParameterError,
    MissingAPIKeyError,
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryPolicy,
    ServiceUnavailableError,
    StateMismatchError,
    UnreadableItemError,
)
from postpress_async._exceptions import EngineUnavailableError
from postpress_async._retry import (
    MAX_RETRY_AFTER,
    RetryBudget,
    backoff_ceiling,
    error_label,
    failure_error,
    lasting,
    next_delay,
    parse_retry_after,
    retry_delay,
    should_retry,
)
from postpress_async._retry import status_error as build_status_error
from postpress_async._status_errors import DOCUMENTED_ERROR_TYPES, error_class_for
from postpress_async.ingest import (
    PlanMismatchError,
    ShardConflictError,
    SinkFailedError,
    SinkUnavailableError,
)
from postpress_async.transports import Request, Response


def status_error(status: int, type_: str | None) -> APIStatusError:
    return error_class_for(status)(
        status=status, type=type_, title="t", method="GET", url="https://x/v1/messages"
    )


@pytest.mark.parametrize(
    ("status", "type_"),
    [
        pytest.param(status, type_, id=f"{status}-{type_.split('/')[1]}")
        for status, types in sorted(DOCUMENTED_ERROR_TYPES.items())
        for type_ in sorted(types)
    ],
)
def test_every_documented_type_has_the_documented_retry_decision(status: int, type_: str) -> None:
    retryable = status in (503, 504) or type_ == "errors/provider_error"
    assert should_retry(RetryPolicy(), "GET", status_error(status, type_)) is retryable


RETRYABLE = [
    pytest.param(503, "errors/no_client_session", id="503-no_client_session"),
    pytest.param(503, "errors/no_channel", id="503-no_channel"),
    pytest.param(503, "errors/no_handler", id="503-no_handler"),
    pytest.param(503, "errors/network_down", id="503-network_down"),
    pytest.param(503, "errors/service_unavailable", id="503-service_unavailable"),
    pytest.param(504, "errors/request_timeout", id="504-request_timeout"),
    pytest.param(500, "errors/provider_error", id="500-provider_error"),
    pytest.param(429, None, id="429"),
    pytest.param(502, None, id="502-html"),
    pytest.param(503, None, id="503-html"),
    pytest.param(504, None, id="504-html"),
    pytest.param(503, "errors/not_in_the_reference", id="503-undocumented-type"),
    pytest.param(504, "errors/not_in_the_reference", id="504-undocumented-type"),
    pytest.param(502, "errors/bad_gateway", id="502-envelope"),
]

NOT_RETRYABLE = [
    pytest.param(400, "errors/invalid_parameters", id="400"),
    pytest.param(401, "errors/invalid_credentials", id="401"),
    pytest.param(403, "errors/account_restricted", id="403"),
    pytest.param(404, "errors/resource_not_found", id="404"),
    pytest.param(500, "errors/unexpected_error", id="500-unexpected_error"),
    pytest.param(500, "errors/authentication_intent_error", id="500-authentication_intent"),
    pytest.param(500, None, id="500-html"),
    pytest.param(418, None, id="418"),
    pytest.param(500, "errors/not_in_the_reference", id="500-undocumented-type"),
    pytest.param(409, "errors/conflict", id="409"),
    pytest.param(422, "errors/invalid_parameters", id="422"),
    pytest.param(401, "errors/network_down", id="401-with-a-503-type"),
    pytest.param(404, "errors/request_timeout", id="404-with-the-504-type"),
]


@pytest.mark.parametrize(("status", "type_"), RETRYABLE)
def test_documented_transient_errors_are_retried(status: int, type_: str | None) -> None:
    assert should_retry(RetryPolicy(), "GET", status_error(status, type_))


@pytest.mark.parametrize(("status", "type_"), NOT_RETRYABLE)
def test_client_errors_and_final_server_errors_are_not_retried(
    status: int, type_: str | None
) -> None:
    assert not should_retry(RetryPolicy(), "GET", status_error(status, type_))


def test_connection_errors_and_timeouts_are_retried_unless_turned_off() -> None:
    conn = APIConnectionError("reset", method="GET", url="u")
    timeout = APITimeoutError("slow", method="GET", url="u")
    assert should_retry(RetryPolicy(), "GET", conn)
    assert should_retry(RetryPolicy(), "GET", timeout)
    off = RetryPolicy(retry_connection_errors=False)
    assert not should_retry(off, "GET", conn)


def test_decode_errors_are_never_retried() -> None:
    assert not should_retry(RetryPolicy(), "GET", ResponseDecodeError("x", endpoint="GET /x"))


def test_non_idempotent_methods_are_not_retried_by_default() -> None:
    error = status_error(503, "errors/service_unavailable")
    assert not should_retry(RetryPolicy(), "POST", error)
    assert should_retry(RetryPolicy(retry_non_idempotent=True), "POST", error)


def test_the_table_is_the_users_to_override() -> None:
    policy = RetryPolicy(retry_on={500: frozenset({"errors/unexpected_error"})})
    assert should_retry(policy, "GET", status_error(500, "errors/unexpected_error"))
    assert not should_retry(policy, "GET", status_error(503, "errors/service_unavailable"))


def test_backoff_doubles_up_to_the_maximum() -> None:
    policy = RetryPolicy(wait_initial=0.5, wait_max=3.0)
    assert [backoff_ceiling(policy, n) for n in (1, 2, 3, 4, 100)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_delay_is_full_jitter_below_the_ceiling() -> None:
    policy = RetryPolicy(wait_initial=1.0, wait_max=8.0)
    assert retry_delay(policy, 3, retry_after=None, random=lambda: 0.0) == 0.0
    assert retry_delay(policy, 3, retry_after=None, random=lambda: 0.5) == 2.0
    assert retry_delay(policy, 3, retry_after=None, random=lambda: 0.999) < 4.0


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    policy = RetryPolicy(wait_initial=1.0, retry_after_max=30.0)
    assert retry_delay(policy, 1, retry_after=7.0, random=lambda: 0.5) == 7.0
    assert retry_delay(policy, 1, retry_after=3600.0, random=lambda: 0.5) == 30.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after("5", now=now) == 5.0
    assert parse_retry_after(date, now=now) == pytest.approx(42.0)
    assert parse_retry_after(None, now=now) is None


#: 42 s after NOW, a day of one digit (asctime pads it with a space: "Jan  5").
_NOW = 1_799_136_000.0
_LATER = time.gmtime(_NOW + 42)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(time.strftime("%a, %d %b %Y %H:%M:%S GMT", _LATER), id="imf-fixdate"),
        pytest.param(time.strftime("%A, %d-%b-%y %H:%M:%S GMT", _LATER), id="rfc850"),
        pytest.param(time.strftime("%a %b %d %H:%M:%S %Y", _LATER), id="asctime"),
        pytest.param(time.strftime("%a %b %e %H:%M:%S %Y", _LATER), id="asctime-padded-day"),
        pytest.param(time.strftime("%a, %d %b %Y %H:%M:%S -0000", _LATER), id="zone-0000"),
    ],
)
def test_retry_after_reads_every_http_date_format(value: str) -> None:
    """RFC 9110 5.6.7: a recipient reads all three formats, and every HTTP date is GMT
    (asctime's carries no zone): not the jittered backoff in place of the server's ask."""
    assert parse_retry_after(value, now=_NOW) == pytest.approx(42.0)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("-5", id="negative"),
        pytest.param("0", id="zero"),
        pytest.param(email.utils.formatdate(1_800_000_000.0 - 10, usegmt=True), id="past-date"),
        pytest.param(email.utils.formatdate(1_800_000_000.0, usegmt=True), id="date-now"),
        pytest.param("\u0663", id="arabic-indic-digit"),
        pytest.param("\uff15", id="fullwidth-digit"),
        pytest.param("1_0", id="underscore"),
        pytest.param("1e3", id="exponent"),
        pytest.param("inf", id="inf"),
        pytest.param("nan", id="nan"),
        pytest.param("soon", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_an_unusable_retry_after_falls_back_to_the_backoff(value: str) -> None:
    """Never an immediate retry, never a number the server did not write in ASCII digits."""
    now = 1_800_000_000.0
    assert parse_retry_after(value, now=now) is None
    policy = RetryPolicy(wait_initial=1.0, retry_after_max=30.0)
    retry_after = parse_retry_after(value, now=now)
    assert retry_delay(policy, 1, retry_after=retry_after, random=lambda: 0.5) == 0.5


def test_a_huge_retry_after_is_capped() -> None:
    policy = RetryPolicy(retry_after_max=30.0)
    for value in ("99999999999999999999", "9" * 5000):
        retry_after = parse_retry_after(value, now=0.0)
        assert retry_delay(policy, 1, retry_after=retry_after, random=lambda: 0.5) == 30.0


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("9" * 309, id="309-digits"),
        pytest.param("9" * 5000, id="5000-digits"),
        pytest.param("99999999999999999999", id="20-digits"),
        pytest.param(f"{MAX_RETRY_AFTER + 1:.3f}", id="just-past-the-ceiling"),
        pytest.param("Fri, 31 Dec 9999 23:59:59 GMT", id="date-in-year-9999"),
    ],
)
def test_an_absurd_retry_after_reads_as_the_ceiling_on_the_error_and_the_wait(
    value: str,
) -> None:
    """309 digits are float infinity: ``error.retry_after`` stays a finite number a caller
    can add to a datetime or sleep on (the ceiling, a year), and the wait is the policy's cap."""
    assert MAX_RETRY_AFTER == 365 * 86_400.0
    headers = {"Retry-After": value, "date": "Fri, 15 Jan 2027 08:00:00 GMT"}
    error = build_status_error(_REQUEST, _response(429, b"", **headers), now=1_800_000_000.0)
    assert error.retry_after == MAX_RETRY_AFTER
    assert datetime.datetime(2027, 1, 15) + datetime.timedelta(seconds=error.retry_after)
    policy = RetryPolicy(retry_after_max=30.0)
    assert next_delay(policy, "GET", error, 1, random=lambda: 0.5) == 30.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1.5", 1.5, id="fraction"),
        pytest.param("  30 ", 30.0, id="spaces-around"),
        pytest.param("\t7\r\n", 7.0, id="tab-and-line-end"),
        pytest.param(f"{MAX_RETRY_AFTER:.0f}", MAX_RETRY_AFTER, id="the-ceiling-itself"),
        pytest.param("-1.5", None, id="negative-fraction"),
        pytest.param("+5", None, id="plus-sign"),
        pytest.param("1.", None, id="trailing-point"),
        pytest.param("Mon, 01 Jan 1900 00:00:00 GMT", None, id="date-far-in-the-past"),
        pytest.param("Thu, 01 Jan 1970 00:00:00 GMT", None, id="date-at-the-epoch"),
    ],
)
def test_retry_after_edge_forms(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, now=1_800_000_000.0) == expected


def test_budget_allows_a_floor_then_a_fraction_of_requests() -> None:
    budget = RetryBudget(ratio=0.5, floor=2.0)
    assert budget.try_withdraw()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()
    for _ in range(4):
        budget.deposit()
    assert budget.tokens == 2.0
    assert budget.try_withdraw()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()


def test_budget_never_holds_more_than_its_floor() -> None:
    budget = RetryBudget(ratio=1.0, floor=3.0)
    for _ in range(100):
        budget.deposit()
    assert budget.tokens == 3.0


def test_error_labels_name_status_and_type() -> None:
    assert error_label(status_error(503, "errors/network_down")) == "503 errors/network_down"
    assert error_label(status_error(502, None)) == "502"
    assert error_label(APITimeoutError("t", method="GET", url="u")) == "timeout"
    assert error_label(APIConnectionError("c", method="GET", url="u")) == "connection"


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"attempts": 0}, id="attempts-0"),
        pytest.param({"wait_initial": -1}, id="negative-wait"),
        pytest.param({"deadline": -5}, id="negative-deadline"),
        pytest.param({"retry_after_max": "x"}, id="max-str"),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidParameterError, match="retry"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_policies_are_frozen_values_with_replace() -> None:
    policy = RetryPolicy()
    other = policy.replace(attempts=2)
    assert (policy.attempts, other.attempts) == (5, 2)
    assert policy == RetryPolicy()
    assert hash(policy) == hash(RetryPolicy())
    with pytest.raises(AttributeError):
        policy.attempts = 3  # type: ignore[misc]


def test_the_retry_budget_is_the_clients_and_a_per_call_policy_cannot_change_it() -> None:
    """The budget is set on Limits; a with_options(retry=...) view shares the same bucket."""
    from postpress_async import AsyncPostpress, Limits

    client = AsyncPostpress(
        api_key="pp_k", limits=Limits(retry_budget_ratio=0.5, retry_budget_floor=3.0)
    )
    view = client.with_options(retry=RetryPolicy(attempts=2))
    assert view._sender.budget is client._sender.budget
    assert (client._sender.budget.ratio, client._sender.budget.capacity) == (0.5, 3.0)
    with pytest.raises(TypeError):
        RetryPolicy(budget_ratio=1.0)  # type: ignore[call-arg]


def _response(status: int, body: bytes, **headers: str) -> Response:
    return Response(status=status, headers=headers, content=body)


_REQUEST = Request(method="GET", url="https://x/v1/messages", headers={}, endpoint="GET /messages")


@pytest.mark.parametrize("field", ["title", "detail", "type", "instance"])
def test_a_huge_server_text_is_kept_but_clipped_in_the_message(field: str) -> None:
    """A megabyte title (a proxy's page in ``detail``, a runaway ``type``) stays on the
    error whole, but its message (logged at every failure, the CLI's one line) is bounded."""
    text = "x" * 1_000_000
    body = json.dumps({"type": "errors/provider_error", "title": "Down", field: text}).encode()
    error = build_status_error(_REQUEST, _response(500, body), now=0)
    assert getattr(error, field) == text
    message = str(error)
    assert len(message) < 2_000, len(message)
    assert "(999,500 more characters)" in message
    assert "(GET https://x/v1/messages)" in message


def test_status_error_is_built_complete_from_the_response_alone() -> None:
    """Class from the status, envelope fields, Retry-After in any case, the attempt count."""
    body = b'{"status":503,"type":"errors/no_channel","title":"No channel"}'
    error = build_status_error(
        _REQUEST,
        _response(503, body, **{"Retry-After": "2"}),
        now=0.0,
        attempts=3,
        retry_budget_exhausted=True,
    )
    assert isinstance(error, ServiceUnavailableError)
    assert (error.type, error.title, error.retry_after) == ("errors/no_channel", "No channel", 2.0)
    assert (error.attempts, error.retry_budget_exhausted) == (3, True)
    assert error.endpoint == "messages.list"
    assert "not retried" in str(error)


def test_a_gateway_page_is_still_its_status_class_with_no_type() -> None:
    error = build_status_error(
        _REQUEST, _response(502, b"<html>", **{"content-type": "text/html"}), now=0
    )
    assert isinstance(error, BadGatewayError)
    assert error.type is None
    assert error.title == "HTTP 502 with a non-JSON body"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        pytest.param(b"", "application/json", "HTTP 503 with an empty body", id="empty-json"),
        pytest.param(b"  \r\n", "text/html", "HTTP 503 with an empty body", id="blank-html"),
        pytest.param(b"", "", "HTTP 503 with an empty body", id="empty-no-type"),
        pytest.param(b"<html>", "application/json", "HTTP 503 with an unreadable body", id="json"),
        pytest.param(b"<html>", "text/html", "HTTP 503 with a non-JSON body", id="html"),
    ],
)
def test_a_body_that_is_no_envelope_is_said_as_it_is(
    body: bytes, content_type: str, expected: str
) -> None:
    """The title says what came: nothing, a JSON body that is no envelope, or another kind."""
    error = build_status_error(
        _REQUEST, _response(503, body, **{"content-type": content_type}), now=0
    )
    assert (error.type, error.title) == (None, expected)


@pytest.mark.parametrize(
    ("status", "attempt", "time_left", "expected"),
    [
        pytest.param(503, 1, None, 2.0, id="retry-after-wins"),
        pytest.param(503, 5, None, None, id="attempts-spent"),
        pytest.param(404, 1, None, None, id="not-retryable"),
        pytest.param(503, 1, 1.5, None, id="past-the-deadline"),
    ],
)
def test_next_delay_decides_whether_and_when(
    status: int, attempt: int, time_left: float | None, expected: float | None
) -> None:
    error = build_status_error(_REQUEST, _response(status, b"", **{"retry-after": "2"}), now=0)
    got = next_delay(RetryPolicy(), "GET", error, attempt, random=lambda: 0.5, time_left=time_left)
    assert got == expected


def test_failure_error_builds_a_complete_copy_of_the_transports_error() -> None:
    """Same class, message and fields, the attempt count and budget flag set, the
    original untouched, no chaining added."""
    failure = ResponseTooLargeError(limit=10, method="GET", url="https://x/v1/messages")
    error = failure_error(failure, attempts=3, retry_budget_exhausted=True)
    assert type(error) is ResponseTooLargeError and error is not failure
    assert (error.limit, error.method, error.url) == (10, "GET", "https://x/v1/messages")
    assert (error.attempts, error.retry_budget_exhausted) == (3, True)
    assert str(error) == str(failure) + " (not retried: the client's retry budget is spent)"
    assert (failure.attempts, failure.retry_budget_exhausted) == (1, False)
    assert error.__cause__ is None and error.__context__ is None


def _status(status: int) -> APIStatusError:
    return status_error(status, None)


LASTING = [
    pytest.param(_status(400), "a 400 does not change on a retry", id="400"),
    pytest.param(_status(401), "a 401 does not change on a retry", id="401"),
    pytest.param(_status(403), "a 403 does not change on a retry", id="403"),
    pytest.param(_status(404), "a 404 does not change on a retry", id="404"),
    pytest.param(_status(422), "a 422 does not change on a retry", id="422"),
    pytest.param(_status(302), "a 302 does not change on a retry", id="302-redirect"),
    pytest.param(InvalidParameterError("limit", "bad"), "the same arguments", id="bad-input"),
    pytest.param(StateMismatchError("other filters"), "the same arguments", id="state-mismatch"),
    pytest.param(MissingAPIKeyError("no key"), "the same arguments", id="no-key"),
    pytest.param(PlanMismatchError("other options"), "other options", id="plan-mismatch"),
    pytest.param(ShardConflictError("moved"), "another writer", id="shard-conflict"),
    pytest.param(ResponseDecodeError("bad", endpoint="messages.list"), "the same way", id="decode"),
    pytest.param(
        UnreadableItemError([], endpoint="messages.list"), "the same way", id="unreadable"
    ),
    pytest.param(CursorLoopError("c", endpoint="messages.list"), "the same way", id="cursor-loop"),
    pytest.param(
        ResponseTooLargeError(limit=1, method="GET", url="https://x"),
        "the same way",
        id="too-large",
    ),
]

PASSING = [
    *(pytest.param(_status(status), id=str(status)) for status in (408, 409, 425, 429)),
    *(pytest.param(_status(status), id=str(status)) for status in (500, 502, 503, 504, 599)),
    pytest.param(_status(600), id="600-unknown-status"),
    pytest.param(APIConnectionError("refused", method="GET", url="https://x"), id="connection"),
    pytest.param(APITimeoutError("timed out", method="GET", url="https://x"), id="timeout"),
    pytest.param(SinkFailedError("disk full"), id="sink-failed"),
    pytest.param(SinkUnavailableError("unreachable", unreachable=True), id="sink-unavailable"),
    pytest.param(EngineUnavailableError("budget closed"), id="engine-unavailable"),
    pytest.param(ValueError("no SDK class"), id="not-the-sdks"),
    pytest.param(OSError("broken pipe"), id="os-error"),
]


@pytest.mark.parametrize(("error", "why"), LASTING)
def test_an_error_a_new_try_meets_again_says_why(error: Exception, why: str) -> None:
    said = lasting(error)
    assert said is not None
    assert why in said


@pytest.mark.parametrize("error", PASSING)
def test_an_error_that_may_pass_or_is_unknown_is_tried_again(error: Exception) -> None:
    assert lasting(error) is None
