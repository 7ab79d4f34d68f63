"""Turn response bodies into models.

The fast path is one msgspec ``Decoder`` per model, built on its first use and reused
(built at import, they cost every process ~20 ms of start-up, first request or not). Only when
it raises ``ValidationError`` does :func:`decode` take the slow path: the tolerant rewrite
of :mod:`._rewrite`, so a new account or attachment type never fails a page, and costs
nothing when absent.

Two habits of the real server get their own slow paths, again only taken after msgspec
refused a body, so a clean body pays nothing for them:

* Lone surrogates. A text the JavaScript server cut mid-emoji carries a lone surrogate
  escape, which msgspec refuses, for the whole body: the body is read from a copy
  repaired at the same length (:mod:`._surrogates`), and the items can still be sliced
  from the body as sent (:func:`~._raw_items.split_items`).
* One bad item. :func:`decode_page` decodes a page whose items do not all fit the model
  item by item: the good items are kept, each bad one becomes an :class:`UnreadableItem`,
  so a page is never lost to one item.

msgspec's errors become typed ones in :mod:`._decode_errors`; error envelopes (non-2xx
bodies) are read in :mod:`._error_body`.
"""

from __future__ import annotations

from typing import Any, TypeVar, get_args, overload

import msgspec

from ._decode_errors import NOT_JSON, item_error, message_and_path, not_json, page_error
from ._exceptions import ResponseDecodeError, UnreadableItem
from ._raw_items import split_items
from ._rewrite import convert_tolerantly
from ._surrogates import decode_repaired, repair_refused
from .models import Page
from .models._page import Cursor

__all__ = [
    "UnreadableItem",
    "decode",
    "decode_page",
    "peek_cursor",
    "set_aside_unplaced",
    "without_bom",
]

T = TypeVar("T")
P = TypeVar("P", bound=Page[Any])

_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(model: Any) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(model)
    if decoder is None:
        decoder = _DECODERS[model] = msgspec.json.Decoder(model)
    return decoder


#: A UTF-8 byte order mark, which msgspec refuses at the start of a body.
_BOM = b"\xef\xbb\xbf"


def without_bom(body: bytes) -> bytes:
    """``body`` without a leading UTF-8 byte order mark (a proxy's).

    RFC 8259 lets a parser ignore one, and Python's ``json`` does (so httpx and requests
    read such a body); no item starts with it, so items cut from the rest are as sent.
    """
    return body[len(_BOM) :] if body.startswith(_BOM) else body


@overload
def decode(body: bytes, model: type[T], *, endpoint: str) -> T: ...
@overload
def decode(body: bytes, model: Any, *, endpoint: str) -> Any: ...
def decode(body: bytes, model: Any, *, endpoint: str) -> Any:
    """Decode a 2xx ``body`` into ``model``, or raise :class:`ResponseDecodeError`.

    ``model`` is a model class (``ChatList``, ``Message``, ...) or a union alias such
    as ``Account`` (typed ``Any`` then, since a union is not a ``type``). ``endpoint``
    only names the request in the error, e.g. ``"GET /chats"``.

    A body msgspec refuses as JSON is tried once more with its lone surrogate escapes
    repaired (see :func:`~._surrogates.repair_lone_surrogates`): such a text gets U+FFFD in their place.
    """
    try:
        return _decoder(model).decode(body)
    except msgspec.ValidationError as exc:
        return _decode_tolerantly(body, model, exc, endpoint=endpoint)
    except NOT_JSON as exc:
        return _decode_repaired(body, model, exc, endpoint=endpoint)


def _decode_repaired(body: bytes, model: Any, error: Exception, *, endpoint: str) -> Any:
    """The slow path of a body msgspec refused as JSON: repair, then decode once more."""
    decoded, repaired = decode_repaired(_decoder(model).decode, body, error, endpoint=endpoint)
    if isinstance(decoded, msgspec.ValidationError):
        return _decode_tolerantly(repaired, model, decoded, endpoint=endpoint, sent=body)
    return decoded


