"""What msgspec says about a body, as the SDK's typed error: never a raw decoder message.

A body msgspec refuses as JSON is ``body is not valid JSON: ...``; a value that does not
fit its model names its JSON path (``$.items[3].timestamp``), relative to the page for an
item decoded alone. Pure.
"""

from __future__ import annotations

import re

import msgspec

from ._exceptions import ResponseDecodeError
from ._words import printable
from .models._page import CURSOR_PATTERN

__all__ = ["NOT_JSON", "item_error", "message_and_path", "not_json", "page_error", "raw_item_id"]

#: What msgspec raises for a body that is not JSON (it reports invalid UTF-8 inside a
#: string as UnicodeDecodeError, nesting beyond its limit as RecursionError). Its
#: ValidationError is a DecodeError too: catch that one first.
NOT_JSON = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)

#: msgspec ends a validation message with the JSON path of the offending value.
_AT_PATH = re.compile(r"(?P<message>.*) - at `(?P<path>\$[^`]*)`", re.DOTALL)


def not_json(error: Exception, body: bytes, endpoint: str) -> ResponseDecodeError:
    """msgspec's ``error`` for a ``body`` that is not JSON, saying what the body is when
    msgspec cannot: empty (a 204, an empty 200: not "Input data was truncated"), or an
    HTML page (a proxy's login or error page sent with a 2xx)."""
    if not bytes(body).strip():
        message = "body is empty, not JSON"
    elif bytes(body[:_SNIFF]).lstrip().lower().startswith(_HTML):
        message = f"body is not valid JSON: it is an HTML page (from a proxy?): {error}"
    else:
        message = f"body is not valid JSON: {error}"
    return ResponseDecodeError(message, endpoint=endpoint, body=bytes(body))


#: What a cursor's pattern (:data:`~.models._page.Cursor`) means, said for people.
_CURSOR_WORDS = (
    "of at least one character, without a control character (U+0000-U+001F, U+007F): "
    "the API sends null at the end and a cursor of at least one character otherwise, "
    "and no caller could give a cursor with a control character back to resume from"
)

#: How much of a body is looked at to tell an HTML page.
_SNIFF = 1024
#: How an HTML page begins.
_HTML = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<!--")


def page_error(
    error: msgspec.ValidationError, body: bytes, *, endpoint: str
) -> ResponseDecodeError:
    """msgspec's ``error`` for ``body`` as a :class:`ResponseDecodeError` with its JSON path."""
    message, path = message_and_path(error)
    return ResponseDecodeError(message, endpoint=endpoint, path=path, body=bytes(body))


def item_error(error: msgspec.DecodeError, index: int, raw: bytes = b"") -> tuple[str, str]:
    """``(path, message)`` of msgspec's ``error`` for item ``index`` of a page decoded alone.

    The path is made relative to the page: ``$.timestamp`` of item 3 is
    ``$.items[3].timestamp``. The message ends with the id the item's bytes ``raw`` were
    sent with, when they hold a string one: an index says nothing once the page is gone.
    """
    message, path = message_and_path(error)
    item_id = raw_item_id(raw)
    if item_id is not None:
        message += f" (item id {printable(repr(_shorten(item_id)))})"
    return f"$.items[{index}]{path[1:]}", message


class _Id(msgspec.Struct, gc=False):
    id: str | None = None


_ID_ONLY = msgspec.json.Decoder(_Id)
#: How many characters of an id an error quotes.
_ID_CHARS = 80


def raw_item_id(raw: bytes) -> str | None:
    """The string ``id`` of an item's bytes ``raw``; ``None`` for none, or no object."""
    try:
        return _ID_ONLY.decode(raw).id
    except NOT_JSON:  # not an object, an id that is not a string, not JSON at all
        return None


def _shorten(text: str) -> str:
    return text if len(text) <= _ID_CHARS else text[:_ID_CHARS] + "..."


def message_and_path(error: msgspec.DecodeError) -> tuple[str, str]:
    """msgspec's message without its path, and the path (``$`` when it names none).

    msgspec quotes some refused values as sent: the message shows their control
    characters as escapes (:func:`~._words.printable`), on one line.
    """
    match = _AT_PATH.fullmatch(str(error))
    message, path = (match["message"], match["path"]) if match else (str(error), "$")
    message = message.replace(f"matching regex {CURSOR_PATTERN!r}", _CURSOR_WORDS)
    return printable(message), printable(path)
