"""A caller's ``aiohttp.ClientSession`` may be set up for other uses: its settings must
not change what a postpress call does with a response."""

from __future__ import annotations

import aiohttp
import pytest

from postpress_async import AsyncPostpress, AuthenticationError, RetryPolicy

from ._server import KEY, hostile_server, raw

ENVELOPE = b'{"type": "errors/invalid_credentials", "title": "Invalid credentials"}'


async def test_a_session_that_raises_for_status_still_gives_the_typed_status_error() -> None:
    """``raise_for_status=True`` on the session made every non-2xx an APIConnectionError
    ("Connection failed: ClientResponseError: 401"), retried as if no answer had come,
    its envelope lost."""
    async with hostile_server(raw(401, ENVELOPE)) as server:
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            policy = RetryPolicy(attempts=3, wait_initial=0.001)
            async with AsyncPostpress(
                api_key=KEY, base_url=server.url, session=session, retry=policy
            ) as client:
                with pytest.raises(AuthenticationError) as info:
                    await client.messages.retrieve("msg_1")
    caught = info.value
    assert caught.type == "errors/invalid_credentials"
    assert caught.body == ENVELOPE
    assert len(server.requests) == 1  # a 401 is never retried
