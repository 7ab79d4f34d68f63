"""What only the DuckDB sink does: its types, its file lock, duckdb imported only when chosen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from postpress_async import OutputLockedError
from postpress_async._exceptions import SinkFailedError
from postpress_async.ingest import SinkUnavailableError
from postpress_async.ingest.sinks import open_sink
from postpress_async.ingest.sinks._base import Batch, Reject
from postpress_async.ingest.sinks.duckdb import DuckDBSink

from ._sql import duckdb_or_skip
from .test_contract import message, move, page, refuses_an_item_not_utf8

duckdb = duckdb_or_skip()


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    db = duckdb.connect(str(path), read_only=True)
    try:
        found: list[tuple[object, ...]] = db.execute(sql).fetchall()
        return found
    finally:
        db.close()


async def test_the_schema_of_a_fresh_store(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    sink = DuckDBSink(path)
    await sink.open()
    await sink.close()
    columns = query(
        path,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'messages' ORDER BY ordinal_position",
    )
    assert columns == [
        ("id", "VARCHAR"),
        ("account_id", "VARCHAR"),
        ("chat_id", "VARCHAR"),
        ("sender_id", "VARCHAR"),
        ("timestamp", "TIMESTAMP WITH TIME ZONE"),
        ("text", "VARCHAR"),
        ("is_sender", "BIGINT"),
        ("data", "VARCHAR"),
    ]
    assert query(path, "SELECT key, value FROM meta") == [("schema", "3")]
    indexes = {name for (name,) in query(path, "SELECT index_name FROM duckdb_indexes()")}
    assert indexes == {"messages_account_time", "messages_chat_time", "messages_time"}


@pytest.mark.slow
def test_a_file_another_process_holds_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; db = duckdb.connect({str(path)!r}); print('open', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"open\n"
        with pytest.raises(OutputLockedError) as caught:
            anyio.run(DuckDBSink(path).open)
        assert caught.value.path == f"duckdb:///{path}"
        # The holder may be an analyst's session, not an export: DuckDB names it, so do we.
        assert f"(PID {holder.pid})" in str(caught.value)
        assert "being written by another export" not in str(caught.value)
    finally:
        holder.communicate(b"", timeout=60)
    sink = DuckDBSink(path)  # the holder is gone: the file is free
    anyio.run(sink.open)
    anyio.run(sink.close)


@pytest.mark.slow
def test_duckdb_is_imported_only_when_a_duckdb_sink_opens(tmp_path: Path) -> None:
    code = (
        "import sys, anyio\n"
        "from postpress_async.ingest.sinks import open_sink\n"
        f"sink = open_sink('duckdb:///{tmp_path}/m.duckdb')\n"
        "assert 'duckdb' not in sys.modules, 'imported by open_sink'\n"
        "anyio.run(sink.open)\n"
        "assert 'duckdb' in sys.modules\n"
        "anyio.run(sink.close)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


async def test_without_duckdb_the_sink_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb -> ImportError
    with pytest.raises(SinkUnavailableError, match=r"pip install 'postpress-async\[duckdb\]'"):
        await open_sink(f"duckdb:///{tmp_path}/m.duckdb").open()


#: A store of schema 2 (the previous release): its rejects had no digest.
SCHEMA_2 = [
    "DROP TABLE rejects",
    "CREATE TABLE rejects (endpoint VARCHAR NOT NULL, raw BLOB NOT NULL, reason VARCHAR NOT NULL, "
    '"at" TIMESTAMPTZ NOT NULL)',
    "INSERT INTO rejects VALUES ('messages', 'null'::BLOB, 'first', '2025-01-01 00:00:00+00')",
    "INSERT INTO rejects VALUES ('messages', 'null'::BLOB, 'again', '2025-01-02 00:00:00+00')",
    "INSERT INTO rejects VALUES ('messages', '\"oops\"'::BLOB, 'other', '2025-01-03 00:00:00+00')",
    "UPDATE meta SET value = '2' WHERE key = 'schema'",
]


async def test_a_store_of_schema_2_is_upgraded_in_place_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "two.duckdb"
    sink = DuckDBSink(path)
    await sink.open()
    rows = page(sink, "messages", message("m1", 1))
    await sink.commit(Batch("messages", list(rows.items), [], [move("s0", None, 1)]))
    await sink.close()
    db = duckdb.connect(str(path))
    for statement in SCHEMA_2:
        db.execute(statement)
    db.close()
    again = DuckDBSink(path)
    await again.open()  # upgraded: its rows and rejects stay, each reject once
    assert await again.count("messages") == 1
    assert await again.rejects("messages") == 2
    await again.commit(Batch("messages", [], [Reject(b"null", "listed again")], [move("s0", 1, 2)]))
    assert await again.rejects("messages") == 2
    await again.close()
    assert query(path, "SELECT value FROM meta WHERE key = 'schema'") == [("3",)]
    assert query(path, "SELECT reason FROM rejects ORDER BY reason") == [("first",), ("other",)]
    # Each reject keeps its instant ("at" read as text: DuckDB 1.1 needs pytz for it).
    assert query(
        path,
        "SELECT strftime(\"at\" AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') FROM rejects ORDER BY reason",
    ) == [("2025-01-01 00:00:00",), ("2025-01-03 00:00:00",)]


async def test_other_tables_or_another_schema_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.duckdb"
    db = duckdb.connect(str(foreign))
    db.execute("CREATE TABLE chats (id INTEGER)")
    db.close()
    with pytest.raises(
        SinkUnavailableError, match=r"holds tables \(chats\) but no postpress store"
    ):
        await DuckDBSink(foreign).open()
    newer = tmp_path / "newer.duckdb"
    db = duckdb.connect(str(newer))
    db.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema', '4')")
    db.close()
    with pytest.raises(SinkUnavailableError, match="holds a store of schema '4'"):
        await DuckDBSink(newer).open()
    with pytest.raises(SinkUnavailableError, match="holds a store of schema '4'"):
        await DuckDBSink(newer).open()  # not OutputLockedError: the refused writer let go
    theirs = tmp_path / "theirs.duckdb"  # an analyst's own table meta, no schema row
    db = duckdb.connect(str(theirs))
    db.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    db.close()
    with pytest.raises(SinkUnavailableError, match=r"holds a table `meta` but no postpress"):
        await DuckDBSink(theirs).open()


async def test_a_sqlite_file_is_refused_with_its_url_never_handed_to_duckdb(
    tmp_path: Path,
) -> None:
    # DuckDB opens a SQLite file through an extension it downloads at that moment: the
    # export failed on a download (offline) or wrote its tables into the SQLite file.
    import sqlite3

    path = tmp_path / "m.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (a)")
    db.commit()
    db.close()
    before = path.read_bytes()
    sink = DuckDBSink(path)
    with pytest.raises(SinkUnavailableError, match=r"is a SQLite database.*sqlite:///"):
        await sink.open()
    await sink.close()
    assert path.read_bytes() == before
    again = DuckDBSink(path)  # not OutputLockedError: the refused writer let go
    with pytest.raises(SinkUnavailableError, match="is a SQLite database"):
        await again.open()


async def test_a_failed_write_is_one_line(tmp_path: Path) -> None:
    sink = DuckDBSink(tmp_path / "m.duckdb")
    await sink.open()
    assert sink._db is not None
    sink._db.close()  # the connection is gone under the sink
    rows = page(sink, "messages", message("m1", 1))
    with pytest.raises(
        SinkFailedError, match=r"m\.duckdb: DuckDB failed \(.*closed.*\): fix the cause"
    ):
        await sink.commit(Batch("messages", list(rows.items), [], [move("s0", None, 1)]))
    await sink.close()
    again = DuckDBSink(tmp_path / "m.duckdb")
    await again.open()
    assert await again.count("messages") == 0
    await again.close()


async def test_an_item_that_is_not_utf8_fails_with_a_typed_error_naming_it(
    tmp_path: Path,
) -> None:
    # VARCHAR holds UTF-8 only: bytes outside the columns the sink reads that are not
    # UTF-8 cannot be stored as sent. A SinkFailedError naming the item, nothing stored.
    await refuses_an_item_not_utf8(DuckDBSink(tmp_path / "m.duckdb"), b"\xff\xfe")
