"""Output formats: JSON lines (one object a line) and a fixed-width table.

The table's cells are cut to fit by display width (wide CJK characters count two
columns, combining marks none) and never contain a line break, so every row stays
one line whatever the messages say. Explicit direction controls (an override or
isolate a text leaves open) are dropped: a terminal that lays out right-to-left text
would carry them over the cells after it and show the row scrambled.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, BinaryIO, Final, Literal

import msgspec

__all__ = [
    "FORMATS",
    "STDOUT",
    "Column",
    "Format",
    "Resource",
    "Writer",
    "cell",
    "fit",
    "table_columns",
]

#: How an error names the command's output (an OSError writing it has no file name).
STDOUT: Final = "standard output"

Format = Literal["json", "table"]
FORMATS: Final = ("json", "table")
Resource = Literal["accounts", "chats", "messages"]


class Column:
    """One table column: a heading, a width in terminal columns, and how to read a cell."""

    __slots__ = ("get", "title", "width")

    def __init__(self, title: str, width: int, get: Callable[[Any], object]) -> None:
        self.title = title
        self.width = width
        self.get = get


def _first_status(account: Any) -> object:
    sources = getattr(account, "sources", None) or []
    return sources[0].status if sources else None


_COLUMNS: Final[dict[Resource, tuple[Column, ...]]] = {
    "accounts": (
        Column("ID", 30, lambda a: a.id),
        Column("TYPE", 15, lambda a: a.type),
        Column("NAME", 24, lambda a: a.name),
        Column("CREATED", 19, lambda a: a.created_at),
        Column("STATUS", 11, _first_status),
    ),
    "chats": (
        Column("ID", 31, lambda c: c.id),
        Column("ACCOUNT_TYPE", 12, lambda c: c.account_type),
        Column("NAME", 24, lambda c: c.name),
        Column("UNREAD", 6, lambda c: c.unread_count),
        Column("LAST_ACTIVITY", 19, lambda c: c.timestamp),
    ),
    "messages": (
        Column("ID", 30, lambda m: m.id),
        Column("TIMESTAMP", 19, lambda m: m.timestamp),
        Column("CHAT_ID", 31, lambda m: m.chat_id),
        Column("SENDER_ID", 22, lambda m: m.sender_id),
        Column("TEXT", 40, lambda m: m.text),
    ),
}


def table_columns(resource: Resource) -> tuple[Column, ...]:
    """The key columns shown for a resource."""
    return _COLUMNS[resource]


def cell(value: object) -> str:
    """A value as table text: datetimes as ``YYYY-MM-DD HH:MM:SS`` (UTC), ``None`` as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # the API may write an offset; JSON lines say Z
            value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


_ENCODER = msgspec.json.Encoder()

#: Bidirectional classes of the embedding, override and isolate controls (U+202A..E, U+2066..9).
_DIRECTION_CONTROLS: Final = frozenset(
    {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}
)


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in {"Mn", "Me", "Cf"}:
        return 0
    return 2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1


def fit(text: str, width: int) -> str:
    """``text`` on one line, cut with ``…`` and padded to exactly ``width`` columns."""
    flat = "".join(
        " " if ch.isspace() or unicodedata.category(ch) == "Cc" else ch
        for ch in text
        if unicodedata.bidirectional(ch) not in _DIRECTION_CONTROLS
    )
    total = sum(_char_width(ch) for ch in flat)
    if total <= width:
        return flat + " " * (width - total)
    out: list[str] = []
    used = 0
    for char in flat:
        w = _char_width(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + "…" + " " * (width - 1 - used)


class Writer:
    """Writes models to a binary stream as JSON lines or table rows."""

    def __init__(self, stream: BinaryIO, fmt: Format, resource: Resource, encoding: str) -> None:
        self._stream = stream
        self._format = fmt
        self._columns = table_columns(resource)
        self._encoding = encoding
        self._header_done = False

    def write(self, items: Sequence[Any]) -> None:
        """Write items (one line each) and flush, so output appears as pages arrive.

        JSON lines are ``model.to_builtins()``: snake_case keys everywhere and the server's
        ``.sssZ`` timestamps, as a Python user gets them (an export keeps the API's JSON).
        A failed write (a full disk) is an OSError naming :data:`STDOUT`.
        """
        try:
            self._write(items)
        except OSError as exc:
            if exc.filename is None:
                exc.filename = STDOUT
            raise

    def _write(self, items: Sequence[Any]) -> None:
        if self._format == "json":
            if items:
                encode = _ENCODER.encode
                self._stream.write(b"".join(encode(item.to_builtins()) + b"\n" for item in items))
        else:
            lines = [] if self._header_done else self._header()
            self._header_done = True
            lines.extend(self._row(item) for item in items)
            if lines:
                self._stream.write(("\n".join(lines) + "\n").encode(self._encoding, "replace"))
        self._stream.flush()

    def finish(self) -> None:
        """End the output: a table with no rows still gets its header."""
        if self._format == "table" and not self._header_done:
            self.write([])

    def _header(self) -> list[str]:
        titles = "  ".join(fit(c.title, c.width) for c in self._columns).rstrip()
        rule = "  ".join("-" * c.width for c in self._columns)
        return [titles, rule]

    def _row(self, item: Any) -> str:
        return "  ".join(fit(cell(c.get(item)), c.width) for c in self._columns).rstrip()
