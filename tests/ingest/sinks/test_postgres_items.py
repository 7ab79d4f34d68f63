"""Items PostgreSQL cannot hold as sent: what the sink says, and that nothing is stored.

Slow: each test gets a fresh database on the session's throwaway cluster (``pg_url``).
"""

from __future__ import annotations

import pytest

from postpress_async._exceptions import SinkFailedError, SinkUnavailableError
from postpress_async.ingest.sinks._base import Batch
from postpress_async.ingest.sinks.postgres import PostgresSink

from ._sql import asyncpg_or_skip
from .test_contract import message, move, page, refuses_an_item_not_utf8

slow = pytest.mark.slow


@slow
@pytest.mark.parametrize("copy", ["binary", "text"])
@pytest.mark.parametrize("bad_bytes", [b"\xff\xfe", b"\xfc", b"\xfe"])
async def test_an_item_that_is_not_utf8_fails_with_a_typed_error_naming_it(
    pg_url: str, copy: str, bad_bytes: bytes
) -> None:
    # json holds UTF-8 only: bytes outside the typed columns that are not UTF-8 cannot be
    # stored as sent. A SinkFailedError naming the item, nothing stored (COPY text once
    # read 0xFE as NULL's stand-in and stored the item altered, or failed as a bad COPY).
    await refuses_an_item_not_utf8(PostgresSink(pg_url, copy=copy), bad_bytes)  # type: ignore[arg-type]


def test_the_check_names_the_first_item_that_is_not_utf8() -> None:
    """Pure, no driver: each item is an object, so one check of the joined bytes is exact."""
    from postpress_async.ingest.sinks._pg import not_utf8_data

    good = ("a", b'{"t":"\xc3\xa9"}')
    split = ("b", b'{"t":"\xc3"}')  # a character cut short ...
    rest = ("c", b'{"t":"\xa9"}')  # ... whose end is the next item's
    assert not_utf8_data("pg://db", [good, good]) is None
    error = not_utf8_data("pg://db", [good, split, rest])
    assert error is not None
    assert "'b' is not valid UTF-8" in str(error)


@slow
async def test_a_schema_with_a_table_meta_of_its_own_is_refused_as_not_a_store(
    pg_url: str,
) -> None:
    # An analyst's schema (options=-csearch_path=...) with a key/value table "meta": it
    # was told "a store of schema None: use a newer release".
    conn = await asyncpg_or_skip().connect(pg_url)
    try:
        await conn.execute("CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)")
    finally:
        await conn.close()
    sink = PostgresSink(pg_url)
    with pytest.raises(SinkUnavailableError, match=r"holds a table `meta` but no postpress"):
        await sink.open()
    await sink.close()


@slow
async def test_a_write_blocked_by_another_sessions_lock_says_so(pg_url: str) -> None:
    # A DBA's LOCK TABLE, VACUUM FULL or CREATE INDEX holds the table: each try runs past
    # command_timeout. The run ended "lost the connection and could not get one back",
    # sending the user to the network instead of pg_locks.
    sink = PostgresSink(pg_url, command_timeout=0.3, reconnect_deadline=0.5)
    await sink.open()
    dba = await asyncpg_or_skip().connect(pg_url)
    try:
        async with dba.transaction():
            await dba.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
            rows = page(sink, "messages", message("m1", 1))
            with pytest.raises(SinkFailedError) as caught:
                await sink.commit(Batch("messages", list(rows.items), [], [move("s0", None, 1)]))
        text = str(caught.value)
        assert "command_timeout" in text
        assert "lock" in text
        assert "lost the connection" not in text
    finally:
        await dba.close()
        await sink.close()


@slow
async def test_a_writer_without_the_privileges_it_needs_is_refused_when_opened(
    pg_url: str,
) -> None:
    # A hardened database (REVOKE TEMPORARY ... FROM PUBLIC), or a role granted SELECT
    # only, opened as the writer and failed at its first commit, after the plan's probes
    # and the first pages; a verify (a reader) needs none of it.
    owner = await asyncpg_or_skip().connect(pg_url)
    database = pg_url.rsplit("/", 1)[1]
    role = f"r_{database}"
    try:
        store = PostgresSink(pg_url)  # the store, created by its owner
        await store.open()
        await store.close()
        await owner.execute(f"CREATE ROLE {role} LOGIN")
        await owner.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        await owner.execute(f"REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC")
        url = pg_url.replace("://postgres@", f"://{role}@")
        sink = PostgresSink(url)
        with pytest.raises(SinkUnavailableError) as caught:
            await sink.open()
        await sink.close()
        text = str(caught.value)
        assert "no permission to write" in text
        assert "TEMPORARY on the database" in text
        assert "INSERT on messages" in text
        assert "SELECT on" not in text  # granted
        reader = PostgresSink(url)
        await reader.open(writer=False)
        assert await reader.count("messages") == 0
        await reader.close()
    finally:
        await owner.execute(f"DROP OWNED BY {role}")
        await owner.execute(f"DROP ROLE IF EXISTS {role}")
        await owner.close()


@slow
async def test_a_store_whose_meta_the_role_cannot_read_is_no_permission(pg_url: str) -> None:
    # information_schema lists only the tables a role holds a privilege on: a role not
    # granted meta was told the database "holds tables ... but no postpress store".
    owner = await asyncpg_or_skip().connect(pg_url)
    database = pg_url.rsplit("/", 1)[1]
    role = f"m_{database}"
    try:
        store = PostgresSink(pg_url)
        await store.open()
        await store.close()
        await owner.execute(f"CREATE ROLE {role} LOGIN")
        await owner.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, chats, messages, positions, "
            f"plans, rejects TO {role}"
        )
        sink = PostgresSink(pg_url.replace("://postgres@", f"://{role}@"))
        with pytest.raises(SinkUnavailableError) as caught:
            await sink.open(writer=False)
        await sink.close()
        assert "no permission" in str(caught.value)
        assert "meta" in str(caught.value)
        assert "no postpress store" not in str(caught.value)
    finally:
        await owner.execute(f"DROP OWNED BY {role}")
        await owner.execute(f"DROP ROLE IF EXISTS {role}")
        await owner.close()
