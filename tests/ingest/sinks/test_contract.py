"""The sink contract (``sinks/_base.py``), run against every registered sink (``conftest.py``).

Rows come from the raw path itself (``row_reader`` over hand-written page bodies), so
``data`` is what a sink really gets: ``msgspec.Raw`` slices of the body as sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from postpress_async import OutputLockedError
from postpress_async._positions import Checkpoint, WatchState
from postpress_async._rows import RowPage, row_reader
from postpress_async.ingest import ShardConflictError, SinkFailedError
from postpress_async.ingest._shards import Shard, ShardPlan, Window
from postpress_async.ingest.sinks._base import FOLLOW, Batch, Move, Reject, Sink, Stored

from ._kit import Kit

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def stamp(ms: int) -> str:
    moment = at(ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def message(id_: str, ms: int | None, text: str = "hello", **extra: Any) -> bytes:
    return msgspec.json.encode(
        {
            "object": "message",
            "id": id_,
            "account_id": "acc1",
            "chat_id": "chat1",
            "sender_id": "s1",
            "timestamp": None if ms is None else stamp(ms),
            "text": text,
            "is_sender": 0,
            **extra,
        }
    )


def chat(id_: str, ms: int | None) -> bytes:
    return msgspec.json.encode(
        {
            "object": "chat",
            "id": id_,
            "account_id": "acc1",
            "account_type": "WHATSAPP",
            "name": f"chat {id_}",
            "timestamp": None if ms is None else stamp(ms),
            "unread_count": 2,
        }
    )


def account(id_: str, ms: int | None) -> bytes:
    created = None if ms is None else stamp(ms)
    return msgspec.json.encode(
        {"object": "account", "id": id_, "type": "SLACK", "name": "n", "created_at": created}
    )


def page(sink: Sink, endpoint: str, *items: bytes) -> RowPage:
    """A list page's body read as rows for ``sink`` (its columns), exactly as a runner would."""
    body = b'{"object":"list","items":[' + b",".join(items) + b'],"cursor":null}'
    read = row_reader(endpoint, sink.columns, endpoint_label=f"GET /{endpoint}")  # type: ignore[arg-type]
    return read(body)


def position(n: int) -> bytes:
    return msgspec.json.encode(Checkpoint(cursor=f"cursor-{n}", offset=n))


def batch(endpoint: str, rows: RowPage, *moves: Move) -> Batch:
    return Batch(endpoint, list(rows.items), list(rows.rejects), list(moves))  # type: ignore[arg-type]


def move(name: str, previous: int | None, new: int, items: int = 1, pages: int = 1) -> Move:
    return Move(name, None if previous is None else position(previous), position(new), items, pages)


async def refuses_an_item_not_utf8(sink: Sink, bad_bytes: bytes) -> None:
    """A store that holds UTF-8 only (PostgreSQL's ``json``, DuckDB's ``VARCHAR``) cannot
    store as sent an item whose bytes outside the typed columns are not UTF-8: the commit
    is a SinkFailedError naming the item, and nothing is stored."""
    await sink.open()
    try:
        bad = message("bad", 2)[:-1] + b',"weird":"' + bad_bytes + b'"}'
        rows = page(sink, "messages", message("good", 1), bad)
        assert [row[0] for row in rows.items] == ["good", "bad"]
        with pytest.raises(SinkFailedError, match=r"'bad'.*not valid UTF-8"):
            await sink.commit(Batch("messages", list(rows.items), [], [move("s0", None, 1)]))
        assert await sink.count("messages") == 0
        assert await sink.positions("messages") == {}
    finally:
        await sink.close()


async def opened(kit: Kit, *, writer: bool = True) -> Sink:
    sink = kit.sink()
    await sink.open(writer=writer)
    return sink


def plan(endpoint: str = "messages") -> ShardPlan:
    shards = [Shard(endpoint=endpoint, label=f"s{k}", window=Window()) for k in range(2)]  # type: ignore[arg-type]
    return ShardPlan(
        endpoint=endpoint,  # type: ignore[arg-type]
        filters={},
        window=Window(after=T0),
        by="time",
        requested=2,
        shards=shards,
    )


