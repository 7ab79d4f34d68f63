"""What only the SQLite sink does: its schema, its lock file, its errors in one line."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from postpress_async import OutputLockedError
from postpress_async._exceptions import SinkFailedError
from postpress_async._filelock import lock_output
from postpress_async.ingest import SinkUnavailableError
from postpress_async.ingest.sinks import open_sink
from postpress_async.ingest.sinks import sqlite as sqlite_module
from postpress_async.ingest.sinks._base import Batch, Move, Reject, Stored
from postpress_async.ingest.sinks.files import JsonLinesSink
from postpress_async.ingest.sinks.sqlite import SQLiteSink, _explain, most_rows, statement_sizes

from .test_contract import message, move, page, position


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def wal_size(path: Path) -> int:
    return os.path.getsize(f"{path}-wal")


def big_batch(sink: SQLiteSink, count: int, moved: Move, *, start: int = 0) -> Batch:
    items = [message(f"m{k}", k, "x" * 2000) for k in range(start, start + count)]
    rows = page(sink, "messages", *items)
    return Batch("messages", list(rows.items), [], [moved])


async def test_the_schema_of_a_fresh_store(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    sink = SQLiteSink(path)
    await sink.open()
    await sink.close()
    tables = {
        name for (name,) in query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert tables == {"accounts", "chats", "messages", "positions", "plans", "rejects", "meta"}
    indexes = query(
        path,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL",
    )
    assert {name for (name,) in indexes} == {
        "messages_account_time",
        "messages_chat_time",
        "messages_time",
    }
    assert query(path, "SELECT key, value FROM meta") == [("schema", "3")]
    assert query(path, "PRAGMA journal_mode") == [("wal",)]
    columns = query(path, "SELECT name, type FROM pragma_table_info('messages')")
    assert columns == [
        ("id", "TEXT"),
        ("account_id", "TEXT"),
        ("chat_id", "TEXT"),
        ("sender_id", "TEXT"),
        ("timestamp", "TEXT"),
        ("text", "TEXT"),
        ("is_sender", "INTEGER"),
        ("data", "TEXT"),
    ]


async def test_times_are_stored_as_the_apis_utc_text(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "m.db")
    await sink.open()
    items = [
        b'{"id":"z","timestamp":"2025-03-01T12:00:00.123Z"}',
        b'{"id":"offset","timestamp":"2025-03-01T14:00:00.007+02:00"}',
        b'{"id":"early","timestamp":"1969-12-31T23:59:59.999Z"}',
        b'{"id":"none","timestamp":null}',
    ]
    await sink.commit(Batch("messages", list(page(sink, "messages", *items).items), [], []))
    await sink.close()
    stored = {
        row[0]: row[1] for row in query(tmp_path / "m.db", "SELECT id, timestamp FROM messages")
    }
    assert stored == {
        "z": "2025-03-01T12:00:00.123Z",
        "offset": "2025-03-01T12:00:00.007Z",
        "early": "1969-12-31T23:59:59.999Z",
        "none": None,
    }
    assert query(tmp_path / "m.db", "SELECT typeof(data) FROM messages LIMIT 1") == [("text",)]


@pytest.mark.parametrize("rows", [0, 1, 15, 16, 250, 1023, 1024, 1025, 4003, 10_000])
@pytest.mark.parametrize("most", [1024, 128, 1])
def test_statement_sizes_cover_every_row_once(rows: int, most: int) -> None:
    sizes = statement_sizes(rows, most)
    assert sum(sizes) == rows
    assert sizes == sorted(sizes, reverse=True)  # the big statements first
    assert all(size <= max(most, 1) and size & (size - 1) == 0 for size in sizes)
    assert sizes.count(1) < 16 or most < 16  # fewer than 16 rows go to executemany


async def test_a_batch_of_many_statements_stores_each_row_once_the_last_one_winning(
    tmp_path: Path,
) -> None:
    # 1,100 rows: a 1,024-row statement, then 64 and 8 + 4 rows to executemany; the id
    # repeated inside the big statement and across statements keeps its last text.
    sink = SQLiteSink(tmp_path / "m.db")
    await sink.open()
    items = [message(f"m{k}", k, f"first {k}") for k in range(1_096)]
    items[500] = message("m3", 3, "second 3")  # within the same statement as m3
    items += [message("m7", 7, "last 7"), *(message(f"n{k}", k) for k in range(3))]
    items[1_050] = message("m10", 10, "later 10")  # a later statement
    rows = list(page(sink, "messages", *items).items)
    assert len(rows) == 1_100
    await sink.commit(Batch("messages", rows, [], [move("all", None, 1, items=1_100)]))
    await sink.close()
    stored = dict(query(tmp_path / "m.db", "SELECT id, text FROM messages"))
    expected = {f"m{k}": f"first {k}" for k in range(1_096) if k not in (500, 1_050)}
    expected |= {"m3": "second 3", "m7": "last 7", "m10": "later 10"}
    expected |= {f"n{k}": "hello" for k in range(3)}
    assert stored == expected
    data = dict(query(tmp_path / "m.db", "SELECT id, data FROM messages WHERE id = 'm7'"))
    assert data["m7"].encode() == items[1_096]


def test_a_statement_binds_no_more_variables_than_sqlite_allows() -> None:
    db = sqlite3.connect(":memory:")
    try:
        if not hasattr(db, "setlimit"):  # Python 3.10: the conservative 999
            assert most_rows(db, "messages") == 64
            return
        assert most_rows(db, "messages") == 1024  # 8 variables a row
        variables = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER  # type: ignore[attr-defined]  # 3.11+
        db.setlimit(variables, 999)
        assert most_rows(db, "messages") == 64  # 512 * 8 > 999
        db.setlimit(variables, 7)
        assert most_rows(db, "messages") == 1
    finally:
        db.close()


@pytest.mark.parametrize("writer", [True, False])
async def test_every_connection_caches_16_mib_and_checkpoints_every_10000_pages(
    tmp_path: Path, writer: bool
) -> None:
    """The bulk-load settings are per connection: the writer's and a reader's."""
    first = SQLiteSink(tmp_path / "m.db")
    await first.open()  # creates the store
    await first.close()
    sink = SQLiteSink(tmp_path / "m.db")
    await sink.open(writer=writer)
    assert sink._db is not None
    assert sink._db.execute("PRAGMA cache_size").fetchone() == (-16 * 1024,)
    assert sink._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (10_000,)
    assert sink._db.execute("PRAGMA journal_size_limit").fetchone() == (64 * 1024 * 1024,)
    await sink.close()


async def test_a_wal_grown_while_a_reader_held_it_shrinks_after_the_next_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An analyst's open read holds the checkpoints back and the WAL grows; before, the
    file then kept its largest size for the rest of a follow (days). Scaled down: a
    checkpoint every 10 pages, a limit of 64 KiB."""
    monkeypatch.setattr(sqlite_module, "_WAL_CHECKPOINT_PAGES", 10)
    monkeypatch.setattr(sqlite_module, "_WAL_LIMIT_BYTES", 64 * 1024)
    path = tmp_path / "m.db"
    sink = SQLiteSink(path)
    await sink.open()
    analyst = sqlite3.connect(path, isolation_level=None)
    analyst.execute("BEGIN")
    analyst.execute("SELECT count(*) FROM messages").fetchone()  # holds its snapshot
    for k in range(4):
        await sink.commit(big_batch(sink, 300, move("s0", k or None, k + 1), start=300 * k))
    grown = wal_size(path)
    analyst.execute("COMMIT")
    analyst.close()
    for k in range(4, 6):  # the checkpoint after the read
        await sink.commit(big_batch(sink, 300, move("s0", k, k + 1), start=300 * k))
    assert wal_size(path) < grown / 2
    await sink.close()


