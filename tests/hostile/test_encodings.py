"""Bytes and strings that are not what they claim: every failure is a typed error."""

from __future__ import annotations

import pytest

from postpress_async import (
    AsyncPostpress,
    InternalServerError,
    InvalidParameterError,
    ResponseDecodeError,
    RetryPolicy,
    ServiceUnavailableError,
)
from postpress_async.transports import Response
from tests.helpers import RecordingTransport

from ._server import KEY, Hostile, client_for, hostile_server, page_body, raw

BAD_UTF8_MESSAGE = b'{"object": "Message", "id": "msg_\xff\xfe", "text": "hi"}'


async def test_invalid_utf8_in_a_200_body_is_a_decode_error() -> None:
    async with hostile_server(raw(200, BAD_UTF8_MESSAGE)) as server:
        async with client_for(server) as client:
            with pytest.raises(ResponseDecodeError, match="not valid JSON") as caught:
                await client.messages.retrieve("msg_1")
    assert caught.value.body == BAD_UTF8_MESSAGE


async def test_invalid_utf8_in_an_error_envelope_keeps_its_type_and_its_retry() -> None:
    """A byte that is not UTF-8 in a title costs neither the class nor the envelope."""
    body = b'{"type": "errors/network_down", "title": "down \xff"}'
    async with hostile_server(raw(503, body)) as server:
        policy = RetryPolicy(attempts=3, wait_initial=0.001)
        async with client_for(server, retry=policy) as client:
            with pytest.raises(ServiceUnavailableError) as caught:
                await client.messages.retrieve("msg_1")
    assert caught.value.attempts == 3
    assert (caught.value.type, caught.value.title) == ("errors/network_down", "down \ufffd")
    assert caught.value.body == body


async def test_a_lone_surrogate_in_an_error_envelope_keeps_its_type_and_its_retry() -> None:
    """500 errors/provider_error is retried by its type: a title cut mid-emoji keeps it."""
    body = b'{"type": "errors/provider_error", "title": "Provider down \\ud83d", "status": 500}'
    transport = RecordingTransport(lambda request: Response(status=500, headers={}, content=body))
    policy = RetryPolicy(attempts=3, wait_initial=0.001)
    async with AsyncPostpress(api_key=KEY, transport=transport, retry=policy) as client:
        with pytest.raises(InternalServerError) as caught:
            await client.messages.retrieve("msg_1")
    assert caught.value.type == "errors/provider_error"
    assert caught.value.title == "Provider down \ufffd"
    assert len(transport.requests) == 3


async def test_invalid_utf8_in_a_prefetched_page_carries_the_resume_cursor() -> None:
    async def pages(request: object, hostile: Hostile) -> object:
        cursor = request.query.get("cursor")  # type: ignore[attr-defined]
        if cursor is None:
            return await raw(200, page_body(["msg_1"], "NEXT"))(request, hostile)  # type: ignore[arg-type]
        return await raw(200, b'{"items": [], "cursor": "\xff"}')(request, hostile)  # type: ignore[arg-type]

    async with hostile_server(pages) as server:  # type: ignore[arg-type]
        async with client_for(server, prefetch=2) as client:
            stream = client.messages.list()
            with pytest.raises(ResponseDecodeError) as caught:
                async for _ in stream:
                    pass
    assert caught.value.resume_cursor == "NEXT"
    assert stream.checkpoint.cursor == "NEXT"


@pytest.mark.parametrize(
    ("call", "param"),
    [
        pytest.param(lambda c: c.messages.retrieve("msg_\ud800"), "message_id", id="path-id"),
        pytest.param(lambda c: c.messages.list(sender_id="s\udfff"), "sender_id", id="filter"),
        pytest.param(lambda c: c.chats.list(account_id=["a", "b\ud800"]), "account_id", id="ids"),
        pytest.param(lambda c: c.messages.list(cursor="c\ud800"), "cursor", id="cursor"),
    ],
)
async def test_a_lone_surrogate_is_refused_before_sending(call: object, param: str) -> None:
    async with hostile_server(raw(200, b"{}")) as server:
        async with client_for(server) as client:
            with pytest.raises(InvalidParameterError, match=f"{param}: .*lone surrogate"):
                await call(client)  # type: ignore[operator]
    assert server.requests == []


