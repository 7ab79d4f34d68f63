"""The raw path: pages as rows ``(id, *values, data)``, data exactly as sent, and rejects."""

from __future__ import annotations

import random
import re
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest

from postpress_async import _rows
from postpress_async._decoding import decode
from postpress_async._exceptions import InvalidParameterError, ResponseDecodeError
from postpress_async._filters import ResourceName
from postpress_async._rows import TABLES, Reject, RowPage, row_reader, row_stamp
from postpress_async.models import AccountList, ChatList, MessageList
from postpress_async.testing import Dataset
from postpress_async.testing._api import Api

MODELS: dict[ResourceName, Any] = {
    "messages": MessageList,
    "chats": ChatList,
    "accounts": AccountList,
}
LABELS = {"messages": "GET /messages", "chats": "GET /chats", "accounts": "GET /accounts"}


def fake_page(endpoint: ResourceName, **dataset: Any) -> bytes:
    """A first page of ``endpoint`` (250 items at most) exactly as the fake server sends it."""
    api = Api(Dataset(messages=2000, **dataset), api_key="k", page_cache_bytes=0)
    lists = {"messages": api.messages_list, "chats": api.chats_list, "accounts": api.accounts_list}
    reply = lists[endpoint]({"limit": "250"})
    assert reply.status == 200
    return bytes(reply.body)


#: The fake's pages are compact: ``{"object":...,"items":[...]`` then a cursor or not.
_ITEMS = re.compile(rb'\{"object":"\w+","items":\[(?P<items>.*)\](,"cursor":[^,]*)?\}', re.DOTALL)


def items_text(body: bytes) -> bytes:
    match = _ITEMS.fullmatch(body)
    assert match is not None
    return match["items"]


def read(endpoint: ResourceName, body: bytes, columns: Any = None) -> RowPage:
    return row_reader(endpoint, columns, endpoint_label=LABELS[endpoint])(body)


DATASETS = [
    pytest.param({}, id="plain"),
    pytest.param({"quirks": True}, id="quirks"),
    pytest.param({"quirks": True, "hostile_ids": True}, id="quirks-hostile-ids"),
]


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("endpoint", ["messages", "chats", "accounts"])
def test_rows_hold_each_item_byte_for_byte(endpoint: ResourceName, dataset: dict[str, Any]) -> None:
    """Joined with the page's commas, the rows' data is the page's items array, exactly."""
    body = fake_page(endpoint, **dataset)

    page = read(endpoint, body)

    assert len(page.items) > 10
    assert page.rejects == []
    assert b",".join(bytes(row[-1]) for row in page.items) == items_text(body)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("endpoint", ["messages", "chats", "accounts"])
def test_row_values_equal_the_full_models(endpoint: ResourceName, dataset: dict[str, Any]) -> None:
    """Each typed value is what the full model decodes for the same item."""
    body = fake_page(endpoint, **dataset)
    models = decode(body, MODELS[endpoint], endpoint=LABELS[endpoint])

    page = read(endpoint, body)

    assert (page.cursor, page.object) == (models.cursor, models.object)
    names = [column.name for column in TABLES[endpoint]]
    expected = [(item.id, *(getattr(item, name) for name in names)) for item in models.items]
    assert [row[:-1] for row in page.items] == expected
    assert any(value is not None for row in page.items for value in row[1:-1])


def test_a_subset_of_columns_comes_in_table_order() -> None:
    """Rows hold only the columns asked for, in TABLES order whatever order they were asked."""
    body = fake_page("messages")
    full = read("messages", body)

    page = read("messages", body, ("text", "account_id"))

    assert [row[:-1] for row in page.items] == [(r[0], r[1], r[5]) for r in full.items]
    assert [bytes(row[-1]) for row in page.items] == [bytes(r[-1]) for r in full.items]


def test_a_reader_never_decodes_a_column_it_was_not_asked_for() -> None:
    """A JSON lines sink reads only ``timestamp``: a bad ``text`` is no reject for it."""
    body = msgspec.json.encode({"items": [{"id": "m1", "text": 5, "timestamp": None}]})

    assert len(read("messages", body).rejects) == 1
    page = read("messages", body, ("timestamp",))
    assert page.rejects == []
    assert [row[:-1] for row in page.items] == [("m1", None)]


