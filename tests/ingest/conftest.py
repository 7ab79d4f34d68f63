"""A fake server with a skewed dataset, and a client config pointing at it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from postpress_async.ingest import ClientConfig
from postpress_async.testing import Dataset, FakePostpress, fake_dataset

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


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The superuser DSN of a PostgreSQL cluster the tests start (and stop at the end)."""
    from ._servers import postgres_cluster

    with postgres_cluster() as dsn:
        yield dsn


@pytest_asyncio.fixture
async def pg_url(postgres: str) -> AsyncIterator[str]:
    """A fresh database on that cluster, dropped after the test."""
    import uuid

    asyncpg = (
        pytest.importorskip("asyncpg") if os.environ.get("CI") != "true" else __import__("asyncpg")
    )
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{postgres}/postgres")
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield f"{postgres}/{name}"
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()