# -- opening, closing, the one writer -----------------------------------------------------


async def test_a_fresh_store_is_created_empty(kit: Kit) -> None:
    sink = await opened(kit)
    for endpoint in ("messages", "chats", "accounts"):
        assert await sink.positions(endpoint) == {}
        assert await sink.count(endpoint) == 0
        assert await sink.span(endpoint) is None
        assert await sink.rejects(endpoint) == 0
        assert await sink.load_plan(endpoint) is None
        assert await sink.stored_ids(endpoint, after=None, before=None) == []
    await sink.close()
    again = await opened(kit)  # what exists already is opened as it is
    assert await again.count("messages") == 0


async def test_a_second_writer_is_refused_a_reader_is_not(kit: Kit) -> None:
    first = await opened(kit)
    with pytest.raises(OutputLockedError):
        await kit.sink().open(writer=True)
    reader = await opened(kit, writer=False)
    assert await reader.count("messages") == 0
    await reader.close()
    await first.close()
    third = await opened(kit)  # the lock went with the first writer
    await third.close()


async def test_close_is_idempotent(kit: Kit) -> None:
    never_opened = kit.sink()
    await never_opened.close()
    sink = await opened(kit)
    await sink.close()
    await sink.close()
    await opened(kit)  # and the store is free again


async def test_a_reopened_store_holds_everything(kit: Kit) -> None:
    sink = await opened(kit)
    rows = page(sink, "messages", message("m1", 1), message("m2", 2), b'{"id": 7}')
    await sink.commit(batch("messages", rows, move("s0", None, 1, items=3)))
    await sink.save_plan(plan("chats"))
    await sink.close()
    again = await opened(kit)
    assert await again.count("messages") == 2
    assert await again.rejects("messages") == 1
    assert await again.positions("messages") == {"s0": Stored(position(1), 3, 1)}
    assert await again.load_plan("chats") == plan("chats")
    assert await again.span("messages") == (at(1), at(2))


# -- commits -----------------------------------------------------------------------------


async def test_positions_round_trip_and_add_up(kit: Kit) -> None:
    sink = await opened(kit)
    await sink.commit(
        batch("messages", page(sink, "messages", message("m1", 1)), move("s0", None, 1))
    )
    follow = msgspec.json.encode(WatchState(kind="messages", fingerprint="f", watermark_ms=5))
    await sink.commit(
        batch(
            "messages",
            page(sink, "messages", message("m2", 2), message("m3", 3)),
            move("s0", 1, 2, items=2, pages=3),
            Move(FOLLOW, None, follow, 2, 1),
        )
    )
    await sink.commit(batch("chats", page(sink, "chats", chat("c1", 1)), move("s0", None, 9)))
    assert await sink.positions("messages") == {
        "s0": Stored(position(2), 3, 4),
        FOLLOW: Stored(follow, 2, 1),
    }
    assert await sink.positions("chats") == {"s0": Stored(position(9), 1, 1)}
    assert await sink.positions("accounts") == {}


async def test_a_batch_with_a_conflicting_move_stores_nothing(kit: Kit) -> None:
    sink = await opened(kit)
    rows = page(sink, "messages", message("m1", 1), b'"not an object"')
    assert rows.rejects
    conflicting = batch("messages", rows, move("s0", None, 1), move("s1", 5, 6))  # s1 absent
    with pytest.raises(ShardConflictError):
        await sink.commit(conflicting)
    assert await sink.count("messages") == 0
    assert await sink.rejects("messages") == 0
    assert await sink.positions("messages") == {}
    await sink.close()
    assert await kit.data("messages") == {}


