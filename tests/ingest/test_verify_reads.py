"""verify() reads the API as the store was written: an id a store keeps by the NUL rule
(PostgreSQL: U+FFFD for U+0000) is found there, and an item the store set aside as a
reject (a typed column of the wrong type) is unreadable, not missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from postpress_async.ingest import VerifyReport, ingest, verify
from postpress_async.ingest.sinks._base import Batch

from ._feed import Feed, FeedConfig, message
from ._memory import MemorySink

URL = "https://nul.test"
T0 = 1_800_000_000_000


class ReplacingSink(MemorySink):
    """A sink with PostgreSQL's NUL rule: typed texts (the id too) hold U+FFFD for U+0000."""

    async def commit(self, batch: Batch) -> int:
        rows = [
            tuple(v.replace("\x00", "\ufffd") if isinstance(v, str) else v for v in row)
            for row in batch.rows
        ]
        return await super().commit(batch._replace(rows=rows))


@pytest.fixture
def feed() -> Iterator[Feed]:
    made = FeedConfig.feeds[URL] = Feed()
    made.add(T0 - 2, message("plain", T0 - 2))
    made.add(T0 - 1, message("nul\x00id", T0 - 1))
    made.add(T0, message("newest", T0))
    yield made
    del FeedConfig.feeds[URL]


async def test_an_id_with_a_nul_held_as_u_fffd_verifies_ok(feed: Feed) -> None:
    config = FeedConfig(base_url=URL, api_key="k", limit=100)
    sink = ReplacingSink()
    result = await ingest(config, "messages", sink, shards=1)
    assert result.items == 3
    assert sorted(sink.store.ids("messages")) == ["newest", "nul\ufffdid", "plain"]
    report = await verify(config, "messages", ReplacingSink(sink.store))
    assert (report.missing, report.extra) == (0, 0), report.text()
    assert report.compared == 3
    # A store that keeps the NUL (SQLite, files) verifies the same.
    kept = MemorySink()
    await ingest(config, "messages", kept, shards=1)
    assert (await verify(config, "messages", MemorySink(kept.store))).ok


@pytest.mark.slow
async def test_postgresql_holds_a_nul_id_that_verify_finds(feed: Feed, pg_url: str) -> None:
    from postpress_async.ingest import open_sink

    config = FeedConfig(base_url=URL, api_key="k", limit=100)
    result = await ingest(config, "messages", open_sink(pg_url), shards=1)
    assert result.items == 3
    report = await verify(config, "messages", open_sink(pg_url))
    assert (report.missing, report.extra, report.compared) == (0, 0, 3), report.text()


async def test_an_item_the_store_set_aside_for_a_typed_column_is_not_missing(
    feed: Feed, tmp_path: Path
) -> None:
    # sender_id a number: SQLite (which stores a sender_id column) sets the item aside,
    # and verify, reading as the store read, counts it unreadable, not missing.
    bad = message("bad_sender", T0 - 1).replace(b'"sender_id":"s"', b'"sender_id":5')
    assert bad != message("bad_sender", T0 - 1)
    feed.add(T0 - 1, bad)  # inside the span the store holds
    config = FeedConfig(base_url=URL, api_key="k", limit=100)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    result = await ingest(config, "messages", url, shards=1)
    assert (result.items, result.rejects) == (3, 1)
    report = await verify(config, "messages", url)
    assert (report.missing, report.extra, report.unreadable) == (0, 0, 1), report.text()
    assert report.ok


def _report(**fields: Any) -> VerifyReport:
    """A report of one window compared, with ``fields`` as given."""
    values: dict[str, Any] = {
        "endpoint": "messages",
        "url": "memory://m",
        "missing": 0,
        "extra": 0,
        "missing_ids": [],
        "extra_ids": [],
        "windows": 1,
        "windows_total": 1,
        "compared": 1,
        "stored": 1,
        "unreadable": 0,
        "span": None,
        "sampled": False,
    }
    return VerifyReport(**(values | fields))


def test_a_report_s_line_shows_the_ids_control_characters_as_escapes() -> None:
    report = _report(
        missing=1, extra=1, missing_ids=["a\nforged line"], extra_ids=["b\x1b]52;c;evil\x07"]
    )
    line = report.text()
    assert "\n" not in line and "\x1b" not in line and "\x07" not in line
    assert "a\\nforged line" in line and "b\\x1b]52;c;evil\\x07" in line
    assert report.missing_ids == ["a\nforged line"]  # the values stay as they are


def test_one_unreadable_item_is_said_in_the_singular() -> None:
    assert "; 1 unreadable item not compared" in _report(unreadable=1).text()
    assert "; 2 unreadable items not compared" in _report(unreadable=2).text()
