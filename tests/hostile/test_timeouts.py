"""Servers that answer too slowly: each is an APITimeoutError naming the timeout that
fired, so an operator knows which one to raise (or which server to blame)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from postpress_async import APITimeoutError, AuthenticationError, RetryPolicy, Timeout

from ._server import Hostile, client_for, hostile_server


async def headers_then_stall(request: web.Request, hostile: Hostile) -> web.StreamResponse:
    """A status line and headers, the first byte of the body, then nothing."""
    response = web.StreamResponse(headers={"Content-Length": "100"})
    await response.prepare(request)
    await response.write(b"{")
    await asyncio.sleep(30)
    return response


async def chunked_never_closed(request: web.Request, hostile: Hostile) -> web.StreamResponse:
    """A whole JSON page in a chunked body whose last chunk never comes."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(b'{"object": "Message", "id": "msg_1"}')
    await asyncio.sleep(30)
    return response


async def trickle(request: web.Request, hostile: Hostile) -> web.StreamResponse:
    """One byte at a time, forever: no read ever waits long."""
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(3000):
        await response.write(b" ")
        await asyncio.sleep(0.01)
    return response


@pytest.mark.parametrize(
    ("handler", "timeout", "names"),
    [
        pytest.param(headers_then_stall, Timeout(read=0.1), "Timeout.read", id="stalled-body"),
        pytest.param(
            chunked_never_closed, Timeout(read=0.1), "Timeout.read", id="chunked-never-closed"
        ),
        pytest.param(trickle, Timeout(read=5, total=0.2), "Timeout.total", id="trickle"),
    ],
)
async def test_a_slow_server_is_a_timeout_naming_the_one_that_fired(
    handler: object, timeout: Timeout, names: str
) -> None:
    async with hostile_server(handler) as server:  # type: ignore[arg-type]
        async with client_for(server, timeout=timeout) as client:
            with pytest.raises(APITimeoutError, match=names) as caught:
                await client.messages.retrieve("msg_1")
    assert caught.value.__cause__ is None and caught.value.__context__ is None


async def test_an_error_body_that_stalls_is_still_its_status_error() -> None:
    """The status line arrived: a 401 whose body stalls is an AuthenticationError at once
    (never retried), as one whose body breaks off, not a timeout retried 3 times."""
    prefix = b'{"type": "errors/invalid_credentials", "title": "Inv'

    async def stall(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        response = web.StreamResponse(status=401, headers={"Content-Length": "1000"})
        await response.prepare(request)
        await response.write(prefix)
        await asyncio.sleep(30)
        return response

    async with hostile_server(stall) as server:
        policy = RetryPolicy(attempts=3, wait_initial=0.001)
        async with client_for(server, timeout=Timeout(read=0.1), retry=policy) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.messages.retrieve("msg_1")
    assert caught.value.body == prefix
    assert len(server.requests) == 1