async def test_the_writer_holds_a_lock_file_beside_the_database(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    sink = SQLiteSink(path)
    await sink.open()
    with pytest.raises(OutputLockedError) as caught:
        await SQLiteSink(path).open()
    assert str(caught.value).startswith(f"sqlite:///{path} is being written by another export")
    with pytest.raises(OutputLockedError):
        lock_output(tmp_path / "m.db.lock")  # another process would find it held too
    await sink.close()
    lock_output(tmp_path / "m.db.lock").release()


async def test_readers_of_one_machine_commit_beside_the_writer(tmp_path: Path) -> None:
    """Dask workers open with writer=False and commit their own shards in turn."""
    writer, reader = SQLiteSink(tmp_path / "m.db"), SQLiteSink(tmp_path / "m.db")
    await writer.open()
    await reader.open(writer=False)

    async def shard(sink: SQLiteSink, name: str) -> None:
        for k in range(5):
            rows = page(sink, "messages", message(f"{name}-{k}", k))
            await sink.commit(
                Batch("messages", list(rows.items), [], [move(name, None if k == 0 else k, k + 1)])
            )

    async with anyio.create_task_group() as group:
        group.start_soon(shard, writer, "s0")
        group.start_soon(shard, reader, "s1")
    assert await reader.count("messages") == 10
    assert await writer.positions("messages") == {
        "s0": Stored(position(5), 5, 5),
        "s1": Stored(position(5), 5, 5),
    }
    await reader.close()
    await writer.close()


async def test_openers_of_a_new_file_at_the_same_moment_all_open_it(tmp_path: Path) -> None:
    """Switching a new file to WAL, SQLite refuses one of two connections at once ("database
    is locked", without waiting out the busy timeout) rather than deadlock: an export and a
    reader (``verify``, a Dask worker) starting together failed about once in twenty."""
    failed: list[str] = []

    async def opener(path: Path) -> None:
        sink = SQLiteSink(path)
        try:
            await sink.open(writer=False)
        except SinkUnavailableError as exc:
            failed.append(str(exc))
        finally:
            await sink.close()

    for k in range(60):
        async with anyio.create_task_group() as group:
            (tmp_path / f"m{k}.db").touch()  # a reader opens a file that exists
            for _ in range(3):
                group.start_soon(opener, tmp_path / f"m{k}.db")
    assert failed == []
    assert query(tmp_path / "m59.db", "PRAGMA journal_mode") == [("wal",)]


# -- errors --------------------------------------------------------------------------------


async def test_a_full_disk_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "m.db")
    await sink.open()
    await sink.commit(big_batch(sink, 1, move("s0", None, 1)))
    assert sink._db is not None
    pages = sink._db.execute("PRAGMA page_count").fetchone()[0]
    sink._db.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk fills up
    with pytest.raises(SinkFailedError) as caught:
        await sink.commit(big_batch(sink, 200, move("s0", 1, 2), start=1))
    assert str(caught.value) == (
        f"sqlite:///{tmp_path / 'm.db'}: the disk is full (database or disk is full): free some "
        "space, then run the same command again"
    )
    assert await sink.count("messages") == 1
    assert await sink.positions("messages") == {"s0": Stored(position(1), 1, 1)}
    sink._db.execute("PRAGMA max_page_count = 1073741823")  # space freed: the same batch goes in
    await sink.commit(big_batch(sink, 200, move("s0", 1, 2), start=1))
    assert await sink.count("messages") == 201
    await sink.close()


