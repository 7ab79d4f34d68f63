"""What only the PostgreSQL sink does: a database that restarts, its lock, its old schema.

Slow: each test gets a fresh database on the session's throwaway cluster (``pg_url``);
the restart test starts a cluster of its own.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
import pytest

from postpress_async import OutputLockedError
from postpress_async._exceptions import SinkFailedError
from postpress_async.ingest import SinkUnavailableError
from postpress_async.ingest.sinks._base import Batch, Reject, Stored
from postpress_async.ingest.sinks.postgres import PostgresSink
from tests.helpers import asyncpg_or_skip

from .test_contract import message, move, page, position

slow = pytest.mark.slow


async def admin(url: str) -> Any:
    """A connection to the cluster's ``postgres`` database (that no test sink uses)."""
    parts = urlsplit(url)
    return await asyncpg_or_skip().connect(parts._replace(path="/postgres").geturl())


async def terminate_all(url: str) -> int:
    """Terminate every backend of the test's database: what a restart or a failover does."""
    conn = await admin(url)
    try:
        killed = await conn.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            urlsplit(url).path.lstrip("/"),
        )
        return int(killed)
    finally:
        await conn.close()


def numbered(sink: PostgresSink, k: int, size: int = 100) -> Batch:
    """Batch ``k`` of shard s0: ``size`` rows and one reject, from position k to k + 1."""
    items = [message(f"m{k}-{n}", k * size + n) for n in range(size)]
    rows = page(sink, "messages", *items)
    return Batch(
        "messages",
        list(rows.items),
        [Reject(b'{"bad":%d}' % k, "no id")],
        [move("s0", None if k == 0 else k, k + 1, items=size + 1)],
    )


async def assert_stored_once(sink: PostgresSink, batches: int, size: int = 100) -> None:
    """Every batch stored, none twice: rows, rejects and the position's running totals."""
    assert await sink.count("messages") == batches * size
    assert await sink.rejects("messages") == batches
    assert await sink.positions("messages") == {
        "s0": Stored(position(batches), batches * (size + 1), batches)
    }


async def wait_until_closed(conn: Any) -> None:
    """Until the client has heard of the end of ``conn``'s backend."""
    closed = anyio.Event()
    conn.add_termination_listener(lambda _conn: closed.set())
    if not conn.is_closed():
        with anyio.fail_after(30):
            await closed.wait()


# -- restarts ----------------------------------------------------------------------------


@slow
async def test_backends_terminated_while_idle(pg_url: str) -> None:
    sink = PostgresSink(pg_url)
    await sink.open()
    await sink.commit(numbered(sink, 0))
    old = (sink._conn, sink._lock_conn)
    assert await terminate_all(pg_url) == 2  # the working connection and the lock's
    await wait_until_closed(old[0])
    await wait_until_closed(old[1])
    await sink.commit(numbered(sink, 1))  # a new connection, the lock taken again
    assert sink._conn is not old[0] and sink._lock_conn is not old[1]
    await assert_stored_once(sink, 2)
    with pytest.raises(OutputLockedError):
        await PostgresSink(pg_url).open()  # the lock is held again
    await sink.close()


@slow
async def test_backends_terminated_again_and_again_mid_commit(pg_url: str) -> None:
    """Killed mid-COPY, mid-upsert, mid-COMMIT: each batch ends stored exactly once."""
    sink = PostgresSink(pg_url, reconnect_deadline=60)
    await sink.open()
    batches, killed = 40, 0
    done = anyio.Event()

    async def kill() -> None:
        nonlocal killed
        while not done.is_set():
            killed += await terminate_all(pg_url)
            await anyio.sleep(0.05)

    async with anyio.create_task_group() as group:
        group.start_soon(kill)
        for k in range(batches):
            await sink.commit(numbered(sink, k, size=300))
        done.set()
    assert killed > 0
    await assert_stored_once(sink, batches, size=300)
    await sink.close()


@slow
async def test_another_writer_that_took_the_lock_meanwhile_wins(pg_url: str) -> None:
    first = PostgresSink(pg_url)
    await first.open()
    await first.commit(numbered(first, 0))
    lock = first._lock_conn
    await terminate_all(pg_url)
    await wait_until_closed(lock)
    second = PostgresSink(pg_url)
    await second.open()  # the first writer's lock went with its backend
    with pytest.raises(OutputLockedError):
        await first.commit(numbered(first, 1))
    await second.commit(numbered(second, 1))
    await assert_stored_once(second, 2)
    await second.close()
    await first.close()


