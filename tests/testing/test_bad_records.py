"""Bad records on demand: the real API's bad bytes, at documented places, and nowhere else."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from typing import Any

import msgspec
import pytest

from postpress_async.testing import BadRecord, Dataset
from postpress_async.testing.__main__ import build_parser, server_from_args
from postpress_async.testing._api import Api
from postpress_async.testing._dataset._quirks import QUIRKS
from tests.testing._render_0_1 import MessageRenderer01

N = 1000
KINDS_AT_1000 = [
    (125, "lone_high_surrogate", True, True),
    (127, "nul_in_text", True, False),
    (499, "null_item", False, False),
    (500, "string_item", False, False),
    (875, "timestamp_number", False, False),
    (877, "id_number", False, False),
    (879, "lone_low_surrogate", True, True),
]


@pytest.fixture(scope="module")
def bad() -> Dataset:
    return Dataset(seed=4, chats=30, messages=N, bad_records=True)


def test_the_bad_records_sit_at_the_documented_places(bad: Dataset) -> None:
    assert bad.bad_messages() == tuple(
        BadRecord(index, bad.message_id(index), kind, readable, repaired)
        for index, kind, readable, repaired in KINDS_AT_1000
    )
    places = [record.index for record in Dataset(messages=80, bad_records=True).bad_messages()]
    assert places == [10, 12, 39, 40, 70, 72, 74]
    assert Dataset(messages=N).bad_messages() == ()


def test_bad_records_need_forty_messages() -> None:
    with pytest.raises(ValueError, match="at least 40 messages"):
        Dataset(messages=39, bad_records=True)
    assert len(Dataset(messages=40, bad_records=True).bad_messages()) == 7


def test_each_bad_record_carries_its_bytes_and_nothing_else_changes(bad: Dataset) -> None:
    clean = Dataset(seed=4, chats=30, messages=N)
    served = {record.kind: bad.message_json(record.index) for record in bad.bad_messages()}
    assert served["null_item"] == b"null"
    assert served["string_item"] == b'"oops"'
    assert served["id_number"].startswith(b'{"object":"Message","id":42,"')
    stamp = bad.message_timestamp_ms(875)
    assert b',"timestamp":%d,"text":' % stamp in served["timestamp_number"]
    assert b',"text":"Party time \\ud83d","is_sender":' in served["lone_high_surrogate"]
    assert b',"text":"\\ude00 was the end of an emoji","is_sender":' in served["lone_low_surrogate"]
    assert b',"text":"before\\u0000after","is_sender":' in served["nul_in_text"]
    changed = {
        "lone_high_surrogate": ("text", "Party time \ud83d"),
        "nul_in_text": ("text", "before\x00after"),
        "timestamp_number": ("timestamp", stamp),
        "id_number": ("id", 42),
        "lone_low_surrogate": ("text", "\ude00 was the end of an emoji"),
    }
    for record in bad.bad_messages():
        if record.kind in changed:
            key, value = changed[record.kind]
            got = json.loads(bad.message_json(record.index))  # json takes lone surrogates
            want = json.loads(clean.message_json(record.index))
            assert got[key] == value
            assert {**got, key: want[key]} == want  # only that field differs
            assert list(got) == list(want)  # in its place
    bad_indexes = {record.index for record in bad.bad_messages()}
    for index in range(N):
        if index not in bad_indexes:
            assert bad.message_json(index) == clean.message_json(index), index


@pytest.mark.parametrize(
    "config",
    [
        {"quirks": True},
        {"hostile_ids": True},
        {"seed": 7, "accounts": 15, "quirks": True, "hostile_ids": True},
    ],
)
def test_bad_records_are_spoiled_alike_with_quirks_and_hostile_ids(config: dict[str, Any]) -> None:
    ds = Dataset(messages=600, bad_records=True, **config)
    reference = MessageRenderer01(ds._cols, ds._ids, QUIRKS if ds.config.quirks else None)
    for record in ds.bad_messages():
        raw = ds.message_json(record.index)
        assert raw != reference.message_json(record.index)
        if record.kind not in ("null_item", "string_item"):
            assert isinstance(json.loads(raw), dict)


def test_without_the_option_the_fast_path_and_the_cursors_stay() -> None:
    """The renderer's own bound methods are served, and the fingerprinted text is 0.1's."""
    ds = Dataset(seed=3, messages=100)
    assert ds.messages_json == ds._renderer.messages.messages_json
    assert ds.message_json == ds._renderer.messages.message_json
    assert repr(ds) == (
        "Dataset(seed=3, accounts=14, chats=40, messages=100, hostile_ids=False, quirks=False)"
    )
    assert repr(Dataset(seed=3, messages=100, bad_records=True)).endswith(", bad_records=True)")


def page_indexes(ds: Dataset, bodies: list[bytes]) -> list[list[int]]:
    """The message index of each item of each page (found by the items' positions)."""
    order = [ds.find_message(i) for i in ds.expected_message_ids()]
    out, at = [], 0
    for body in bodies:
        count = len(json.loads(body)["items"])
        out.append([index for index in order[at : at + count] if index is not None])
        at += count
    assert at == len(order)
    return out


def walk_bodies(api: Api, **query: str) -> list[bytes]:
    bodies, cursor = [], None
    while True:
        reply = api.messages_list({**query, **({"cursor": cursor} if cursor else {})})
        assert reply.status == 200, reply.body
        bodies.append(reply.body)
        cursor = json.loads(reply.body).get("cursor")  # json: pages may hold lone surrogates
        if cursor is None:
            return bodies


@pytest.mark.parametrize("limit", [7, 100, 250])
@pytest.mark.slow
def test_a_page_is_its_items_bytes_exactly_and_keeps_its_size_and_cursor(
    bad: Dataset, limit: int
) -> None:
    api = Api(bad, api_key="k", page_cache_bytes=1 << 22)
    bodies = walk_bodies(api, limit=str(limit))
    assert len(bodies) == -(-N // limit)
    for body, indexes in zip(bodies, page_indexes(bad, bodies), strict=True):
        items = b",".join(bad.message_json(index) for index in indexes)
        assert body.startswith(b'{"object":"MessageList","items":[' + items + b'],"cursor":')
        assert len(indexes) == limit or body is bodies[-1]
    if limit == 100:
        spotted = [b"Party time" in b or b'"oops"' in b or b',"id":42,' in b for b in bodies]
        assert spotted == [i in (1, 5, 8) for i in range(10)]  # page 4 has the null
        # the ``null`` item ends page 4: the page still has its cursor, to page 5 ("oops")
        cursor = json.loads(bodies[4])["cursor"]
        assert bodies[4].endswith(b',null],"cursor":' + msgspec.json.encode(cursor) + b"}")
        assert bodies[5].startswith(b'{"object":"MessageList","items":["oops",')


def test_a_filtered_listing_serves_the_bad_records_of_its_messages(bad: Dataset) -> None:
    api = Api(bad, api_key="k", page_cache_bytes=0)
    for record in bad.bad_messages():
        row = bad.message_row(record.index)
        bodies = walk_bodies(api, limit="50", account_id=row.account_id)
        assert any(bad.message_json(record.index) in body for body in bodies), record


def test_retrieve_serves_the_same_bytes_and_a_chat_shows_the_clean_last_message(
    bad: Dataset,
) -> None:
    api = Api(bad, api_key="k", page_cache_bytes=0)
    for record in bad.bad_messages():
        assert api.message_retrieve(record.id) == (200, bad.message_json(record.index))
    for chat in range(bad.chat_count):
        body = api.chat_retrieve(bad.chat_id(chat), {}).body
        msgspec.json.decode(body)  # strict: no bad bytes in a chat


def test_live_pages_serve_the_bad_records_too(bad: Dataset) -> None:
    grown = Dataset(**dataclasses.asdict(bad.config))  # a copy: the live feed grows it
    api = Api(grown, api_key="k", page_cache_bytes=0)
    api.live.clock = lambda: 1_790_000_000.0
    api.live.add()
    bodies = walk_bodies(api, limit="250")
    joined = b"".join(bodies)
    for record in grown.bad_messages():
        assert grown.message_json(record.index) in joined


class Columns(msgspec.Struct):
    """The columns every store reads, typed as the API documents them."""

    id: str
    account_id: str
    chat_id: str
    sender_id: str
    timestamp: datetime
    text: str | None
    is_sender: int


_PAIR_OR_LONE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)


def _repair(raw: bytes) -> bytes:
    """Each lone surrogate escape becomes ``\\ufffd`` (the same length); pairs stay."""
    return _PAIR_OR_LONE.sub(lambda m: m[0] if len(m[0]) == 12 else b"\\ufffd", raw)


def test_readable_and_repaired_say_what_a_strict_reader_can_read(bad: Dataset) -> None:
    """Readable: the columns decode (after lone surrogates become U+FFFD); else they do not."""
    for record in bad.bad_messages():
        raw = bad.message_json(record.index)
        repaired = _repair(raw)
        assert (repaired != raw) == record.repaired, record
        try:
            columns = msgspec.json.decode(repaired, type=Columns)
        except msgspec.DecodeError:
            assert not record.readable, record
        else:
            assert record.readable, record
            assert columns.id == record.id
            assert columns.text is not None
            assert ("\ufffd" in columns.text) == record.repaired
    for index in range(0, N, 37):
        if index not in {r.index for r in bad.bad_messages()}:
            msgspec.json.decode(bad.message_json(index), type=Columns)


def test_the_command_line_asks_for_bad_records() -> None:
    args = build_parser().parse_args(["--bad-records", "--messages", "100"])
    dataset = server_from_args(args).dataset
    assert [r.index for r in dataset.bad_messages()] == [12, 14, 49, 50, 87, 89, 91]
    assert not server_from_args(build_parser().parse_args([])).dataset.config.bad_records