class _CursorOnly(msgspec.Struct, gc=False):
    cursor: Cursor | None = None


_CURSOR_ONLY = msgspec.json.Decoder(_CursorOnly)
_KEY_STARTS = frozenset(b"{, \t\r\n")


def peek_cursor(body: bytes) -> tuple[bool, str | None]:
    """``(True, cursor)`` of a list page's body without decoding its items, else ``(False, None)``.

    The cursor is the last member of a page, so the tail from its key on is tried first:
    ``{`` + that tail is a JSON object only when the key is a member of the top-level
    object (a nested one leaves brackets unbalanced; the character before the quote rules
    out a key that only ends in ``\\"cursor``). Else a cursor-only decode skims the whole
    body. ``False`` when even that fails: the full decode will raise the typed error.
    """
    at = body.rfind(b'"cursor":')
    if at > 0 and body[at - 1] in _KEY_STARTS:
        try:
            return True, _CURSOR_ONLY.decode(b"{" + body[at:]).cursor
        except NOT_JSON:
            pass
    try:
        return True, _CURSOR_ONLY.decode(body).cursor
    except NOT_JSON as exc:
        repaired = repair_refused(body, exc)
    if repaired is not None:
        try:
            return True, _CURSOR_ONLY.decode(repaired).cursor
        except NOT_JSON:
            pass
    return False, None


def _decode_tolerantly(
    body: bytes,
    model: Any,
    error: msgspec.ValidationError,
    *,
    endpoint: str,
    sent: bytes | None = None,
) -> Any:
    """:func:`~._rewrite.convert_tolerantly`, its errors as :class:`ResponseDecodeError`.

    ``sent``: the body as sent, when ``body`` is its repaired copy (errors carry that one).
    """
    if sent is None:
        sent = body
    try:
        try:
            return convert_tolerantly(body, model, error)
        except NOT_JSON as exc:
            # The typed decoder stopped at its first mismatch, before a lone surrogate.
            repaired = repair_refused(body, exc) if sent is body else None
            if repaired is None:
                raise
            return convert_tolerantly(repaired, model, error)
    except msgspec.ValidationError as exc:
        raise page_error(exc, sent, endpoint=endpoint) from exc
    except NOT_JSON as exc:
        raise not_json(exc, sent, endpoint) from exc


def decode_page(body: bytes, model: type[P], *, endpoint: str) -> tuple[P, list[UnreadableItem]]:
    """Decode a list page's ``body`` into ``model``; items that do not fit are set aside.

    The fast path is the one typed decode of :func:`decode` (nothing more for a page
    that fits). When it fails inside ``$.items[...]``, the page is split into raw items
    and each is decoded on its own, with the same tolerance for unknown tagged-union
    members (an unknown account type is an ``UnknownAccount``, not unreadable): the
    items that fit stay in ``page.items`` in their order, each other one becomes an
    :class:`UnreadableItem`. A fault outside the items (a ``cursor`` of the wrong type,
    ``items`` not a list, a body that is not JSON) raises :class:`ResponseDecodeError`.

    Item by item is also how a page with unknown members inside its items is read:
    250 small decodes cost less than :func:`decode`'s whole-page rewrite.
    """
    typed = _decoder(model)
    readable = body
    try:
        return typed.decode(body), []
    except msgspec.ValidationError as exc:
        fault = exc
    except NOT_JSON as exc:
        decoded, readable = decode_repaired(typed.decode, body, exc, endpoint=endpoint)
        if not isinstance(decoded, msgspec.ValidationError):
            return decoded, []
        fault = decoded
    if not message_and_path(fault)[1].startswith("$.items["):
        # Outside the items: the whole-page rewrite reads it, or names the fault.
        return _decode_tolerantly(readable, model, fault, endpoint=endpoint, sent=body), []
    shell, item_type, others = _page_parts(model)
    page, sent, _ = split_items(body, shell, endpoint=endpoint)
    decode_item = _decoder(item_type).decode
    items: list[Any] = []
    unreadable: list[UnreadableItem] = []
    try:
        for index, raw in enumerate(page.items):
            try:
                items.append(decode_item(raw))
            except msgspec.ValidationError as exc:  # noqa: PERF203 - the slow path already
                try:
                    items.append(convert_tolerantly(raw, item_type, exc))
                except msgspec.ValidationError as fault:
                    path, message = item_error(fault, index, raw)
                    error = ResponseDecodeError(message, endpoint=endpoint, path=path, body=body)
                    error.__cause__ = fault
                    unreadable.append(
                        UnreadableItem(raw=bytes(sent[index]), error=error, index=index)
                    )
    except NOT_JSON as exc:
        # Invalid UTF-8: msgspec cuts raw items without checking it. The body is not
        # JSON, as when the whole-page decode meets it first.
        raise not_json(exc, body, endpoint) from exc
    return model(items=items, **{name: getattr(page, name) for name in others}), unreadable


