"""An error body cut at ``Limits.max_error_body_bytes`` keeps its last few KiB too: the
API's envelope puts ``type`` and ``status`` after ``detail``, so a long ``detail`` would
otherwise cost the type that decides the retry."""

from __future__ import annotations

import json

import pytest

from postpress_async import InternalServerError, Limits, RetryPolicy
from postpress_async._config import ERROR_TAIL_BYTES
from postpress_async._error_body import decode_error_body
from postpress_async._retry import should_retry, status_error
from postpress_async.models import ErrorBody
from postpress_async.testing._replies import error_reply
from postpress_async.transports import Request, Response

CAP = Limits().max_error_body_bytes


def _cut(body: bytes, cap: int = CAP) -> tuple[bytes, bytes]:
    """What the transport keeps of ``body``: its head (the cap) and, if longer, its last bytes."""
    return body[:cap], body[-ERROR_TAIL_BYTES:] if len(body) > cap else b""


def test_the_documented_order_cut_at_the_cap_keeps_type_and_status() -> None:
    """The fake's envelope (the API's order: title, detail, instance, type, status) with a
    70,000-character detail: the type and status come back from the tail."""
    body = error_reply(500, "errors/provider_error", "x" * 70_000, serial=1).body
    head, tail = _cut(body)
    assert decode_error_body(head).type is None  # type: ignore[union-attr]
    assert decode_error_body(head, tail) == ErrorBody(
        title="Internal Server Error",
        instance="req_00000001",
        type="errors/provider_error",
        status=500,
    )


@pytest.mark.parametrize("size", [CAP + 1, CAP + 50, CAP + ERROR_TAIL_BYTES + 3, 300_000])
def test_any_size_past_the_cap_keeps_the_last_members(size: int) -> None:
    """Whether the rest is a few bytes or far more than the tail kept."""
    body = error_reply(503, "errors/no_channel", "", serial=2).body
    padding = size - len(body)
    body = error_reply(503, "errors/no_channel", "é" * (padding // 2), serial=2).body
    envelope = decode_error_body(*_cut(body))
    assert envelope is not None
    assert (envelope.type, envelope.status) == ("errors/no_channel", 503)


def test_the_head_wins_over_the_tail() -> None:
    """A member the head read whole is never replaced by one of the tail."""
    body = json.dumps(
        {"type": "errors/unexpected_error", "detail": "x" * 70_000, "type2": 1, "status": 500}
    ).encode()
    body = body[:-1] + b', "type": "errors/provider_error"}'  # a duplicate key, last
    envelope = decode_error_body(*_cut(body))
    assert envelope is not None
    assert (envelope.type, envelope.status) == ("errors/unexpected_error", 500)


def _hostile(detail: str, end: bytes) -> tuple[bytes, bytes]:
    head = json.dumps({"title": "Failed", "detail": detail}).encode()[:-2]
    return _cut(head + end)


@pytest.mark.parametrize(
    ("head_tail"),
    [
        pytest.param(_hostile("x" * 70_000, b"garbage}"), id="a-tail-of-garbage"),
        pytest.param(
            _hostile("x" * 70_000, b'zz,"type":"errors/provider_error"}'),
            id="members-after-no-value",
        ),
        pytest.param(
            _hostile("x" * 70_000 + ',"type":"errors/provider_error","status":500}', b'"}'),
            id="a-tail-inside-the-detail",
        ),
        pytest.param(
            _hostile("x" * 70_000 + ',\\"type\\":\\"errors/provider_error\\"}', b'"}'),
            id="escaped-members-inside-the-detail",
        ),
        pytest.param(
            _hostile("x" * 70_000 + 'a",', b'"}'),
            id="a-detail-ending-in-a-comma",
        ),
        pytest.param(
            _hostile("x" * 70_000, b'", "meta": {"a": 1, "type": "errors/provider_error"}}'),
            id="a-nested-type",
        ),
        pytest.param(
            (b'{"title": "Failed", "meta": {"a": "' + b"x" * 100, b'1, "type": "errors/x"}}'),
            id="a-tail-starting-inside-a-nested-object",
        ),
        pytest.param(
            _hostile("x" * 70_000, b'\\", "type": "errors/provider_error"}'),
            id="after-an-escaped-quote",
        ),
        pytest.param(_cut(b"<html>" + b"x" * 70_000 + b'", "type": "errors/x"}'), id="a-page"),
    ],
)
def test_a_hostile_tail_never_invents_a_type(head_tail: tuple[bytes, bytes]) -> None:
    """Only whole top-level members ending the object count: garbage, a tail inside a
    string, members after something that is no value, or a body that is no object give
    no type."""
    envelope = decode_error_body(*head_tail)
    assert envelope is None or envelope.type is None


def test_a_comma_and_quote_inside_the_detail_do_not_replace_the_real_type() -> None:
    """The real members after a detail that ends as if members followed win."""
    body = error_reply(
        500, "errors/unexpected_error", "x" * 70_000 + '","type":"errors/provider_error",', serial=3
    ).body
    envelope = decode_error_body(*_cut(body))
    assert envelope is not None
    assert (envelope.type, envelope.instance) == ("errors/unexpected_error", "req_00000003")


def test_the_error_says_the_body_was_cut_and_is_retryable() -> None:
    """The error built from such a response: its type makes it retryable, and the message
    still says the body was cut."""
    body = error_reply(500, "errors/provider_error", "x" * 70_000, serial=4).body
    head, tail = _cut(body)
    request = Request("GET", "https://api.example/api/v1/messages/m", {}, "GET /messages/{id}")
    error = status_error(request, Response(status=500, headers={}, content=head, tail=tail), now=0)
    assert isinstance(error, InternalServerError)
    assert error.type == "errors/provider_error"
    assert should_retry(RetryPolicy(), "GET", error)
    assert error.body == head
    assert "the error body was cut after 65,536 bytes" in str(error)