# --- A quirky page ----------------------------------------------------------------

QUIRKY_ITEMS: list[tuple[bytes, Any]] = [
    # (the item as sent, its row without data, or the reason it is rejected)
    (
        rb'{"id":"m0","text":"cut \ud83d","timestamp":"2026-05-16T14:36:31.465Z","is_sender":1}',
        (
            "m0",
            None,
            None,
            None,
            datetime(2026, 5, 16, 14, 36, 31, 465000, timezone.utc),
            "cut \ufffd",
            1,
        ),
    ),
    (
        b'{\n      "id": "m1",\n      "timestamp": 1778942191465\n    }',
        "$.items[1].timestamp: Expected `datetime | null`, got `int`",
    ),
    (
        rb'{"id":"m2","text":"nul \u0000 and \uDC00 and \ud83d\ude00","extra":{"a":[1]}}',
        ("m2", None, None, None, None, "nul \x00 and \ufffd and \U0001f600", None),
    ),
    (b'{"id": 42, "text": "x"}', "$.items[3].id: Expected `str`, got `int`"),
    (b'"oops"', "$.items[4]: Expected `object`, got `str`"),
    (b"null", "$.items[5]: Expected `object`, got `null`"),
    (b'{"text": "no id"}', "$.items[6]: Object missing required field `id`"),
    (
        rb'{"id":"m7","sender_id":"\\ud83d","is_sender":true}',
        "$.items[7].is_sender: Expected `int | null`, got `bool`",
    ),
    (b'{"id":"m8"}', ("m8", None, None, None, None, None, None)),
    (b"[1, 2]", "$.items[9]: Expected `object`, got `array`"),
]


def quirky_body(separators: list[bytes] | None = None) -> bytes:
    raws = [raw for raw, _ in QUIRKY_ITEMS]
    if separators is None:
        separators = [b" ,\n    "] * (len(raws) - 1)
    items = raws[0] + b"".join(sep + raw for sep, raw in zip(separators, raws[1:], strict=True))
    return (
        b'{\n  "object": "MessageList",\n  "items": [\n    '
        + items
        + b'\n  ],\n  "cursor": "c2"\n}'
    )


def test_a_quirky_page_gives_its_rows_and_its_rejects() -> None:
    """Every real-server habit at once: rows for the readable items, rejects for the rest."""
    body = quirky_body()
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(body)  # the lone surrogates alone would cost the page

    page = read("messages", body)

    good = [(raw, row) for raw, row in QUIRKY_ITEMS if isinstance(row, tuple)]
    bad = [Reject(raw, reason) for raw, reason in QUIRKY_ITEMS if isinstance(reason, str)]
    assert [row[:-1] for row in page.items] == [row for _, row in good]
    assert [bytes(row[-1]) for row in page.items] == [raw for raw, _ in good]
    assert page.rejects == bad
    assert all(type(reject.raw) is bytes for reject in page.rejects)
    assert (page.cursor, page.object) == ("c2", "MessageList")


@pytest.mark.parametrize(
    ("columns", "rows", "rejects"),
    [
        pytest.param(
            None,
            [("a", None, None, None, None, "ok", None)],
            ["$.items[1]: Invalid UTF-8 encoded string"],
            id="in-a-column",
        ),
        pytest.param(("timestamp",), [("a", None), ("b", None)], [], id="in-no-column-read"),
    ],
)
def test_invalid_utf8_in_an_item_costs_that_item_only(
    columns: Any, rows: list[tuple[Any, ...]], rejects: list[str]
) -> None:
    """msgspec reads raw items without checking their UTF-8: a text column that is not
    UTF-8 makes its item a reject (kept as sent), never a bare msgspec error."""
    raws = [b'{"id":"a","text":"ok"}', b'{"id":"b","text":"\xff\xfe"}']
    body = b'{"items":[' + b",".join(raws) + b'],"cursor":null}'

    page = read("messages", body, columns)

    assert [row[:-1] for row in page.items] == rows
    assert [reject.reason for reject in page.rejects] == rejects
    assert [reject.raw for reject in page.rejects] == raws[2 - len(rejects) :]