@pytest.mark.parametrize("cursor", [5, b"c1", ["c1"]], ids=["int", "bytes", "list"])
async def test_a_cursor_that_is_not_a_str_is_refused_when_the_stream_is_made(
    cursor: object,
) -> None:
    """Named as ``cursor`` before any request, never an AttributeError from deep inside."""
    transport = RecordingTransport(lambda request: Response(status=200, headers={}, content=b"{}"))
    async with AsyncPostpress(api_key=KEY, transport=transport) as client:
        with pytest.raises(InvalidParameterError, match="cursor: must be a str"):
            client.messages.list(cursor=cursor)  # type: ignore[arg-type]
    assert transport.requests == []


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("pp_key\x00nul", id="nul"),
        pytest.param("pp_key\x7fdel", id="del"),
        pytest.param("pp_key\x1besc", id="esc"),
        pytest.param("pp_key\ttab", id="tab"),
        pytest.param("pp key", id="space"),
        pytest.param("pp_kéy", id="non-ascii"),
        pytest.param("pp_key\ud800", id="surrogate"),
        pytest.param("pp_key\r\nX-Evil: 1", id="header-injection"),
    ],
)
def test_a_key_with_a_control_or_non_ascii_character_is_refused_at_construction(
    key: str,
) -> None:
    with pytest.raises(InvalidParameterError, match="api_key: must be printable ASCII") as caught:
        AsyncPostpress(api_key=key, base_url="http://127.0.0.1:9")
    assert key not in str(caught.value)


async def test_deeply_nested_json_is_a_decode_error_not_a_crash() -> None:
    body = b'{"object": "Message", "id": "m", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    async with hostile_server(raw(200, body)) as server:
        async with client_for(server) as client:
            with pytest.raises(ResponseDecodeError):
                await client.messages.retrieve("msg_1")


async def test_an_html_page_with_status_200_is_a_decode_error() -> None:
    headers = {"Content-Type": "text/html"}
    async with hostile_server(raw(200, b"<html>captive portal</html>", headers)) as server:
        async with client_for(server) as client:
            with pytest.raises(ResponseDecodeError, match="not valid JSON"):
                await client.messages.retrieve("msg_1")


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        pytest.param({"X-Trace": "a\nb"}, "line breaks", id="newline"),
        pytest.param({"X-Trace": "a\x00b"}, "control characters", id="nul"),
        pytest.param({"X-Trace": "a\x7fb"}, "control characters", id="del"),
        pytest.param({"X Trace": "v"}, "not a valid header name", id="space-in-name"),
        pytest.param({"X-Trace": "\ud800"}, "lone surrogate", id="surrogate"),
    ],
)
def test_headers_aiohttp_would_refuse_mid_request_are_refused_at_construction(
    headers: dict[str, str], problem: str
) -> None:
    with pytest.raises(InvalidParameterError, match=f"default_headers.*{problem}"):
        AsyncPostpress(api_key=KEY, base_url="http://127.0.0.1:9", default_headers=headers)
    client = AsyncPostpress(api_key=KEY, base_url="http://127.0.0.1:9")
    with pytest.raises(InvalidParameterError, match=problem):
        client.with_options(headers=headers)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:99999", id="port-out-of-range"),
        pytest.param("http://[::1", id="broken-ipv6"),
        pytest.param("https://", id="no-host"),
        pytest.param("https://api.example.com/v1\x00", id="nul"),
        pytest.param("https://api example.com", id="space"),
    ],
)
def test_a_broken_base_url_is_refused_at_construction(url: str) -> None:
    with pytest.raises(InvalidParameterError, match="base_url"):
        AsyncPostpress(api_key=KEY, base_url=url)
