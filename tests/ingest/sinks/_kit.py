"""What the contract suite needs of a sink under test: a :class:`Kit` per store, from a factory.

A factory (:data:`Factory`) gets the test's ``request`` (for ``tmp_path``, ``pg_url``, ...)
and returns a :class:`Kit`: it makes sinks on one fresh store (each :meth:`Kit.sink`
call a new, unopened sink on the same store: a second writer, a reader, a reopen) and
reads back what the store holds, behind the sink's back (the sinks are closed then), so
the suite can compare bytes. Register a factory in a registry (``_sql.SINKS``,
``_files.SINKS``) as an :class:`Entry`; ``slow=True`` marks its tests slow (a server).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import pytest

from postpress_async.ingest.sinks._base import Sink


class Kit:
    """One fresh store under test, and how to read what it holds."""

    #: What typed text columns hold of U+0000: ``keep`` it, or ``replace`` it with U+FFFD.
    nul: Literal["keep", "replace"] = "keep"
    #: ``save_plan`` keeps the endpoint's rows (databases upsert them again); files start over.
    plan_keeps_rows: bool = True

    def __init__(self) -> None:
        self.made: list[Sink] = []

    def new_sink(self) -> Sink:
        """A new, unopened sink on this kit's store."""
        raise NotImplementedError

    def sink(self) -> Sink:
        """:meth:`new_sink`, closed after the test whatever happens."""
        made = self.new_sink()
        self.made.append(made)
        return made

    async def data(self, endpoint: str) -> dict[str, bytes]:
        """Each stored row's ``data``, byte for byte, by id."""
        raise NotImplementedError

    async def typed(self, endpoint: str, column: str) -> dict[str, Any]:
        """A typed column's stored values by id (text as the store holds it)."""
        raise NotImplementedError

    async def reject_raws(self, endpoint: str) -> list[bytes]:
        """The stored rejects' raw bytes, in any order."""
        raise NotImplementedError

    async def cleanup(self) -> None:
        """Close every sink made here (and whatever else the kit holds)."""
        for made in self.made:
            await made.close()


#: ``request -> Kit`` on a fresh store.
Factory = Callable[[pytest.FixtureRequest], Kit]


class Entry(NamedTuple):
    """A registered sink: its factory; ``slow`` when it needs a server."""

    make: Factory
    slow: bool = False