def test_a_lone_surrogate_alone_keeps_the_fast_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repaired, a page of readable items is still two whole-page decodes, data as sent."""

    def fail(*args: object) -> None:
        raise AssertionError("item by item")

    monkeypatch.setattr(_rows._Reader, "_item_by_item", fail)
    raws = [rb'{"id":"a","text":"\udbff!"}', rb'{"id":"b","name":"\\udbff"}']
    body = b'{"items":[' + b", ".join(raws) + b'],"cursor":null}'

    page = read("messages", body)

    assert [row[:-1] for row in page.items] == [
        ("a", None, None, None, None, "\ufffd!", None),
        ("b", None, None, None, None, None, None),
    ]
    assert [bytes(row[-1]) for row in page.items] == raws


def test_a_clean_page_is_never_read_item_by_item(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("item by item")

    monkeypatch.setattr(_rows._Reader, "_item_by_item", fail)

    assert len(read("chats", fake_page("chats", quirks=True)).items) > 10


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            rb'{"object":"a \"items\": [\"x\ud83d\"","items":[{"id":"\ud83d"}],"cursor":null}',
            id="items-in-a-string-before",
        ),
        pytest.param(
            rb'{"cursor":"c","meta":{"items":[{"id":"\ud83d"}]},"items":[{"id":"\ud83d"}]}',
            id="items-in-a-nested-object-before",
        ),
        pytest.param(
            rb'{"items":[{"id":"\udc00"}],"items":[{"id":"\ud83d"}]}', id="duplicate-key-last-wins"
        ),
        pytest.param(rb'{"\u0069tems" : [ {"id":"\ud83d"} ] }', id="escaped-key"),
        pytest.param(b'{"\\n\xff":1,"items":[{"id":"\\ud83d"}]}', id="escaped-key-not-utf8-before"),
    ],
)
def test_items_are_cut_from_the_right_array(body: bytes) -> None:
    """The items found in the body as sent are the ones msgspec read, whatever came before."""
    page = read("messages", body)

    assert [(row[0], bytes(row[-1])) for row in page.items] == [("\ufffd", rb'{"id":"\ud83d"}')]


def test_random_pages_keep_every_item_as_sent() -> None:
    """Random separators, lone surrogates and bad items: each item lands as a row or a reject."""
    rng = random.Random(19)
    for _ in range(300):
        picks = rng.choices(range(len(QUIRKY_ITEMS)), k=rng.randrange(1, 12))
        raws = [QUIRKY_ITEMS[i][0] for i in picks]
        separators = [rng.choice([b",", b" , ", b",\n", b"\t,\r\n "]) for _ in raws[1:]]
        items = raws[0] + b"".join(s + r for s, r in zip(separators, raws[1:], strict=True))
        body = b'{"items":' + rng.choice([b"[", b"[ \n"]) + items + b"]}"

        page = read("messages", body)

        good = [raw for raw, row in (QUIRKY_ITEMS[i] for i in picks) if isinstance(row, tuple)]
        assert [bytes(row[-1]) for row in page.items] == good
        bad = [raw for raw, row in (QUIRKY_ITEMS[i] for i in picks) if isinstance(row, str)]
        assert [reject.raw for reject in page.rejects] == bad
        indexes = [int(reject.reason[len("$.items[") :].split("]")[0]) for reject in page.rejects]
        assert [raws[i] for i in indexes] == bad


# --- Page faults and bad arguments --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        pytest.param(b"<html>502</html>", None, id="html"),
        pytest.param(rb'{"items":[{"id":"\ud83d"}', None, id="truncated-with-a-lone-surrogate"),
        pytest.param(b'{"items":[]} {}', None, id="trailing-garbage"),
        pytest.param(b'{"items":{"id":"m"}}', "$.items", id="items-not-a-list"),
        pytest.param(b'{"items":[{"id":5}],"cursor":5}', "$.cursor", id="cursor-not-a-string"),
        pytest.param(rb'{"items":[],"cursor":5,"x":"\ud83d"}', "$.cursor", id="repaired-cursor"),
        pytest.param(b"[]", "$", id="not-an-object"),
    ],
)
def test_a_page_fault_raises(body: bytes, path: str | None) -> None:
    """Only what is not a page at all raises; the error carries the body as sent."""
    with pytest.raises(ResponseDecodeError) as info:
        read("messages", body)

    assert info.value.endpoint == "GET /messages"
    assert info.value.path == path
    assert info.value.body == body
    if path is None:
        assert "body is not valid JSON" in str(info.value)


def test_an_empty_page() -> None:
    assert read("chats", b'{"items":[]}') == RowPage(items=[], rejects=[], line_breaks=False)
    assert read("chats", b"{}") == RowPage(line_breaks=False)


@pytest.mark.parametrize(
    ("body", "line_breaks"),
    [
        pytest.param(b'{"items":[{"id":"a"}],"cursor":null}', False, id="compact"),
        pytest.param(b'{"items":[{"id":"a",\n "x":1}],"cursor":null}', True, id="lf-in-item"),
        pytest.param(b'{"items":[{"id":"a"}],\r\n"cursor":null}', True, id="crlf-between"),
        pytest.param(b'{"items":[{"id":"a","text":"a\\nb"}]}', False, id="escaped-newline"),
    ],
)
def test_a_page_says_whether_its_bytes_hold_a_raw_line_break(
    body: bytes, line_breaks: bool
) -> None:
    """A JSON lines store skips scanning its rows for a page known to be flat."""
    assert read("chats", body).line_breaks is line_breaks


@pytest.mark.parametrize(
    ("endpoint", "columns", "match"),
    [
        pytest.param("messages", ("timestamp", "bogus"), "'bogus' not in the messages", id="col"),
        pytest.param("accounts", ("timestamp",), "'timestamp' not in the accounts", id="table"),
        pytest.param("messages", ("id",), "'id' not in", id="id-is-no-column"),
        pytest.param("users", None, "'users' has no table", id="endpoint"),
    ],
)
def test_unknown_columns_are_refused(endpoint: Any, columns: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        row_reader(endpoint, columns, endpoint_label="GET /x")


def test_readers_are_built_once() -> None:
    first = row_reader("messages", ("timestamp",), endpoint_label="GET /messages")

    assert row_reader("messages", ("timestamp",), endpoint_label="GET /messages") is first
    assert row_reader("messages", None, endpoint_label="GET /messages") is not first


def test_tables_are_the_contract() -> None:
    """The columns every sink creates: changing them is a schema change."""
    assert {name: [tuple(c) for c in columns] for name, columns in TABLES.items()} == {
        "messages": [
            ("account_id", "text"),
            ("chat_id", "text"),
            ("sender_id", "text"),
            ("timestamp", "time"),
            ("text", "text"),
            ("is_sender", "int"),
        ],
        "chats": [
            ("account_id", "text"),
            ("account_type", "text"),
            ("name", "text"),
            ("timestamp", "time"),
            ("unread_count", "int"),
        ],
        "accounts": [("type", "text"), ("name", "text"), ("created_at", "time")],
    }


# --- row_stamp --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "columns"),
    [
        pytest.param("messages", None, id="messages-all"),
        pytest.param("messages", ("timestamp",), id="messages-timestamp"),
        pytest.param("chats", ("name", "timestamp"), id="chats"),
        pytest.param("accounts", None, id="accounts"),
    ],
)
def test_row_stamp_is_the_time_in_ms_and_the_id(
    endpoint: ResourceName, columns: tuple[str, ...] | None
) -> None:
    body = fake_page(endpoint)
    models = decode(body, MODELS[endpoint], endpoint="GET /x")
    time = "created_at" if endpoint == "accounts" else "timestamp"
    stamp = row_stamp(endpoint, columns)

    stamps = [stamp(row) for row in read(endpoint, body, columns).items]

    expected = [
        None
        if getattr(item, time) is None
        else (int(getattr(item, time).timestamp() * 1000), item.id)
        for item in models.items
    ]
    assert stamps == expected
    assert any(s is not None for s in stamps)


def test_row_stamp_of_a_row_without_time() -> None:
    stamp = row_stamp("chats", None)

    assert stamp(read("chats", b'{"items":[{"id":"c1"}]}').items[0]) is None


def test_row_stamp_needs_the_time_column() -> None:
    with pytest.raises(InvalidParameterError, match="'timestamp'"):
        row_stamp("messages", ("text",))