def set_aside_unplaced(
    page: P, unreadable: list[UnreadableItem], body: bytes, field: str, *, endpoint: str
) -> tuple[P, list[UnreadableItem]]:
    """``page`` (from :func:`decode_page`) with each item whose ``field`` is null or missing
    set aside as unreadable too: a watch places items in time by it, and one without it
    has no place (it could be handed out neither once nor in order). The slow path runs
    only for a page that has such an item; ``unreadable`` comes back in page order."""
    items = page.items
    if all(getattr(item, field) is not None for item in items):
        return page, unreadable
    shell, _, _ = _page_parts(type(page))
    _, sent, _ = split_items(body, shell, endpoint=endpoint)
    taken = {item.index for item in unreadable}
    places = [index for index in range(len(sent)) if index not in taken]  # of page.items
    kept: list[Any] = []
    aside = list(unreadable)
    for index, item in zip(places, items, strict=True):
        if getattr(item, field) is not None:
            kept.append(item)
            continue
        error = ResponseDecodeError(
            f"{item.id!r} has no {field}: a watch cannot place it in time",
            endpoint=endpoint,
            path=f"$.items[{index}].{field}",
            body=body,
        )
        aside.append(UnreadableItem(raw=bytes(sent[index]), error=error, index=index))
    aside.sort(key=lambda item: item.index)
    return msgspec.structs.replace(page, items=kept), aside


_PAGE_PARTS: dict[Any, tuple[msgspec.json.Decoder[Any], Any, tuple[str, ...]]] = {}


def _page_parts(model: Any) -> tuple[msgspec.json.Decoder[Any], Any, tuple[str, ...]]:
    """A decoder of ``model`` with raw items, the item type, the names of the other fields."""
    parts = _PAGE_PARTS.get(model)
    if parts is None:
        fields = msgspec.structs.fields(model)
        items = next(field for field in fields if field.name == "items")
        others = [field for field in fields if field.name != "items"]
        shell = msgspec.defstruct(
            f"{model.__name__}RawItems",
            [
                ("items", list[msgspec.Raw], msgspec.field(default_factory=list)),
                *((field.name, field.type, _default(field)) for field in others),
            ],
            rename={field.name: field.encode_name for field in fields},
            kw_only=True,
        )
        parts = (
            msgspec.json.Decoder(shell),
            get_args(items.type)[0],
            tuple(f.name for f in others),
        )
        _PAGE_PARTS[model] = parts
    return parts


def _default(field: msgspec.structs.FieldInfo) -> Any:
    if field.default_factory is not msgspec.NODEFAULT:
        return msgspec.field(default_factory=field.default_factory)
    return field.default if field.default is not msgspec.NODEFAULT else msgspec.field()