@asynccontextmanager
async def proxy(url: str) -> AsyncIterator[tuple[str, anyio.CancelScope]]:
    """``url`` through a TCP proxy; cancelling the scope cuts it and refuses new connections."""
    parts = urlsplit(url)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    scope = anyio.CancelScope()

    async def pump(source: anyio.abc.ByteStream, sink: anyio.abc.ByteStream) -> None:
        try:
            async for chunk in source:
                await sink.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            await sink.aclose()

    async def serve(client: anyio.abc.SocketStream) -> None:
        async with client, await anyio.connect_tcp(parts.hostname or "", parts.port or 5432) as up:
            async with anyio.create_task_group() as both:
                both.start_soon(pump, client, up)
                both.start_soon(pump, up, client)

    async def run() -> None:
        async with listener:  # closed when cut: new connections are refused
            with scope:
                await listener.serve(serve)

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        try:
            yield parts._replace(netloc=f"{parts.username}:secret@127.0.0.1:{port}").geturl(), scope
        finally:
            scope.cancel()


@slow
async def test_past_the_deadline_the_sink_fails_naming_the_database(pg_url: str) -> None:
    async with proxy(pg_url) as (through, cut):
        sink = PostgresSink(through, reconnect_deadline=0.5)
        await sink.open()
        await sink.commit(numbered(sink, 0))
        cut.cancel()  # the database is gone, and stays gone
        with pytest.raises(SinkFailedError) as caught:
            await sink.commit(numbered(sink, 1))
        await sink.close()
    message_ = str(caught.value)
    port = urlsplit(through).port
    assert message_.startswith(
        f"postgresql://postgres@127.0.0.1:{port}{urlsplit(pg_url).path}: lost the connection "
        "and could not get one back within 0.5 s ("
    )
    assert "what was committed stays" in message_
    assert "secret" not in message_ and "secret" not in sink.url and "secret" not in repr(sink)
    sink = PostgresSink(pg_url)  # nothing of batch 1 was stored
    await sink.open(writer=False)
    await assert_stored_once(sink, 1)
    await sink.close()


@slow
async def test_a_restarted_server(tmp_path: Path) -> None:
    from tests.ingest._servers import postgres_cluster

    asyncpg = asyncpg_or_skip()
    with postgres_cluster() as superuser:
        conn = await asyncpg.connect(f"{superuser}/postgres")
        data = await conn.fetchval("SHOW data_directory")
        await conn.execute("CREATE DATABASE restarted")
        await conn.close()
        sink = PostgresSink(f"{superuser}/restarted")
        await sink.open()
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        pg_ctl = _pg_ctl()
        log = str(Path(data).parent / "log")

        def restart() -> None:
            subprocess.run(
                [*prefix, pg_ctl, "-D", data, "-m", "fast", "-l", log, "-w", "restart"],
                check=True,
                capture_output=True,
                timeout=120,
            )

        for k in range(10):
            await sink.commit(numbered(sink, k))
        await anyio.to_thread.run_sync(restart)  # idle
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, restart)  # mid-commits
            for k in range(10, 60):
                await sink.commit(numbered(sink, k))
        await assert_stored_once(sink, 60)
        await sink.close()


def _pg_ctl() -> str:
    from tests.ingest._servers import _bin

    found = _bin("pg_ctl")
    assert found is not None
    return found


# -- what a store holds ------------------------------------------------------------------


@slow
async def test_the_schema_of_a_fresh_store(pg_url: str) -> None:
    sink = PostgresSink(pg_url)
    await sink.open()
    await sink.close()
    conn = await asyncpg_or_skip().connect(pg_url)
    try:
        columns = await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'messages' ORDER BY ordinal_position"
        )
        assert [tuple(c) for c in columns] == [
            ("id", "text"),
            ("account_id", "text"),
            ("chat_id", "text"),
            ("sender_id", "text"),
            ("timestamp", "timestamp with time zone"),
            ("text", "text"),
            ("is_sender", "bigint"),
            ("data", "json"),
        ]
        assert await conn.fetchval("SELECT value FROM meta WHERE key = 'schema'") == "3"
        indexes = await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'messages'")
        assert {name for (name,) in indexes} == {
            "messages_pkey",
            "messages_account_time",
            "messages_chat_time",
            "messages_time",
        }
    finally:
        await conn.close()


