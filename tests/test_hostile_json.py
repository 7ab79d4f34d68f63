"""Hostile but valid JSON a server or proxy could send, read by both paths.

Each page is read by the typed path (:func:`decode_page`) and the raw path
(:func:`row_reader`): the typed path gives models or typed errors, the raw path the
exact bytes of each item, and both agree on the ids, the cursor and what is unreadable.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from helpers import RecordingTransport, client_with, path_of

from postpress_async import APIStatusError
from postpress_async._decoding import decode_page
from postpress_async._exceptions import ResponseDecodeError
from postpress_async._filters import ResourceName
from postpress_async._rows import row_reader
from postpress_async.models import AccountList, ChatList, MessageList
from postpress_async.transports import Request, Response

MODELS: dict[ResourceName, Any] = {
    "messages": MessageList,
    "chats": ChatList,
    "accounts": AccountList,
}
M = b'{"id":"m1","timestamp":"2026-01-01T00:00:00.000Z","text":"hi"}'

#: (endpoint, body, items exactly as sent, unreadable items exactly as sent)
READABLE = [
    pytest.param(
        "messages",
        b'{\n  "items" : [\n    ' + M + b' ,\n\t{"id":"m2"}\r\n ] ,\n "cursor" : "c"\n}\n',
        [M, b'{"id":"m2"}'],
        [],
        id="pretty-printed",
    ),
    pytest.param("messages", b'{"cursor":"c","items":[' + M + b"]}", [M], [], id="cursor-first"),
    pytest.param(
        "messages", b'{"it\\u0065ms":[' + M + b'],"cursor":null}', [M], [], id="escaped-key"
    ),
    pytest.param(
        "messages", b'{"items":[{"id":"a\\/b"}]}', [b'{"id":"a\\/b"}'], [], id="escaped-id"
    ),
    pytest.param(
        "messages",
        b'{"items":[{"\\u0069d":"a","id":"b"}]}',
        [b'{"\\u0069d":"a","id":"b"}'],
        [],
        id="repeated-id-key",
    ),
    pytest.param(
        "messages",
        b'{"items":[{"id":"x"}],"items":[' + M + b"]}",
        [M],
        [],
        id="repeated-items-key",
    ),
    pytest.param(
        "messages",
        b'{"items":[{"id":"n","items":[1],"x":{"items":[2]}}],"cursor":"c","y":{"items":[3]}}',
        [b'{"id":"n","items":[1],"x":{"items":[2]}}'],
        [],
        id="nested-items-keys",
    ),
    pytest.param(
        "messages",
        b'{"items":[{"id":"q","text":"[{\\"}]\\\\"},' + M + b"]}",
        [b'{"id":"q","text":"[{\\"}]\\\\"}', M],
        [],
        id="brackets-in-strings",
    ),
    pytest.param(
        "messages",
        b'{"items":[{"id":"s","text":"a\\ud83d"},' + M + b'],"cursor":"c"}',
        [b'{"id":"s","text":"a\\ud83d"}', M],
        [],
        id="lone-surrogate",
    ),
    pytest.param(
        "messages",
        b'{"items":[{"id":"z","text":"a\\u0000b"}]}',
        [b'{"id":"z","text":"a\\u0000b"}'],
        [],
        id="nul",
    ),
    pytest.param(
        "messages",
        b'{"items":[null,1,"s",[],{"id":5},{"text":"x"},' + M + b"]}",
        [M],
        [b"null", b"1", b'"s"', b"[]", b'{"id":5}', b'{"text":"x"}'],
        id="items-not-messages",
    ),
    pytest.param(
        "messages",
        b'{"items":[{"id":"s","text":"\\ud83d","timestamp":5},' + M + b"]}",
        [M],
        [b'{"id":"s","text":"\\ud83d","timestamp":5}'],
        id="lone-surrogate-in-an-unreadable-item",
    ),
    pytest.param("messages", b'{"cursor":"c"}', [], [], id="items-missing"),
    pytest.param(
        "chats",
        b'{"items":[{"id":"c1","unread_count":9223372036854775807},{"id":"c2","unread_count":1E2}]}',
        [b'{"id":"c1","unread_count":9223372036854775807}'],
        [b'{"id":"c2","unread_count":1E2}'],
        id="large-and-exponent-numbers",
    ),
    pytest.param(
        "accounts",
        b'{"items":[{"id":"a","type":"LINKEDIN"},{"id":"b","type":"NEW"},'
        b'{"id":"c","type":"\\u004cINKEDIN"},{"id":"d"},{"id":"e","type":null},'
        b'{"id":"f","type":5}]}',
        [
            b'{"id":"a","type":"LINKEDIN"}',
            b'{"id":"b","type":"NEW"}',
            b'{"id":"c","type":"\\u004cINKEDIN"}',
        ],
        [b'{"id":"d"}', b'{"id":"e","type":null}', b'{"id":"f","type":5}'],
        id="accounts-without-a-string-type",
    ),
]


@pytest.mark.parametrize(("endpoint", "body", "items", "unreadable"), READABLE)
def test_both_paths_read_the_same_items_and_set_the_same_aside(
    endpoint: ResourceName, body: bytes, items: list[bytes], unreadable: list[bytes]
) -> None:
    label = f"GET /{endpoint}"
    page, set_aside = decode_page(body, MODELS[endpoint], endpoint=label)
    rows = row_reader(endpoint, None, endpoint_label=label)(body)

    assert [bytes(row[-1]) for row in rows.items] == items
    assert [reject.raw for reject in rows.rejects] == unreadable
    assert [item.raw for item in set_aside] == unreadable
    assert [item.id for item in page.items] == [row[0] for row in rows.items]
    assert page.cursor == rows.cursor
    # Each reject names the same place as the typed path's error.
    assert [reject.reason.split(":")[0] for reject in rows.rejects] == [
        item.error.path for item in set_aside
    ]


#: Nesting beyond msgspec's limit, which is the interpreter's: ``sys.getrecursionlimit()``
#: (1000) up to Python 3.11, a fixed C limit (10000 on 3.13) from 3.12 on.
DEEP = 100_000

FAULTS = [
    pytest.param(b'{"items":null,"cursor":"c"}', "$.items", id="items-null"),
    pytest.param(b'{"items":{},"cursor":"c"}', "$.items", id="items-an-object"),
    pytest.param(b'{"items":[],"cursor":5}', "$.cursor", id="cursor-a-number"),
    pytest.param(b"[" + M + b"]", "$", id="page-an-array"),
    pytest.param(b"null", "$", id="page-null"),
    pytest.param(b'{"items":[' + b"[" * DEEP + b"]" * DEEP + b"]}", None, id="too-deep"),
]


@pytest.mark.parametrize(("body", "path"), FAULTS)
def test_both_paths_raise_the_same_typed_error_for_a_bad_page(
    body: bytes, path: str | None
) -> None:
    with pytest.raises(ResponseDecodeError) as typed:
        decode_page(body, MessageList, endpoint="GET /messages")
    with pytest.raises(ResponseDecodeError) as raw:
        row_reader("messages", None, endpoint_label="GET /messages")(body)
    assert typed.value.path == raw.value.path == path
    assert str(typed.value) == str(raw.value)


@pytest.mark.parametrize("columns", [None, ("name",), ("created_at", "type")])
def test_an_account_without_a_type_is_rejected_whatever_the_columns(
    columns: tuple[str, ...] | None,
) -> None:
    body = b'{"items":[{"id":"a","type":"X","name":"n"},{"id":"b","name":"m"}]}'
    rows = row_reader("accounts", columns, endpoint_label="GET /accounts")(body)
    wanted = {"type": "X", "name": "n", "created_at": None}
    chosen = [name for name in wanted if columns is None or name in columns]
    assert [row[:-1] for row in rows.items] == [("a", *(wanted[name] for name in chosen))]
    assert [reject.raw for reject in rows.rejects] == [b'{"id":"b","name":"m"}']
    assert rows.rejects[0].reason == "$.items[1]: Object missing required field `type`"


BOM = b"\xef\xbb\xbf"


async def test_a_body_behind_a_byte_order_mark_is_read_by_every_path() -> None:
    """RFC 8259 lets a parser ignore a BOM, and Python's json (so httpx, requests) does:
    a proxy that adds one must not fail the page. Items stay exactly as sent."""
    page = b'{"items":[' + M + b',{"id":"m2"}],"cursor":null}'
    bodies = {
        "/messages": BOM + page,
        "/messages/m1": BOM + M,
    }

    def respond(request: Request) -> Response:
        return Response(
            status=200, headers={}, content=bodies[path_of(request).removeprefix("/api/v1")]
        )

    async with client_with(RecordingTransport(respond)) as client:
        assert [message.id async for message in client.messages.list()] == ["m1", "m2"]
        rows = [row async for row in client.messages.rows()]
        assert [bytes(row[-1]) for row in rows] == [M, b'{"id":"m2"}']
        assert (await client.messages.retrieve("m1")).text == "hi"


async def test_an_error_envelope_behind_a_byte_order_mark_keeps_its_type() -> None:
    envelope = b'{"status":404,"type":"errors/resource_not_found","title":"Not Found"}'

    def respond(request: Request) -> Response:
        return Response(status=404, headers={}, content=BOM + envelope)

    async with client_with(RecordingTransport(respond)) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.messages.retrieve("m1")
    assert caught.value.type == "errors/resource_not_found"


@pytest.mark.parametrize("count", [2**63, -(2**63) - 1, 10**30])
def test_an_int_column_out_of_64_bits_is_a_reject_not_a_failed_store(count: int) -> None:
    """Every sink stores an int column in 64 bits: a row beyond them would fail the
    store's whole batch (SQLite: OverflowError), so it is set aside as the item alone."""
    body = b'{"items":[{"id":"c1","unread_count":%d},{"id":"c2","unread_count":3}]}' % count
    rows = row_reader("chats", ("unread_count",), endpoint_label="GET /chats")(body)
    assert [row[:-1] for row in rows.items] == [("c2", 3)]
    assert [reject.raw for reject in rows.rejects] == [body[10 : body.index(b"},") + 1]]
    assert rows.rejects[0].reason.startswith("$.items[0].unread_count: Expected `int`")