async def test_a_stale_writer_is_refused(kit: Kit) -> None:
    sink = await opened(kit)
    await sink.commit(
        batch("messages", page(sink, "messages", message("m1", 1)), move("s0", None, 1))
    )
    await sink.commit(batch("messages", page(sink, "messages", message("m2", 2)), move("s0", 1, 2)))
    stale = [move("s0", 1, 3), move("s0", None, 3), move("s0", 0, 3), move("s1", 2, 3)]
    for moved in stale:  # a worker presumed dead that writes again, from what it read
        with pytest.raises(ShardConflictError, match=r"s[01]"):
            await sink.commit(batch("messages", page(sink, "messages", message("m9", 9)), moved))
    assert await sink.count("messages") == 2
    assert await sink.positions("messages") == {"s0": Stored(position(2), 2, 2)}


async def test_a_replayed_batch_is_not_stored_twice(kit: Kit) -> None:
    sink = await opened(kit)
    first = batch(
        "messages", page(sink, "messages", message("m1", 1), b"[]"), move("s0", None, 1, 2)
    )
    second = batch(
        "messages", page(sink, "messages", message("m2", 2), b"[1]"), move("s0", 1, 2, 2)
    )
    await sink.commit(first)
    await sink.commit(second)
    await sink.commit(second)  # the connection broke after the commit: the runner replays
    assert await sink.count("messages") == 2
    assert await sink.rejects("messages") == 2
    assert await sink.positions("messages") == {"s0": Stored(position(2), 4, 2)}


async def test_a_replay_is_told_from_a_stale_write(kit: Kit) -> None:
    sink = await opened(kit)
    first = batch("messages", page(sink, "messages", message("m1", 1)), move("s0", None, 1))
    await sink.commit(first)
    await sink.commit(batch("messages", page(sink, "messages", message("m2", 2)), move("s0", 1, 2)))
    with pytest.raises(ShardConflictError):
        await sink.commit(first)  # s0 moved on from 1: not a replay of the last commit
    assert await sink.positions("messages") == {"s0": Stored(position(2), 2, 2)}


async def test_the_last_row_of_an_id_wins(kit: Kit) -> None:
    sink = await opened(kit)
    one = message("m1", 1, "first")
    two = message("m1", 2, "second")
    await sink.commit(batch("messages", page(sink, "messages", one, two), move("s0", None, 1, 2)))
    assert await sink.count("messages") == 1
    assert await sink.span("messages") == (at(2), at(2))
    three = message("m1", 3, "third")
    await sink.commit(batch("messages", page(sink, "messages", three), move("s0", 1, 2)))
    await sink.close()
    if kit.plan_keeps_rows:
        assert await kit.data("messages") == {"m1": three}


async def test_save_plan_forgets_the_endpoints_positions_only(kit: Kit) -> None:
    sink = await opened(kit)
    await sink.commit(
        batch("messages", page(sink, "messages", message("m1", 1)), move("s0", None, 1))
    )
    await sink.commit(batch("chats", page(sink, "chats", chat("c1", 1)), move("s0", None, 1)))
    await sink.save_plan(plan("messages"))
    assert await sink.load_plan("messages") == plan("messages")
    assert await sink.load_plan("chats") is None
    assert await sink.positions("messages") == {}
    assert await sink.positions("chats") == {"s0": Stored(position(1), 1, 1)}
    assert await sink.count("chats") == 1
    assert await sink.count("messages") == (1 if kit.plan_keeps_rows else 0)
    newer = ShardPlan(**{**msgspec.structs.asdict(plan("messages")), "requested": 4})
    await sink.save_plan(newer)  # a second plan replaces the first
    assert await sink.load_plan("messages") == newer
    # The new export starts from no position: a first move from None is accepted.
    await sink.commit(
        batch("messages", page(sink, "messages", message("m2", 2)), move("s0", None, 1))
    )


async def test_rejects_are_kept_byte_for_byte_and_counted(kit: Kit) -> None:
    sink = await opened(kit)
    bad = [b'{"id": 5, "text": "caf\xc3\xa9"}', b'"just a string"', b'{"id":"x","timestamp":3}']
    rows = page(sink, "messages", message("m1", 1), *bad)
    assert [reject.raw for reject in rows.rejects] == bad
    await sink.commit(batch("messages", rows, move("s0", None, 1, 4)))
    lone = Reject(b'{"id":"y","text":"\\ud83d \\u0000 \xf0\x9f\x8e\x89"}', "a reason")
    await sink.commit(Batch("chats", [], [lone], [move("s0", None, 1)]))
    assert await sink.rejects("messages") == 3
    assert await sink.rejects("chats") == 1
    assert await sink.rejects("accounts") == 0
    await sink.close()
    assert sorted(await kit.reject_raws("messages")) == sorted(bad)
    assert await kit.reject_raws("chats") == [lone.raw]


