"""The raw path: a list page as rows for a sink, each item kept exactly as the API sent it.

A sink stores an item's exact JSON (``data``) and a few typed columns (``TABLES``), so it
needs neither the full models nor a re-encode. :func:`row_reader` reads a page in two
whole-page msgspec decodes: once into raw item slices (``msgspec.Raw``, the exact bytes,
no copy), once more into a light Struct of just the columns the sink stores. Zipped, they
give rows ``(id, *values, data)``, values in ``TABLES`` order (see :data:`Row`).

One item never costs its page: when the light decode fails, each item is decoded on its
own, and an item that is not an object, has no string ``id`` (nor, for an account, a
string ``type``: the typed path needs it too), has a column of the wrong type or a text
column that is not UTF-8 (msgspec cuts raw items without checking it) becomes a :class:`Reject` (its exact bytes and why) beside the page's rows.
A body msgspec refuses for lone surrogate escapes (a text the JavaScript server cut
mid-emoji) is read from a repaired copy (U+FFFD in the typed values), while each item's
``data`` is cut from the body as sent (see ``_raw_items.split_items``). Only a body that is
not JSON, or a page whose own fields do not fit (``items`` not a list, a ``cursor`` that
is not a string), raises :class:`~postpress_async.ResponseDecodeError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from operator import itemgetter
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from msgspec.structs import astuple

from ._decode_errors import item_error
from ._exceptions import InvalidParameterError
from ._filters import ResourceName
from ._lazy import hashlib
from ._raw_items import split_items
from ._repeats import Repeats
from ._time import to_ms
from .models import Page
from .models._page import Cursor

__all__ = [
    "TABLES",
    "Column",
    "Kind",
    "Reject",
    "Row",
    "RowPage",
    "column_tuple",
    "digest",
    "row_reader",
    "row_repeats",
    "row_stamp",
]

#: A column's logical kind: "text" -> ``str | None``, "time" -> aware ``datetime | None``,
#: "int" -> ``int | None`` within 64 bits (signed). Each sink maps kinds to its own types.
Kind = Literal["text", "time", "int"]


class Column(NamedTuple):
    """A typed column of a table: its name (the item's field) and its logical kind."""

    name: str
    kind: Kind


#: Typed columns of each table besides ``id`` and ``data`` (in this order in every row).
TABLES: dict[ResourceName, tuple[Column, ...]] = {
    "messages": (
        Column("account_id", "text"),
        Column("chat_id", "text"),
        Column("sender_id", "text"),
        Column("timestamp", "time"),
        Column("text", "text"),
        Column("is_sender", "int"),
    ),
    "chats": (
        Column("account_id", "text"),
        Column("account_type", "text"),
        Column("name", "text"),
        Column("timestamp", "time"),
        Column("unread_count", "int"),
    ),
    "accounts": (
        Column("type", "text"),
        Column("name", "text"),
        Column("created_at", "time"),
    ),
}


class Reject(NamedTuple):
    """An item that could not be read as a row.

    It has no id and no time of its own: it is known by its bytes (:func:`digest`), so a
    store sets the same bytes of an endpoint aside once, however often they are listed.
    """

    #: The item exactly as the API sent it.
    raw: bytes
    #: One line: where and why, e.g. ``$.items[3].timestamp: Expected `str | null`, got `int```.
    reason: str


def digest(data: Any) -> str:
    """A short hex digest of an item's bytes exactly as given: how a reject is known."""
    return hashlib.blake2b(bytes(data), digest_size=12).hexdigest()


#: ``(id, *values, data)``: values in ``TABLES`` order (only the columns asked for),
#: ``data`` the item's bytes exactly as sent (bytes-like: ``msgspec.Raw`` or ``bytes``).
Row = tuple[Any, ...]


class RowPage(Page[Row], frozen=True, kw_only=True):
    """A list page read as rows (see :func:`row_reader`), plus the items that were not."""

    #: Items of this page that could not be read, in page order.
    rejects: list[Reject] = msgspec.field(default_factory=list)
    #: Whether the page's bytes hold a raw line break (only possible as whitespace, in
    #: pretty-printed JSON): a JSON lines store must then put each item on one line. Read
    #: once from the whole body (a few microseconds), so a store need not scan its rows.
    line_breaks: bool = True


class _RawPage(msgspec.Struct, gc=False):
    items: list[msgspec.Raw] = msgspec.field(default_factory=list)
    cursor: Cursor | None = None
    object: str | None = None


_RAW_PAGE = msgspec.json.Decoder(_RawPage)
_LF, _CR = b"\n", b"\r"

#: Every sink stores an int column in 64 bits: a value beyond them would fail a store's
#: whole batch, so its item is a reject instead (the typed path reads it as a Python int).
_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
#: A time with its zone: the API's are UTC (``Z``). One sent without a zone fails the
#: page decode, and its item alone is read as UTC (:meth:`_Reader._item_by_item`).
_AWARE = Annotated[datetime, msgspec.Meta(tz=True)]
_KIND_TYPES: dict[str, Any] = {"text": str | None, "time": _AWARE | None, "int": _INT64 | None}
#: Columns an item must carry as a string, as the typed path requires them: an account's
#: ``type`` picks its model, so an account without one is unreadable in both paths. It
#: is checked even when not asked for (then read, and cut from the row).
_REQUIRED: dict[str, tuple[str, ...]] = {"accounts": ("type",)}


def row_reader(
    endpoint: ResourceName, columns: tuple[str, ...] | None, *, endpoint_label: str
) -> Callable[[bytes], RowPage]:
    """The function that reads a list page's body of ``endpoint`` as a :class:`RowPage`.

    ``columns``: the typed columns each row carries, ``None`` for all of
    ``TABLES[endpoint]``; given in any order, rows hold them in ``TABLES`` order. A sink
    that stores only ``("timestamp",)`` does not pay for decoding ``text``.
    ``endpoint_label`` names the request in errors, e.g. ``"GET /messages"``. Built once
    per arguments, then reused. Raises :class:`~postpress_async.InvalidParameterError`
    for an unknown endpoint or column.
    """
    key = (endpoint, columns, endpoint_label)
    reader = _READERS.get(key)
    if reader is None:
        reader = _READERS[key] = _Reader(_compiled(endpoint, columns), endpoint_label)
    return reader


def row_stamp(
    endpoint: ResourceName, columns: tuple[str, ...] | None
) -> Callable[[Row], tuple[int, str] | None]:
    """``row -> (epoch ms of its time column, id)``, ``None`` for a row without a time.

    For rows read by ``row_reader(endpoint, columns, ...)``; those columns must hold the
    endpoint's time column (``timestamp``, or ``created_at`` for accounts).
    """
    chosen = _columns(endpoint, columns)
    time = next(column.name for column in TABLES[endpoint] if column.kind == "time")
    if time not in chosen:
        raise InvalidParameterError(
            "columns", f"rows without {time!r} carry no time to follow {endpoint} by"
        )
    at = 1 + chosen.index(time)

    def stamp(row: Row) -> tuple[int, str] | None:
        moment: datetime | None = row[at]
        return None if moment is None else (to_ms(moment), row[0])

    return stamp


def row_repeats(endpoint: ResourceName, columns: tuple[str, ...] | None) -> Repeats[Row]:
    """How rows are known (``id``) and placed (``timestamp``: what messages and chats are
    listed by; accounts' order is not known) to drop an offset server's repeats."""
    chosen = _columns(endpoint, columns)
    timed = endpoint != "accounts" and "timestamp" in chosen
    return Repeats(itemgetter(0), itemgetter(1 + chosen.index("timestamp")) if timed else None)


def column_tuple(columns: Sequence[str] | None) -> tuple[str, ...] | None:
    """The ``columns`` a caller gives, as the tuple the readers are cached by.

    A list is as good as a tuple; one string is refused by name, not read as its letters.
    """
    if columns is None or isinstance(columns, tuple):
        return columns
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        hint = f"; for one column: ({columns!r},)" if isinstance(columns, str) else ""
        raise InvalidParameterError(
            "columns", f"must be a sequence of column names, got {type(columns).__name__}{hint}"
        )
    return tuple(columns)


def _columns(endpoint: ResourceName, columns: tuple[str, ...] | None) -> tuple[str, ...]:
    """The column names asked for, checked, in ``TABLES`` order."""
    table = TABLES.get(endpoint)
    if table is None:
        raise InvalidParameterError(
            "endpoint", f"{endpoint!r} has no table; expected one of {', '.join(TABLES)}"
        )
    names = tuple(column.name for column in table)
    if columns is None:
        return names
    unknown = [name for name in columns if name not in names]
    if unknown:
        raise InvalidParameterError(
            "columns",
            f"{', '.join(map(repr, unknown))} not in the {endpoint} table; "
            f"its columns are {', '.join(names)}",
        )
    return tuple(name for name in names if name in columns)


class _Compiled(NamedTuple):
    page: msgspec.json.Decoder[Any]  # the light page: items of the light Struct
    item: msgspec.json.Decoder[Any]  # one item alone, into the light Struct
    width: int | None  # how many of its values a row keeps (None: all of them)
    naive: msgspec.json.Decoder[Any] | None  # one item, its time zone-less allowed
    at: int  # the index of the time column in a row (0: none)


_COMPILED: dict[tuple[str, tuple[str, ...]], _Compiled] = {}
_READERS: dict[tuple[str, tuple[str, ...] | None, str], Callable[[bytes], RowPage]] = {}


def _compiled(endpoint: ResourceName, columns: tuple[str, ...] | None) -> _Compiled:
    chosen = _columns(endpoint, columns)
    compiled = _COMPILED.get((endpoint, chosen))
    if compiled is None:
        kinds = {column.name: column.kind for column in TABLES[endpoint]}
        required = _REQUIRED.get(endpoint, ())
        checked = [name for name in required if name not in chosen]

        def light_struct(types: dict[str, Any]) -> Any:
            return msgspec.defstruct(
                f"{endpoint.capitalize()}Row",
                [
                    ("id", str),
                    *(
                        (name, str) if name in required else (name, types[kinds[name]], None)
                        for name in chosen
                    ),
                    *((name, str) for name in checked),
                ],
                kw_only=True,  # required fields after optional ones, in this order
                gc=False,
            )

        light = light_struct(_KIND_TYPES)
        time = next((name for name in chosen if kinds[name] == "time"), None)
        naive = light_struct({**_KIND_TYPES, "time": datetime | None})
        light_page = msgspec.defstruct(
            f"{endpoint.capitalize()}RowPage",
            [("items", list[light], msgspec.field(default_factory=list))],  # type: ignore[valid-type]
            gc=False,
        )
        compiled = _COMPILED[endpoint, chosen] = _Compiled(
            msgspec.json.Decoder(light_page),
            msgspec.json.Decoder(light),
            1 + len(chosen) if checked else None,
            None if time is None else msgspec.json.Decoder(naive),
            0 if time is None else 1 + chosen.index(time),
        )
    return compiled


class _Reader:
    """Reads one endpoint's page bodies as rows of the chosen columns."""

    __slots__ = ("_at", "_item", "_label", "_naive", "_page", "_values")

    def __init__(self, compiled: _Compiled, label: str) -> None:
        self._page = compiled.page
        self._item = compiled.item
        self._naive = compiled.naive
        self._at = compiled.at
        self._label = label
        width = compiled.width
        self._values: Callable[[Any], tuple[Any, ...]] = (
            astuple if width is None else lambda light: astuple(light)[:width]
        )

    def __call__(self, body: bytes) -> RowPage:
        page, sent, readable = split_items(body, _RAW_PAGE, endpoint=self._label)
        try:
            lights = self._page.decode(readable).items
        except (msgspec.DecodeError, RecursionError):
            return self._item_by_item(page, sent, _LF in body or _CR in body)
        values = self._values
        return RowPage(
            items=[(*values(light), raw) for light, raw in zip(lights, sent, strict=True)],
            cursor=page.cursor,
            object=page.object,
            line_breaks=_LF in body or _CR in body,
        )

    def _item_by_item(self, page: _RawPage, sent: Sequence[Any], line_breaks: bool) -> RowPage:
        """The slow path: a page with an item that does not fit, each item alone."""
        decode = self._item.decode
        rows: list[Row] = []
        rejects: list[Reject] = []
        for index, (raw, as_sent) in enumerate(zip(page.items, sent, strict=True)):
            try:
                light = decode(raw)
            except msgspec.DecodeError as exc:  # noqa: PERF203 - the slow path already
                # A ValidationError, or invalid UTF-8 in a text it reads (raw items are
                # cut without checking their UTF-8): either way, this item only.
                row = self._zone_less(raw, exc)
                if isinstance(row, msgspec.DecodeError):
                    path, message = item_error(row, index)
                    rejects.append(Reject(bytes(as_sent), f"{path}: {message}"))
                else:
                    rows.append((*row, as_sent))
            else:
                rows.append((*self._values(light), as_sent))
        return RowPage(
            items=rows,
            cursor=page.cursor,
            object=page.object,
            rejects=rejects,
            line_breaks=line_breaks,
        )

    def _zone_less(
        self, raw: Any, error: msgspec.DecodeError
    ) -> tuple[Any, ...] | msgspec.DecodeError:
        """The values of an item refused with ``error``, when only its time lacked a zone
        (read as UTC); else the error that names its fault."""
        if self._naive is None:
            return error
        try:
            values = self._values(self._naive.decode(raw))
        except msgspec.DecodeError as exc:
            return exc  # what else is wrong: the zone alone is not why it is refused
        at = self._at
        moment: datetime = values[at]  # not None: else the aware decode had read it
        return (*values[:at], moment.replace(tzinfo=timezone.utc), *values[at + 1 :])
