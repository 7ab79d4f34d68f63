"""Fixtures for the fake server's own tests.

The plugin's fixtures are imported here because its ``pytest11`` entry point may not be
installed in a development checkout; a conftest definition simply shadows the plugin's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from postpress_async.testing import Dataset, FakePostpress
from postpress_async.testing.pytest_plugin import (
    postpress_api_key,
    postpress_client,
    postpress_dataset,
    postpress_faults,
    postpress_ground_truth,
    postpress_live,
    postpress_server,
)

__all__ = [
    "postpress_api_key",
    "postpress_client",
    "postpress_dataset",
    "postpress_faults",
    "postpress_ground_truth",
    "postpress_live",
    "postpress_server",
]


@pytest.fixture(scope="session")
def hostile_dataset() -> Dataset:
    """A dataset whose ids need percent-encoding, with the real API's quirks on."""
    return Dataset(seed=7, accounts=15, chats=30, messages=400, hostile_ids=True, quirks=True)


@pytest.fixture
async def http(postpress_server: FakePostpress) -> AsyncIterator[aiohttp.ClientSession]:
    """A keep-alive session that sends the right API key."""
    async with aiohttp.ClientSession(headers={"X-API-KEY": postpress_server.api_key}) as session:
        yield session
