"""ingest() against a server that pages by offset while messages arrive during the backfill.

Under ``Dataset(cursors="offset")`` a message arriving while a shard is between two pages
shifts its later pages: the next page repeats the last row of the one before (see
``tests/test_offset_paging.py``). The backfill's stream (``rows()``) passes those repeats
over, so the sink gets each row once: what matters for a JSON lines file and a parts
directory, which drop a repeat only within one commit (``last_of_each``) and would store
one that crosses two commits twice. Nothing is lost, and ``verify()`` agrees; it reports
a message a file holds twice. One ingest() into SQLite costs about 0.15 s: the file
stores' runs are slow tests, but for the JSON lines one, which shows the file holding one
row an id in the fast suite, and verify's (a small store).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from postpress_async.ingest import (
    ClientConfig,
    IngestResult,
    VerifyReport,
    ingest,
    open_sink,
    verify,
)
from postpress_async.ingest.engines.local import LocalEngine
from postpress_async.ingest.sinks._base import Batch
from postpress_async.testing import Dataset, FakePostpress
from tests._arrivals import Arrivals

STORES = {
    "sqlite": "sqlite:///{tmp}/m.db",
    "jsonl": "{tmp}/m.jsonl",
    "parts": "{tmp}/parts/",
}


class Outcome:
    """One ingest() with arrivals during its backfill, and what the store holds after."""

    def __init__(
        self,
        result: IngestResult,
        ids: list[str],
        truth: list[str],
        report: VerifyReport,
        added: int,
        shifted: int,
    ) -> None:
        self.result = result
        self.ids = ids
        self.truth = truth
        self.report = report
        self.verified = report.ok
        self.added = added
        #: Pages the server sent that open with the last id of the page before.
        self.shifted = shifted

    @property
    def repeated(self) -> int:
        """Rows stored beyond one an id."""
        return sum(times - 1 for times in Counter(self.ids).values())


async def ingest_while_messages_arrive(kind: str, tmp_path: Path) -> Outcome:
    """One shard of 120 messages, 30 a page, a message arriving before each of its next
    three pages; one page a commit, so a repeat lands in the commit after its first copy."""
    url = STORES[kind].format(tmp=tmp_path)
    server = FakePostpress(dataset=Dataset(seed=3, messages=120, chats=40, cursors="offset"))
    arrivals = Arrivals(server, budget=3)
    async with server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=30)
        result = await ingest(config, "messages", url, shards=1, engine=LocalEngine(max_pages=1))
        assert len(arrivals.added) == arrivals.budget
        sink = open_sink(url)
        await sink.open(writer=False)
        try:
            ids = await sink.stored_ids("messages", after=None, before=None)
        finally:
            await sink.close()
        report = await verify(config, "messages", url)
        truth = server.truth("messages")
        return Outcome(result, ids, truth, report, len(arrivals.added), arrivals.shifted)


def loses_nothing(outcome: Outcome) -> None:
    assert set(outcome.ids) == set(outcome.truth)  # the arrivals too (the follow's)
    assert outcome.verified
    assert outcome.shifted == outcome.added  # the server repeated a boundary an arrival
    assert outcome.result.items == len(outcome.truth)  # the sink got none of those repeats


async def test_sqlite_holds_every_message_once_under_offset_paging(tmp_path: Path) -> None:
    outcome = await ingest_while_messages_arrive("sqlite", tmp_path)
    loses_nothing(outcome)
    assert outcome.repeated == 0  # one row an id
    assert outcome.result.new == len(outcome.truth)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["jsonl", "parts"])
async def test_a_file_store_loses_nothing_under_offset_paging(kind: str, tmp_path: Path) -> None:
    loses_nothing(await ingest_while_messages_arrive(kind, tmp_path))


@pytest.mark.parametrize("kind", ["jsonl", pytest.param("parts", marks=pytest.mark.slow)])
async def test_a_file_store_holds_one_row_an_id_under_offset_paging(
    kind: str, tmp_path: Path
) -> None:
    outcome = await ingest_while_messages_arrive(kind, tmp_path)
    assert outcome.shifted == outcome.added
    assert outcome.repeated == 0
    assert sorted(outcome.ids) == sorted(outcome.truth)


async def a_file_store_holding_an_id_twice(tmp_path: Path) -> tuple[list[str], VerifyReport]:
    """A JSON lines file of 40 messages plus one of them committed again (what an offset
    walk's repeat crossing two commits stored before the streams passed repeats over):
    the ids the file holds, and verify()'s report."""
    url = STORES["jsonl"].format(tmp=tmp_path)
    async with FakePostpress(dataset=Dataset(seed=4, messages=40, chats=10)) as server:
        config = ClientConfig(base_url=server.url, api_key=server.api_key, limit=20)
        await ingest(config, "messages", url, shards=1)
        sink = open_sink(url)
        await sink.open()
        try:
            async with config.client() as client:
                first = await client.messages.rows(columns=sink.columns, limit=1)
            await sink.commit(Batch("messages", first.items, [], []))
            ids = await sink.stored_ids("messages", after=None, before=None)
        finally:
            await sink.close()
        return ids, await verify(config, "messages", url)


async def test_verify_reports_a_file_store_that_holds_a_message_twice(tmp_path: Path) -> None:
    ids, report = await a_file_store_holding_an_id_twice(tmp_path)
    twice = [key for key, times in Counter(ids).items() if times > 1]
    assert len(twice) == 1 and len(ids) == len(set(ids)) + 1  # the state verify should see
    assert not report.ok
    assert (report.missing, report.extra, report.repeated) == (0, 0, 1)
    assert report.repeated_ids == twice
    assert report.stored == len(set(ids))
    assert f"0 missing, 0 extra, 1 stored twice (stored twice: {twice[0]})" in report.text()