def test_a_time_without_a_zone_is_read_as_utc_in_rows() -> None:
    """The API's times are UTC; one sent without its ``Z`` is UTC too. A naive datetime
    in a row would be read as the machine's local time by a sink (``timestamp()``)."""
    body = (
        b'{"items":[{"id":"a","timestamp":"2026-01-02T03:04:05.678"},'
        b'{"id":"b","timestamp":"2026-01-02T03:04:05.678Z"},{"id":"c","timestamp":null}]}'
    )
    rows = row_reader("messages", ("timestamp",), endpoint_label="GET /messages")(body)
    assert rows.rejects == []
    assert [row[:-1] for row in rows.items] == [
        ("a", datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)),
        ("b", datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)),
        ("c", None),
    ]
    assert [bytes(row[-1]) for row in rows.items] == [
        b'{"id":"a","timestamp":"2026-01-02T03:04:05.678"}',
        b'{"id":"b","timestamp":"2026-01-02T03:04:05.678Z"}',
        b'{"id":"c","timestamp":null}',
    ]
    assert all(row[1] is None or row[1].tzinfo is not None for row in rows.items)


def test_an_item_with_a_zone_less_time_and_a_bad_column_is_rejected_for_the_column() -> None:
    body = b'{"items":[{"id":"a","timestamp":"2026-01-02T03:04:05","is_sender":"yes"}]}'
    rows = row_reader("messages", None, endpoint_label="GET /messages")(body)
    assert rows.items == []
    assert [reject.reason for reject in rows.rejects] == [
        "$.items[0].is_sender: Expected `int | null`, got `str`"
    ]
