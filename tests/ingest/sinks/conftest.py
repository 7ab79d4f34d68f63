"""The registry of sinks the contract suite runs against, and the ``kit`` fixture.

Every sink registered here (database sinks in ``_sql.py``, file sinks in ``_files.py``)
runs the whole of ``test_contract.py``; a sink is one module plus one entry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from . import _files, _sql
from ._kit import Entry, Kit

#: name -> entry: every sink the contract suite runs against.
SINKS: dict[str, Entry] = {**_sql.SINKS, **_files.SINKS}


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.slow] if entry.slow else [], id=name)
        for name, entry in SINKS.items()
    ]
)
def made_kit(request: pytest.FixtureRequest) -> Kit:
    return SINKS[request.param].make(request)


@pytest_asyncio.fixture
async def kit(made_kit: Kit) -> AsyncIterator[Kit]:
    """A fresh store of each registered sink; its sinks are closed after the test."""
    try:
        yield made_kit
    finally:
        await made_kit.cleanup()