async def test_a_reject_listed_again_is_stored_once(kit: Kit) -> None:
    """A reject is known by its bytes: listed again (an overlap, a re-run, another page
    or run), it is not set aside twice; a commit says how many it set aside."""
    sink = await opened(kit)
    first, second, twice = b'"oops"', b'{"id": 5}', b"null"
    one = [Reject(first, "$.items[0]: no")]
    assert await sink.commit(Batch("messages", [], one, [move("s0", None, 1)])) == 1
    again = [Reject(first, "$.items[3]: no"), Reject(twice, "a"), Reject(twice, "b")]
    assert await sink.commit(Batch("messages", [], again, [move(FOLLOW, None, 1, 3)])) == 1
    assert await sink.rejects("messages") == 2
    await sink.close()
    reopened = await opened(kit)  # what the store holds, not what this process wrote
    listed = [Reject(second, "x"), Reject(first, "y"), Reject(twice, "z")]
    assert await reopened.commit(Batch("messages", [], listed, [move(FOLLOW, 1, 2, 3)])) == 1
    assert await reopened.rejects("messages") == 3
    await reopened.close()
    assert sorted(await kit.reject_raws("messages")) == sorted([first, second, twice])


async def test_the_same_bytes_rejected_by_two_endpoints_are_two_rejects(kit: Kit) -> None:
    sink = await opened(kit)
    await sink.commit(Batch("messages", [], [Reject(b"null", "m")], [move("s0", None, 1)]))
    await sink.commit(Batch("chats", [], [Reject(b"null", "c")], [move("s0", None, 1)]))
    assert (await sink.rejects("messages"), await sink.rejects("chats")) == (1, 1)


async def test_count_span_and_stored_ids_with_strict_bounds(kit: Kit) -> None:
    sink = await opened(kit)
    items = [message(f"m{ms}", ms) for ms in (10, 20, 30, 40)]
    await sink.commit(batch("messages", page(sink, "messages", *items), move("s0", None, 1, 4)))
    chats = [chat("c1", 10), chat("c2", None), chat("c3", 30)]
    await sink.commit(batch("chats", page(sink, "chats", *chats), move("s0", None, 1, 3)))
    await sink.commit(
        batch("accounts", page(sink, "accounts", account("a1", 5)), move("s0", None, 1))
    )

    async def ids(endpoint: str, after: int | None, before: int | None) -> list[str]:
        found = await sink.stored_ids(
            endpoint,  # type: ignore[arg-type]
            after=None if after is None else at(after),
            before=None if before is None else at(before),
        )
        return sorted(found)

    assert await sink.count("messages") == 4
    assert await sink.span("messages") == (at(10), at(40))
    assert await ids("messages", None, None) == ["m10", "m20", "m30", "m40"]
    assert await ids("messages", 10, 40) == ["m20", "m30"]  # strict on both sides
    assert await ids("messages", 9, 41) == ["m10", "m20", "m30", "m40"]
    assert await ids("messages", 20, None) == ["m30", "m40"]
    assert await ids("messages", None, 20) == ["m10"]
    assert await ids("messages", 20, 21) == []
    # Sub-millisecond bounds, against millisecond times: still strict.
    assert sorted(
        await sink.stored_ids(
            "messages",
            after=at(20) + timedelta(microseconds=500),
            before=at(30) + timedelta(microseconds=500),
        )
    ) == ["m30"]
    assert sorted(
        await sink.stored_ids(
            "messages",
            after=at(20) - timedelta(microseconds=500),
            before=at(30) - timedelta(microseconds=500),
        )
    ) == ["m20"]
    # A chat without a time matches only when no bound is given.
    assert await sink.count("chats") == 3
    assert await sink.span("chats") == (at(10), at(30))
    assert await ids("chats", None, None) == ["c1", "c2", "c3"]
    assert await ids("chats", None, 100) == ["c1", "c3"]
    assert await ids("chats", 10, None) == ["c3"]
    assert await sink.span("accounts") == (at(5), at(5))
    assert await ids("accounts", 4, 6) == ["a1"]


