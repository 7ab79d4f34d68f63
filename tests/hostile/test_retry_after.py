"""``Retry-After`` values a hostile server sends: never a retry storm, never a long sleep."""

from __future__ import annotations

import email.utils
import time

import pytest
from aiohttp import web

from postpress_async import AsyncPostpress, RetryPolicy

from ._server import Hostile, hostile_server, raw

KEY = "pp_hostile_key_0123456789"
POLICY = RetryPolicy(attempts=2, wait_initial=0.002, retry_after_max=0.05)


def busy_then_ok(retry_after: str) -> object:
    async def handler(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        if len(hostile.requests) == 1:
            response = web.Response(status=503, headers={"Retry-After": "0"})
            # Set raw so aiohttp sends exactly these characters (UTF-8 on the wire).
            response.headers["Retry-After"] = retry_after
            return response
        body = b'{"object": "Message", "id": "msg_1", "text": "hi"}'
        return await raw(200, body)(request, hostile)

    return handler


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("-5", id="negative"),
        pytest.param("0", id="zero"),
        pytest.param(email.utils.formatdate(time.time() - 3600, usegmt=True), id="past-date"),
        pytest.param("\u0663", id="arabic-indic-digit"),
        pytest.param("soon", id="garbage"),
    ],
)
async def test_an_unusable_retry_after_waits_the_normal_backoff(value: str) -> None:
    """Not zero (a retry storm), not the server's number: the jittered backoff."""
    async with hostile_server(busy_then_ok(value)) as server:  # type: ignore[arg-type]
        async with AsyncPostpress(api_key=KEY, base_url=server.url, retry=POLICY) as client:
            await client.messages.retrieve("msg_1")
            waited = client.stats().retry_wait_seconds
    assert len(server.requests) == 2
    assert 0 < waited <= POLICY.wait_initial


async def test_a_huge_retry_after_is_capped() -> None:
    async with hostile_server(busy_then_ok("99999999999")) as server:  # type: ignore[arg-type]
        async with AsyncPostpress(api_key=KEY, base_url=server.url, retry=POLICY) as client:
            await client.messages.retrieve("msg_1")
            waited = client.stats().retry_wait_seconds
    assert waited == POLICY.retry_after_max
