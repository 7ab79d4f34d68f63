"""Bodies a hostile server sends: endless, lying about their length, huge errors."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc

import pytest
from aiohttp import web

import postpress_async._transport as _transport
from postpress_async import (
    APIConnectionError,
    AuthenticationError,
    InvalidParameterError,
    Limits,
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryPolicy,
    ServiceUnavailableError,
)

from ._server import Hostile, client_for, endless, hostile_server, lying_length, raw

MIB = 1024 * 1024


async def test_an_endless_body_is_cut_at_the_limit_with_bounded_memory() -> None:
    """The client hangs up at the limit; memory and the bytes sent stay near it."""
    limit = MIB
    async with hostile_server(endless()) as server:
        async with client_for(server, limits=Limits(max_response_bytes=limit)) as client:
            tracemalloc.start()
            try:
                with pytest.raises(ResponseTooLargeError, match="1,048,576 bytes") as caught:
                    await client.messages.retrieve("msg_1")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert caught.value.limit == limit
    assert peak < 4 * limit
    # The server would send 256 MiB; it got out what the socket buffers took, no more.
    assert server.sent < 64 * MIB


async def test_a_body_within_the_limit_is_read_whole() -> None:
    body = b'{"object": "Message", "id": "msg_1", "text": "' + b"x" * 100_000 + b'"}'
    async with hostile_server(raw(200, body)) as server:
        async with client_for(server, limits=Limits(max_response_bytes=len(body))) as client:
            message = await client.messages.retrieve("msg_1")
    assert message.text is not None and len(message.text) == 100_000


async def test_a_gzip_bomb_counts_at_its_unpacked_size() -> None:
    bomb = gzip.compress(b" " * (8 * MIB))
    headers = {"Content-Encoding": "gzip"}
    async with hostile_server(raw(200, bomb, headers)) as server:
        async with client_for(server, limits=Limits(max_response_bytes=MIB)) as client:
            with pytest.raises(ResponseTooLargeError):
                await client.messages.retrieve("msg_1")
    assert len(bomb) < MIB  # so only the unpacked size can have tripped the limit


async def test_a_content_length_beyond_the_limit_is_refused_before_reading() -> None:
    async with hostile_server(lying_length(10 * 1024 * MIB)) as server:
        async with client_for(server) as client:
            with pytest.raises(ResponseTooLargeError, match="max_response_bytes"):
                await client.messages.retrieve("msg_1")


async def test_a_body_longer_than_its_content_length_gives_a_short_typed_error() -> None:
    """aiohttp reads the surplus as the next response: a connection error, cut short."""

    async def short_claim(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "10"})
        await response.prepare(request)
        assert request.transport is not None
        request.transport.write(b'{"id": "m", "text": "' + b"x" * MIB + b'"}')
        return response

    async with hostile_server(short_claim) as server:
        async with client_for(server) as client:
            with pytest.raises((APIConnectionError, ResponseDecodeError)) as caught:
                await client.messages.retrieve("msg_1")
    assert len(str(caught.value)) < 1000


async def test_a_body_shorter_than_its_content_length_is_a_connection_error() -> None:
    async def cut(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(MIB)})
        await response.prepare(request)
        await response.write(b'{"id": "msg_1", ')
        assert request.transport is not None
        request.transport.close()
        return response

    async with hostile_server(cut) as server:
        async with client_for(server) as client:
            with pytest.raises(APIConnectionError, match="broken off"):
                await client.messages.retrieve("msg_1")


async def test_an_error_body_cut_short_is_still_its_status_error() -> None:
    """The status line arrived: a 401 whose body breaks off is an AuthenticationError
    (never retried), not a connection error retried as if no answer had come."""
    prefix = b'{"type": "errors/invalid_credentials", "title": "Inv'

    async def cut(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        response = web.StreamResponse(status=401, headers={"Content-Length": str(MIB)})
        await response.prepare(request)
        await response.write(prefix)
        assert request.transport is not None
        request.transport.close()
        return response

    async with hostile_server(cut) as server:
        policy = RetryPolicy(attempts=3, wait_initial=0.001)
        async with client_for(server, retry=policy) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.messages.retrieve("msg_1")
    assert caught.value.body == prefix
    assert caught.value.attempts == 1
    assert len(server.requests) == 1


ENVELOPE_200 = b'{"type": "errors/network_down", "title": "Network is down", "status": 503}'


@pytest.mark.parametrize(
    "walk",
    [
        pytest.param(lambda c: c.messages.list(), id="items"),
        pytest.param(lambda c: c.messages.list().pages(), id="pages"),
        pytest.param(lambda c: c.chats.rows(), id="rows"),
    ],
)
async def test_a_200_holding_an_error_envelope_is_an_error_not_an_empty_last_page(
    walk: object,
) -> None:
    """A proxy's 200 with the error envelope must not end a listing as complete (an
    export would store it as done, with nothing): a typed error, resumable from the start."""
    async with hostile_server(raw(200, ENVELOPE_200)) as server:
        async with client_for(server) as client:
            stream = walk(client)  # type: ignore[operator]
            with pytest.raises(ResponseDecodeError, match="errors/network_down") as caught:
                async for _ in stream:
                    pass
    assert caught.value.checkpoint is not None
    assert not caught.value.checkpoint.done
    assert caught.value.body == ENVELOPE_200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{}", id="empty-object"),
        pytest.param(b'{"object": "MessageList", "cursor": null}', id="no-items-key"),
        pytest.param(b'{"object": "MessageList", "items": [], "cursor": null}', id="empty-items"),
    ],
)
async def test_an_empty_last_page_is_still_one(body: bytes) -> None:
    async with hostile_server(raw(200, body)) as server:
        async with client_for(server) as client:
            stream = client.messages.list()
            assert [item async for item in stream] == []
    assert stream.checkpoint.done


async def test_an_endless_error_body_keeps_a_small_prefix_and_is_still_retried() -> None:
    async with hostile_server(endless(status=503)) as server:
        policy = RetryPolicy(attempts=2, wait_initial=0.001)
        async with client_for(server, retry=policy) as client:
            with pytest.raises(ServiceUnavailableError) as caught:
                await client.messages.retrieve("msg_1")
    error = caught.value
    assert error.attempts == 2
    assert 0 < len(error.body) <= Limits().max_error_body_bytes == 64 * 1024
    assert server.sent < 64 * MIB


async def test_an_error_body_that_stalls_past_its_head_is_not_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the head, an error body is read on only for its tail, and only briefly: a
    server that stalls there (for ever, here) costs no read timeout (60 s) an attempt."""
    monkeypatch.setattr(_transport, "ERROR_TAIL_SECONDS", 0.05)
    release = asyncio.Event()

    async def stalls(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        response = web.StreamResponse(status=503, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"title": "Down", "detail": "' + b"x" * (70 * 1024))
        await release.wait()  # the rest never comes while the client waits
        return response

    async with hostile_server(stalls) as server:
        async with client_for(server, retry=RetryPolicy(attempts=1)) as client:
            call = client.messages.retrieve("msg_1")
            with pytest.raises(ServiceUnavailableError) as caught:
                await asyncio.wait_for(call, 20)  # a hang fails here, not at CI's limit
        release.set()
    assert caught.value.title == "Down" and len(caught.value.body) == 64 * 1024


async def test_the_error_prefix_size_is_configurable() -> None:
    body = b'{"type": "errors/network_down", "title": "' + b"x" * 10_000 + b'"}'
    async with hostile_server(raw(503, body)) as server:
        async with client_for(server, limits=Limits(max_error_body_bytes=100)) as client:
            with pytest.raises(ServiceUnavailableError) as caught:
                await client.messages.retrieve("msg_1")
    # A cut envelope keeps the members whole before the cut: the title cut short is none.
    assert caught.value.body == body[:100]
    assert (caught.value.type, caught.value.title) == ("errors/network_down", None)
    assert "the error body was cut after 100 bytes" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("max_response_bytes", 0, id="response-zero"),
        pytest.param("max_response_bytes", "32MiB", id="response-str"),
        pytest.param("max_error_body_bytes", -1, id="error-negative"),
    ],
)
def test_body_limits_are_validated(field: str, value: object) -> None:
    with pytest.raises(InvalidParameterError, match=f"limits.{field}"):
        Limits(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "body", "content_type", "says"),
    [
        pytest.param(200, b"", "application/json", "body is empty", id="empty-200"),
        pytest.param(204, b"", "application/json", "body is empty", id="204"),
        pytest.param(200, b" \r\n", "application/json", "body is empty", id="blank-200"),
        pytest.param(
            200, b"<!DOCTYPE html><title>Login</title>", "text/html", "HTML", id="html-200"
        ),
    ],
)
async def test_a_2xx_body_that_is_no_json_says_what_it_is(
    status: int, body: bytes, content_type: str, says: str
) -> None:
    """Not msgspec's "Input data was truncated" for a body that never had a byte: the
    error names what arrived (nothing, or a proxy's HTML page), typed, not retried."""
    headers = {"Content-Type": content_type}
    async with hostile_server(raw(status, body, headers)) as server:
        async with client_for(server, retry=RetryPolicy(attempts=3)) as client:
            for call in (lambda: client.messages.retrieve("msg_1"), client.messages.list):
                with pytest.raises(ResponseDecodeError, match=says) as caught:
                    await call()
                assert "truncated" not in str(caught.value)
                assert caught.value.body == body
    assert len(server.requests) == 2  # one a call: never retried