async def test_a_time_sent_without_a_zone_is_read_as_utc(kit: Kit) -> None:
    """Stored as sent, a zone-less time still places its row beside the others (as UTC)."""
    sink = await opened(kit)
    zoneless = message("m20", 20).replace(b'Z"', b'"')
    await sink.commit(
        batch(
            "messages", page(sink, "messages", message("m10", 10), zoneless), move("s0", None, 1, 2)
        )
    )
    assert await sink.span("messages") == (at(10), at(20))
    assert await sink.stored_ids("messages", after=at(15), before=at(25)) == ["m20"]


# -- what is stored, exactly -------------------------------------------------------------

#: Items whose bytes a store could easily change: each must come back exactly.
AWKWARD = [
    b'{"id":"nul","timestamp":"2025-03-01T12:00:00.001Z","text":"a\\u0000b"}',
    b'{"id":"lone","timestamp":"2025-03-01T12:00:00.002Z","text":"cut \\ud83d here","x":"\\udc00"}',
    '{"id":"utf8","timestamp":"2025-03-01T12:00:00.003Z","text":"café 日本 🎉"}'.encode(),
    b'{"id":"slashes","timestamp":"2025-03-01T12:00:00.004Z","text":"a\\/b \\\\ \\"q\\" \\u00e9"}',
    b'{ "id" : "spaced" ,\t"timestamp":"2025-03-01T12:00:00.005Z" , "n": 1.50e3 ,"deep":{"a":[1,{}]} }',
    b'{"id":"ctl","timestamp":"2025-03-01T12:00:00.006Z","text":"tab\\there\\nline\\r\\u0001"}',
]


async def test_data_is_the_item_byte_for_byte(kit: Kit) -> None:
    sink = await opened(kit)
    rows = page(sink, "messages", *AWKWARD)
    assert not rows.rejects
    await sink.commit(batch("messages", rows, move("s0", None, 1, len(AWKWARD))))
    await sink.close()
    stored = await kit.data("messages")
    assert stored == {row[0]: bytes(row[-1]) for row in rows.items}
    assert sorted(stored.values()) == sorted(AWKWARD)


async def test_typed_text_with_nul_follows_the_sinks_rule(kit: Kit) -> None:
    sink = await opened(kit)
    if sink.columns is not None and "text" not in sink.columns:
        pytest.skip("this sink stores no typed text column")
    nul = message("nul\x00id", 1, "a\x00b")
    await sink.commit(
        batch("messages", page(sink, "messages", nul, *AWKWARD[1:2]), move("s0", None, 1, 2))
    )
    await sink.close()
    texts = await kit.typed("messages", "text")
    if kit.nul == "keep":
        assert texts == {"nul\x00id": "a\x00b", "lone": "cut \ufffd here"}
    else:
        assert texts == {"nul\ufffdid": "a\ufffdb", "lone": "cut \ufffd here"}
    assert (await kit.data("messages")).get(
        "nul\x00id" if kit.nul == "keep" else "nul\ufffdid"
    ) == nul


def test_the_protocol_s_columns_is_a_settable_property() -> None:
    """``Sink.columns`` is declared as a property with a setter, which a plain attribute
    (SQLite, DuckDB, PostgreSQL) and the file sinks' property both match. Declared as a
    variable, pyright (the type checker of VS Code) rejected every file sink where a
    ``Sink`` is taken: ``ingest(config, "messages", JsonLinesSink("m.jsonl"))`` was an
    error in a user's editor, though mypy took it."""
    declared = Sink.__dict__.get("columns")
    assert isinstance(declared, property)
    assert declared.fset is not None