OLD_SCHEMA = [
    "CREATE TABLE accounts (id text PRIMARY KEY, type text, name text, created_at timestamptz, data jsonb NOT NULL)",
    "CREATE TABLE chats (id text PRIMARY KEY, account_id text, account_type text, name text, "
    "timestamp timestamptz, unread_count integer, data jsonb NOT NULL)",
    "CREATE TABLE messages (id text PRIMARY KEY, account_id text, chat_id text, sender_id text, "
    "timestamp timestamptz, text text, is_sender integer, data jsonb NOT NULL)",
    "CREATE TABLE checkpoints (endpoint text NOT NULL, shard text NOT NULL, checkpoint text NOT NULL, "
    "items bigint NOT NULL DEFAULT 0, pages bigint NOT NULL DEFAULT 0, PRIMARY KEY (endpoint, shard))",
    "CREATE TABLE plans (endpoint text PRIMARY KEY, plan text NOT NULL)",
    "INSERT INTO messages VALUES ('old1', 'a', 'c', 's', now(), 'hi', 0, '{\"id\": \"old1\"}')",
]


@slow
async def test_a_store_of_the_previous_release_is_refused_with_its_migration(pg_url: str) -> None:
    conn = await asyncpg_or_skip().connect(pg_url)
    try:
        for statement in OLD_SCHEMA:
            await conn.execute(statement)
        with pytest.raises(SinkUnavailableError) as caught:
            await PostgresSink(pg_url).open()
        text = str(caught.value)
        assert text.startswith(f"{pg_url} holds an export of an earlier release")
        assert "; or export to another database or schema" in text
        migration = text.split("run: ", 1)[1].split("; or export", 1)[0]
        assert migration.startswith("BEGIN; DROP TABLE checkpoints; ALTER TABLE accounts")
        await conn.execute(migration)  # what the message says to run
    finally:
        await conn.close()
    sink = PostgresSink(pg_url)
    await sink.open()
    assert await sink.count("messages") == 1  # its rows stayed
    await sink.commit(numbered(sink, 0))
    await assert_stored_once_plus(sink, old=1)
    await sink.close()


#: A store of schema 2 (the previous release): its rejects had no digest.
SCHEMA_2 = [
    "DROP TABLE rejects",
    "CREATE TABLE rejects (endpoint text NOT NULL, raw bytea NOT NULL, reason text NOT NULL, "
    "at timestamptz NOT NULL)",
    "INSERT INTO rejects VALUES ('messages', 'null'::bytea, 'first', '2025-01-01 00:00:00+00')",
    "INSERT INTO rejects VALUES ('messages', 'null'::bytea, 'again', '2025-01-02 00:00:00+00')",
    "INSERT INTO rejects VALUES ('messages', '\"oops\"'::bytea, 'other', '2025-01-03 00:00:00+00')",
    "UPDATE meta SET value = '2' WHERE key = 'schema'",
]


@slow
async def test_a_store_of_schema_2_is_upgraded_in_place_when_opened(pg_url: str) -> None:
    sink = PostgresSink(pg_url)
    await sink.open()
    await sink.commit(numbered(sink, 0))
    await sink.close()
    conn = await asyncpg_or_skip().connect(pg_url)
    try:
        for statement in SCHEMA_2:
            await conn.execute(statement)
    finally:
        await conn.close()
    again = PostgresSink(pg_url)
    await again.open()  # upgraded: its rows and rejects stay, each reject once
    assert await again.count("messages") == 100
    assert await again.rejects("messages") == 2
    listed = Batch("messages", [], [Reject(b"null", "listed again")], [move("s0", 1, 2)])
    await again.commit(listed)
    assert await again.rejects("messages") == 2
    await again.close()
    conn = await asyncpg_or_skip().connect(pg_url)
    try:
        assert await conn.fetchval("SELECT value FROM meta WHERE key = 'schema'") == "3"
        reasons = await conn.fetch("SELECT reason FROM rejects ORDER BY reason")
        assert [reason for (reason,) in reasons] == ["first", "other"]
    finally:
        await conn.close()


async def assert_stored_once_plus(sink: PostgresSink, *, old: int) -> None:
    assert await sink.count("messages") == 100 + old
    assert await sink.rejects("messages") == 1


@slow
async def test_a_cancelled_commit_finishes_and_the_connection_stays_usable(pg_url: str) -> None:
    sink = PostgresSink(pg_url)
    await sink.open()
    assert sink._conn is not None
    pid = sink._conn.get_server_pid()
    watcher = await asyncpg_or_skip().connect(pg_url)
    try:
        finished = anyio.Event()

        async def commit() -> None:
            await sink.commit(numbered(sink, 0, size=20_000))
            finished.set()

        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(commit)
                while not finished.is_set() and not await watcher.fetchval(
                    "SELECT xact_start IS NOT NULL FROM pg_stat_activity WHERE pid = $1", pid
                ):
                    continue  # until the commit's transaction is under way: cancel then
                scope.cancel()
        assert scope.cancelled_caught
        # Behind the sink's back, at once: the transaction had finished.
        assert await watcher.fetchval("SELECT count(*) FROM messages") == 20_000
    finally:
        await watcher.close()
    await sink.commit(numbered(sink, 1, size=20_000))  # the same connection goes on
    assert sink._conn is not None and sink._conn.get_server_pid() == pid
    await assert_stored_once(sink, 2, size=20_000)
    await sink.close()