async def test_a_read_only_database_is_one_line(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "m.db")
    await sink.open()
    assert sink._db is not None
    sink._db.execute("PRAGMA query_only = ON")  # as a read-only file or mount answers
    with pytest.raises(
        SinkFailedError,
        match=r"m\.db: the database is read-only \(attempt to write a readonly database\): make the file and its directory writable, then run the same command again",
    ):
        await sink.commit(big_batch(sink, 3, move("s0", None, 1)))
    sink._db.execute("PRAGMA query_only = OFF")
    assert await sink.count("messages") == 0
    await sink.close()


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` read-only: chmod for a user, the immutable attribute for root (who ignores modes)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode
    ):
        pytest.skip("no way to make a file read-only for root here (chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


async def test_a_read_only_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    sink = SQLiteSink(path)
    await sink.open()
    await sink.close()
    with read_only(path):
        sink = SQLiteSink(path)
        await sink.open()  # reading is fine
        assert await sink.count("messages") == 0
        with pytest.raises(SinkFailedError, match=r"m\.db: the database is read-only"):
            await sink.commit(big_batch(sink, 3, move("s0", None, 1)))
        await sink.close()


async def test_a_database_locked_past_the_busy_timeout_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    sink = SQLiteSink(path, busy_timeout=0.05)
    await sink.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writes and does not let go
        with pytest.raises(
            SinkFailedError,
            match=r"another process kept the database locked past the busy timeout \(database is locked\): let it finish",
        ):
            await sink.commit(big_batch(sink, 3, move("s0", None, 1)))
        other.execute("ROLLBACK")
    finally:
        other.close()
    await sink.commit(big_batch(sink, 3, move("s0", None, 1)))  # the lock is free: it goes in
    assert await sink.count("messages") == 3
    await sink.close()


@pytest.mark.parametrize(
    ("code", "said", "expected"),
    [
        (
            13,
            "database or disk is full",
            "the disk is full (database or disk is full): free some space",
        ),
        (
            10 | (4 << 8),
            "disk I/O error",
            "a disk I/O error (disk I/O error): check the disk and its file system",
        ),
        (5, "database is locked", "another process kept the database locked past the busy timeout"),
        (8, "attempt to write a readonly database", "the database is read-only"),
        (11, "database disk image is malformed", "the file is damaged"),
        (1, "something else", "SQLite failed (something else): fix the cause"),
    ],
)
def test_sqlite_errors_in_words(code: int, said: str, expected: str) -> None:
    error = sqlite3.OperationalError(said)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    text = _explain("sqlite:///m.db", error)
    assert text.startswith(f"sqlite:///m.db: {expected}")
    assert text.endswith(", then run the same command again")


async def test_a_store_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SinkUnavailableError, match=r"the directory .*nowhere does not exist"):
        await SQLiteSink(tmp_path / "nowhere" / "m.db").open()
    (tmp_path / "junk.db").write_bytes(b"this is not a database, only text" * 100)
    with pytest.raises(
        SinkUnavailableError, match=r"junk\.db: cannot open \(file is not a database\)"
    ):
        await SQLiteSink(tmp_path / "junk.db").open()


async def test_a_directory_is_refused_before_a_lock_file_is_made_beside_it(
    tmp_path: Path,
) -> None:
    """``sqlite:///adir`` naming a directory leaves no stray ``adir.lock`` behind."""
    (tmp_path / "adir").mkdir()
    with pytest.raises(SinkUnavailableError, match=r"adir is a directory: give a database file"):
        await SQLiteSink(tmp_path / "adir").open()
    assert os.listdir(tmp_path) == ["adir"]


OLD_SCHEMA = """
CREATE TABLE accounts (id TEXT PRIMARY KEY, type TEXT, name TEXT, created_at TEXT, data TEXT NOT NULL);
CREATE TABLE chats (id TEXT PRIMARY KEY, account_id TEXT, account_type TEXT, name TEXT,
    timestamp TEXT, unread_count INTEGER, data TEXT NOT NULL);
CREATE TABLE messages (id TEXT PRIMARY KEY, account_id TEXT, chat_id TEXT, sender_id TEXT,
    timestamp TEXT, text TEXT, is_sender INTEGER, data TEXT NOT NULL);
CREATE TABLE checkpoints (endpoint TEXT NOT NULL, shard TEXT NOT NULL, checkpoint TEXT NOT NULL,
    items INTEGER NOT NULL DEFAULT 0, pages INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (endpoint, shard));
CREATE TABLE plans (endpoint TEXT PRIMARY KEY, plan TEXT NOT NULL);
CREATE INDEX messages_account_time ON messages (account_id, timestamp);
CREATE INDEX messages_chat_time ON messages (chat_id, timestamp);
INSERT INTO messages VALUES ('old1', 'a', 'c', 's', '2024-01-01T00:00:00.000Z', 'hi', 0, '{"id":"old1"}');
INSERT INTO checkpoints VALUES ('messages', 's0', '{"cursor":"x"}', 1, 1);
"""


async def test_a_store_of_the_previous_release_is_refused_with_its_migration(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.close()
    with pytest.raises(SinkUnavailableError) as caught:
        await SQLiteSink(path).open()
    text = str(caught.value)
    assert text.startswith(f"sqlite:///{path} holds an export of an earlier release")
    assert f'run: sqlite3 {path} "' in text and text.endswith('"; or export to a new file')
    migration = text.split(f'sqlite3 {path} "', 1)[1].split('"; or export', 1)[0]
    db = sqlite3.connect(path)
    db.executescript(migration)  # what the message says to run
    db.close()
    sink = SQLiteSink(path)
    await sink.open()
    assert await sink.count("messages") == 1  # its rows stayed
    assert await sink.positions("messages") == {}  # and the export starts again
    await sink.commit(
        Batch(
            "messages",
            list(page(sink, "messages", message("m1", 1)).items),
            [],
            [move("s0", None, 1)],
        )
    )
    await sink.close()
    indexes = {
        name
        for (name,) in query(
            path, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }
    assert "messages_time" in indexes


#: A store of schema 2 (the previous release): its rejects had no digest.
SCHEMA_2 = """
DROP TABLE rejects;
CREATE TABLE rejects (endpoint TEXT NOT NULL, raw BLOB NOT NULL, reason TEXT NOT NULL,
    "at" TEXT NOT NULL);
INSERT INTO rejects VALUES ('messages', CAST('null' AS BLOB), 'first', '2025-01-01T00:00:00.000Z');
INSERT INTO rejects VALUES ('messages', CAST('null' AS BLOB), 'again', '2025-01-02T00:00:00.000Z');
INSERT INTO rejects VALUES ('chats', CAST('null' AS BLOB), 'chat', '2025-01-02T00:00:00.000Z');
INSERT INTO rejects VALUES ('messages', CAST('"oops"' AS BLOB), 'other', '2025-01-03T00:00:00.000Z');
UPDATE meta SET value = '2' WHERE key = 'schema';
"""


async def test_a_store_of_schema_2_is_upgraded_in_place_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    sink = SQLiteSink(path)
    await sink.open()
    await sink.commit(batch_of_one(sink))
    await sink.close()
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_2)
    db.close()
    again = SQLiteSink(path)
    await again.open()  # upgraded: its rows, positions and rejects stay, each reject once
    assert await again.count("messages") == 1
    assert await again.positions("messages") == {"s0": Stored(position(1), 1, 1)}
    assert (await again.rejects("messages"), await again.rejects("chats")) == (2, 1)
    await again.commit(Batch("messages", [], [Reject(b"null", "listed again")], [move("s0", 1, 2)]))
    assert await again.rejects("messages") == 2
    await again.close()
    assert query(path, "SELECT value FROM meta WHERE key = 'schema'") == [("3",)]
    assert query(
        path, "SELECT reason FROM rejects WHERE raw = CAST('null' AS BLOB) ORDER BY reason"
    ) == [
        ("chat",),
        ("first",),
    ]


def batch_of_one(sink: SQLiteSink) -> Batch:
    return Batch(
        "messages", list(page(sink, "messages", message("m1", 1)).items), [], [move("s0", None, 1)]
    )


async def test_other_tables_or_another_schema_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE messages (id INTEGER, body BLOB)")
    db.close()
    with pytest.raises(
        SinkUnavailableError, match=r"holds tables \(messages\) but no postpress store"
    ):
        await SQLiteSink(foreign).open()
    newer = tmp_path / "newer.db"
    db = sqlite3.connect(newer)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema', '4')")
    db.commit()
    db.close()
    with pytest.raises(
        SinkUnavailableError, match="holds a store of schema '4', this release reads schema 3"
    ):
        await SQLiteSink(newer).open()
    # A refused store was not taken: its lock is free again.
    lock_output(tmp_path / "newer.db.lock").release()


async def test_a_refused_file_is_left_in_its_journal_mode(tmp_path: Path) -> None:
    """Before: the WAL switch (a change written into the file) came before the check,
    so another tool's database was altered even when refused."""
    foreign = tmp_path / "foreign.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE messages (id INTEGER, body BLOB)")
    db.commit()
    db.close()
    with pytest.raises(SinkUnavailableError, match="no postpress store"):
        await SQLiteSink(foreign).open()
    assert query(foreign, "PRAGMA journal_mode") == [("delete",)]
    assert not (tmp_path / "foreign.db-wal").exists()


async def test_a_cancelled_commit_finishes_before_the_cancellation_lands(tmp_path: Path) -> None:
    """The transaction runs in a worker thread that is never abandoned: all or nothing."""
    path = tmp_path / "m.db"
    sink = SQLiteSink(path)
    await sink.open()
    batch = big_batch(sink, 5000, move("s0", None, 1, items=5000))

    def writing() -> bool:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True  # the sink's transaction holds the write lock
        finally:
            other.close()
        return False

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(sink.commit, batch)
            while not await anyio.to_thread.run_sync(writing):  # a checkpoint each time
                continue
            scope.cancel()
    assert scope.cancelled_caught
    # Read behind the sink's back, at once: the transaction had finished.
    assert query(path, "SELECT count(*) FROM messages") == [(5000,)]
    assert query(path, "SELECT items FROM positions") == [(5000,)]
    await sink.close()


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        (
            "m.db",
            "write sqlite:///m.db (an absolute path takes four slashes: sqlite:////abs/path.db)",
        ),
        ("out/x.sqlite", "write sqlite:///out/x.sqlite"),
        ("/srv/x.SQLITE3", "write sqlite:////srv/x.SQLITE3"),
        (
            "m.duckdb",
            "write duckdb:///m.duckdb (an absolute path takes four slashes: duckdb:////abs/path.duckdb)",
        ),
    ],
)
def test_a_database_path_is_refused_with_its_url(given: str, hint: str) -> None:
    with pytest.raises(SinkUnavailableError) as caught:
        open_sink(given)
    assert hint in str(caught.value)
    assert f"file://{given} for a JSON lines file" in str(caught.value)


def test_database_urls(tmp_path: Path) -> None:
    relative = open_sink("sqlite:///m.db")
    assert isinstance(relative, SQLiteSink) and relative.path == Path("m.db")
    absolute = open_sink(f"sqlite:///{tmp_path}/m.db")
    assert isinstance(absolute, SQLiteSink) and absolute.path == tmp_path / "m.db"
    assert absolute.url == f"sqlite:///{tmp_path}/m.db"
    assert isinstance(open_sink("file://m.db"), JsonLinesSink)
    with pytest.raises(SinkUnavailableError, match="three slashes"):
        open_sink("sqlite://m.db")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite:///:memory:", "an in-memory or URI database"),
        ("sqlite:///file:m.db?mode=memory", "an in-memory or URI database"),
        ("sqlite:///m.db?mode=ro", "query parameters are not supported"),
        ("sqlite:////srv/m.db?cache=shared", "query parameters are not supported"),
    ],
)
def test_a_url_that_names_no_database_file_is_refused_by_name(url: str, problem: str) -> None:
    """Before: ``:memory:`` exported into memory (lost at close, the cron started over);
    ``?mode=ro`` made a file named ``m.db?mode=ro``."""
    with pytest.raises(SinkUnavailableError, match=re.escape(problem)) as caught:
        open_sink(url)
    assert str(caught.value).startswith(f"{url}: ")


async def test_a_reader_of_a_file_that_does_not_exist_is_refused_and_creates_nothing(
    tmp_path: Path,
) -> None:
    """Before: ``verify(config, "messages", "sqlite:///typo.db")`` created an empty store
    there and reported every item missing (the CLI alone checked the path)."""
    sink = SQLiteSink(tmp_path / "typo.db")
    with pytest.raises(SinkUnavailableError, match=r"no store there \(.*typo.db does not exist\)"):
        await sink.open(writer=False)
    assert os.listdir(tmp_path) == []
