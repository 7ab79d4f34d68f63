"""The SDK under aioresponses, the mocking library many aiohttp users already have.

aioresponses 0.7.9 does not work with aiohttp 3.14 (``ClientResponse.__init__`` grew a
required argument), so these run in their own nox session with aiohttp < 3.14; under a
newer aiohttp they skip. The main suite uses the in-process fake server instead.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

if tuple(int(p) for p in aiohttp.__version__.split(".")[:2]) >= (3, 14):
    pytest.skip("aioresponses 0.7.9 needs aiohttp < 3.14", allow_module_level=True)
aioresponses = pytest.importorskip("aioresponses").aioresponses

from postpress_async import (  # noqa: E402
    AsyncPostpress,
    NotFoundError,
    RetryPolicy,
    ServiceUnavailableError,
)

BASE = "https://api.postpress.ai/api/v1"
MESSAGE = {"object": "Message", "id": "msg_1", "text": "hello", "attachments": []}


def envelope(status: int, type_: str) -> dict[str, object]:
    return {"title": "t", "type": type_, "status": status}


async def test_a_mocked_message_decodes() -> None:
    with aioresponses() as mocked:
        mocked.get(f"{BASE}/messages/msg_1", payload=MESSAGE)
        async with AsyncPostpress(api_key="pp_key_123456") as client:
            message = await client.messages.retrieve("msg_1")
    assert message.text == "hello"


async def test_a_mocked_404_maps_to_not_found() -> None:
    with aioresponses() as mocked:
        mocked.get(
            f"{BASE}/messages/nope", status=404, payload=envelope(404, "errors/resource_not_found")
        )
        async with AsyncPostpress(api_key="pp_key_123456") as client:
            with pytest.raises(NotFoundError) as info:
                await client.messages.retrieve("nope")
    assert info.value.type == "errors/resource_not_found"


async def test_mocked_503s_are_retried_until_a_page_arrives() -> None:
    page = {"object": "MessageList", "items": [MESSAGE], "cursor": None}
    url = re.compile(rf"^{re.escape(BASE)}/messages\?limit=1$")
    with aioresponses() as mocked:
        mocked.get(url, status=503, payload=envelope(503, "errors/no_channel"))
        mocked.get(url, status=503, payload=envelope(503, "errors/network_down"))
        mocked.get(url, payload=page)
        policy = RetryPolicy(wait_initial=0.001, wait_max=0.002)
        async with AsyncPostpress(api_key="pp_key_123456", retry=policy) as client:
            items = [m.id async for m in client.messages.list(limit=1)]
            stats = client.stats()
    assert items == ["msg_1"]
    assert stats.retries == {"503 errors/no_channel": 1, "503 errors/network_down": 1}


async def test_a_spent_attempt_count_surfaces_the_last_error() -> None:
    url = re.compile(rf"^{re.escape(BASE)}/accounts$")
    with aioresponses() as mocked:
        for _ in range(3):
            mocked.get(url, status=503, payload=envelope(503, "errors/service_unavailable"))
        policy = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002)
        async with AsyncPostpress(api_key="pp_key_123456", retry=policy) as client:
            with pytest.raises(ServiceUnavailableError) as info:
                await client.accounts.list()
    assert info.value.attempts == 3