def test_the_url_never_holds_the_password() -> None:
    sink = PostgresSink(
        "postgresql://app:s3cr3t@db.example:5433/exports?password=x&sslmode=require"
    )
    assert sink.url == "postgresql://app@db.example:5433/exports?sslmode=require"
    assert "s3cr3t" not in repr(sink)


@pytest.mark.parametrize(
    ("dsn", "url"),
    [
        pytest.param("postgresql://", "postgresql://", id="nothing-given"),
        pytest.param("postgres:///exports", "postgres:///exports", id="no-host"),
        pytest.param(
            "postgresql://:s3cr3t@/exports?password=s3cr3t",
            "postgresql://@/exports",
            id="no-user-no-host",
        ),
    ],
)
def test_the_url_of_a_dsn_without_a_host_stays_a_url(dsn: str, url: str) -> None:
    """The password is gone and the ``//`` stays: ``postgresql://``, never ``postgresql:``."""
    sink = PostgresSink(dsn)
    assert sink.url == url
    assert "s3cr3t" not in repr(sink)


@pytest.mark.parametrize("separator", ["#", "/", "?"])
@pytest.mark.parametrize("head", ["xq", "79"])
async def test_a_password_with_a_reserved_character_is_never_shown(
    head: str, separator: str
) -> None:
    """An unencoded ``#``, ``/`` or ``?`` cuts the user part short: no piece of the
    password may reach the url, the repr or the error (the driver cannot parse it)."""
    sink = PostgresSink(f"postgresql://u:{head}{separator}s3cr3t@db/x")
    shown = [sink.url, repr(sink)]
    with pytest.raises(SinkUnavailableError) as caught:  # no driver needed to say no
        await sink.open()
    await sink.close()
    shown.append(str(caught.value))
    for text in shown:
        assert "s3cr3t" not in text and head not in text, text
    assert "percent-encode" in str(caught.value)  # refused before any connection


@pytest.mark.parametrize(
    ("dsn", "url"),
    [
        pytest.param(
            "postgresql://db:5432/x?user=me@corp", "postgresql://db:5432/x?user=me%40corp", id="at"
        ),
        pytest.param("postgresql://[::1]:5432/x", "postgresql://[::1]:5432/x", id="ipv6"),
        pytest.param("postgresql://u:pw@db:5432/x", "postgresql://u@db:5432/x", id="plain"),
    ],
)
def test_a_dsn_that_parses_keeps_its_url(dsn: str, url: str) -> None:
    assert PostgresSink(dsn).url == url


@pytest.mark.parametrize(
    "dsn",
    [
        pytest.param("postgresql://u@db:notaport/x", id="port-not-a-number"),
        pytest.param("postgresql://u@[::1/x", id="unclosed-ipv6-bracket"),
    ],
)
async def test_a_malformed_dsn_is_refused_as_unavailable(dsn: str) -> None:
    """A DSN the driver cannot parse is a SinkUnavailableError naming it, not a ValueError
    (refused before the driver is imported: no driver needed to say no)."""
    sink = PostgresSink(dsn)
    with pytest.raises(SinkUnavailableError, match="cannot connect"):
        await sink.open()
    await sink.close()


@pytest.mark.slow  # no server, but asyncpg: the README's environment lacks it, CI's slow stage has it
@pytest.mark.parametrize(
    ("option", "named"),
    [
        pytest.param("sslmode=requir", "sslmode", id="sslmode"),
        pytest.param("target_session_attrs=primry", "target_session_attrs", id="session-attrs"),
    ],
)
async def test_a_dsn_option_the_driver_refuses_is_a_usage_error_not_a_database_down(
    option: str, named: str
) -> None:
    """A misspelt option is refused by the driver before it connects: the database was
    never asked, so "unreachable" (the CLI's "try again later") would send the user
    waiting for a database that is up."""
    asyncpg_or_skip()
    sink = PostgresSink(f"postgresql://u:s3cr3t@127.0.0.1:1/x?{option}")
    with pytest.raises(SinkUnavailableError, match=named) as caught:
        await sink.open()
    await sink.close()
    assert not caught.value.unreachable
    assert "s3cr3t" not in str(caught.value)
