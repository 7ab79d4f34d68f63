"""A fake server with a skewed dataset, and a client config pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from postpress_async.cli._fake import fake_dataset
from postpress_async.ingest import ClientConfig
from postpress_async.testing import Dataset, FakePostpress

#: Hot chats carry a quarter of the messages: the accounts differ in size.
DATASET = fake_dataset(seed=3, messages=1500)


def message_ids(dataset: Dataset = DATASET) -> list[str]:
    """Every message id of the dataset, the ground truth."""
    return [dataset.message_id(i) for i in range(dataset.message_count)]


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakePostpress]:
    async with FakePostpress(dataset=DATASET) as running:
        yield running


@pytest.fixture
def config(server: FakePostpress) -> ClientConfig:
    return ClientConfig(base_url=server.url, api_key=server.api_key, limit=100)
