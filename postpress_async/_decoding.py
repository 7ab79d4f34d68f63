"""Turn response bodies into models.

The fast path is one msgspec ``Decoder`` per model, built on its first use and reused
(built at import, they cost every process ~20 ms of start-up, first request or not). Only when
it raises ``ValidationError`` does :func:`decode` take the slow path: decode to plain
Python, rewrite every member of a tagged union whose tag the SDK does not know into
that union's ``Unknown...`` member (:class:`~postpress_async.models.UnknownAccount`,
:class:`~postpress_async.models.UnknownAttachment`), then ``msgspec.convert``. So a
new account or attachment type never fails a page, and costs nothing when absent.

Where to look for such members is read from the model's own type tree
(``msgspec.inspect``), so the rewrite follows the models as they grow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar, overload

import msgspec
import msgspec.inspect as mi

from ._exceptions import ResponseDecodeError
from .models import ErrorBody
from .models._base import UNKNOWN_TAG

__all__ = ["decode", "decode_error_body", "peek_cursor"]

T = TypeVar("T")

#: Rewrites one plain-Python value in place or returns its replacement; appends the
#: raw tag of every member it turns into an ``Unknown...`` member to the list.
_Rewrite = Callable[[Any, list[Any]], Any]

_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}
_REWRITERS: dict[Any, _Rewrite | None] = {}

#: msgspec ends a validation message with the JSON path of the offending value.
_AT_PATH = re.compile(r"(?P<message>.*) - at `(?P<path>\$[^`]*)`", re.DOTALL)


def _decoder(model: Any) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(model)
    if decoder is None:
        decoder = _DECODERS[model] = msgspec.json.Decoder(model)
    return decoder


@overload
def decode(body: bytes, model: type[T], *, endpoint: str) -> T: ...
@overload
def decode(body: bytes, model: Any, *, endpoint: str) -> Any: ...
def decode(body: bytes, model: Any, *, endpoint: str) -> Any:
    """Decode a 2xx ``body`` into ``model``, or raise :class:`ResponseDecodeError`.

    ``model`` is a model class (``ChatList``, ``Message``, ...) or a union alias such
    as ``Account`` (typed ``Any`` then, since a union is not a ``type``). ``endpoint``
    only names the request in the error, e.g. ``"GET /chats"``.
    """
    try:
        return _decoder(model).decode(body)
    except msgspec.ValidationError as exc:
        return _decode_tolerantly(body, model, exc, endpoint=endpoint)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        # msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError.
        raise ResponseDecodeError(
            f"body is not valid JSON: {exc}", endpoint=endpoint, body=bytes(body)
        ) from exc


class _CursorOnly(msgspec.Struct, gc=False):
    cursor: str | None = None


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
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            pass
    try:
        return True, _CURSOR_ONLY.decode(body).cursor
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return False, None


def decode_error_body(body: bytes) -> ErrorBody | None:
    """Read the error envelope of a non-2xx ``body``.

    Returns ``None`` when the body is not a JSON object carrying at least one envelope
    field (an HTML page from a proxy, an empty body, a JSON array, ...). A field of the
    wrong type is dropped rather than failing the whole envelope.
    """
    try:
        error: ErrorBody | None = _decoder(ErrorBody).decode(body)
    except msgspec.ValidationError:
        error = _lenient_error_body(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None
    if error is None or error == _EMPTY_ERROR:
        return None
    return error


# --- Slow path ----------------------------------------------------------------------


def _decode_tolerantly(
    body: bytes, model: Any, error: msgspec.ValidationError, *, endpoint: str
) -> Any:
    rewrite = _rewriter(model)
    if rewrite is not None:
        try:
            obj = msgspec.json.decode(body)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            # The typed decoder stopped at the first mismatch, before reaching this.
            raise ResponseDecodeError(
                f"body is not valid JSON: {exc}", endpoint=endpoint, body=bytes(body)
            ) from exc
        unknown_tags: list[Any] = []
        obj = rewrite(obj, unknown_tags)
        if unknown_tags:
            try:
                return msgspec.convert(obj, model)
            except msgspec.ValidationError as exc:
                error = exc
    match = _AT_PATH.fullmatch(str(error))
    message, path = (match["message"], match["path"]) if match else (str(error), "$")
    raise ResponseDecodeError(message, endpoint=endpoint, path=path, body=bytes(body)) from error


def _rewriter(model: Any) -> _Rewrite | None:
    if model not in _REWRITERS:
        _REWRITERS[model] = _compile(mi.type_info(model), {})
    return _REWRITERS[model]


def _compile(t: mi.Type, memo: dict[Any, _Rewrite | None]) -> _Rewrite | None:
    """Build the rewrite for values of type ``t``; ``None`` when nothing below can need one."""
    if isinstance(t, mi.StructType):
        return _compile_struct(t, memo)
    if isinstance(t, mi.UnionType):
        return _compile_union(t, memo)
    if isinstance(t, mi.CollectionType):
        return _compile_array(t, memo)
    if isinstance(t, mi.DictType):
        return _compile_map(t, memo)
    return None


def _compile_struct(t: mi.StructType, memo: dict[Any, _Rewrite | None]) -> _Rewrite | None:
    if t.cls in memo:
        # A recursive model: defer to the entry that compilation of ``t`` fills in.
        return lambda value, found: _call_or_keep(memo[t.cls], value, found)
    memo[t.cls] = None
    fields = [
        (field.encode_name, rewrite)
        for field in t.fields
        if (rewrite := _compile(field.type, memo)) is not None
    ]
    if not fields:
        return None

    def rewrite_struct(value: Any, found: list[Any]) -> Any:
        if isinstance(value, dict):
            for name, rewrite in fields:
                if name in value:
                    value[name] = rewrite(value[name], found)
        return value

    memo[t.cls] = rewrite_struct
    return rewrite_struct


def _compile_union(t: mi.UnionType, memo: dict[Any, _Rewrite | None]) -> _Rewrite | None:
    rewrite_object: _Rewrite | None = None
    rewrite_array: _Rewrite | None = None
    tagged = [m for m in t.types if isinstance(m, mi.StructType) and m.tag_field is not None]
    if tagged:
        rewrite_object = _compile_tagged(tagged, memo)
    for member in t.types:
        if isinstance(member, mi.CollectionType):
            rewrite_array = _compile(member, memo)
        elif not tagged and isinstance(member, (mi.StructType, mi.DictType)):
            rewrite_object = _compile(member, memo)
    if rewrite_object is None and rewrite_array is None:
        return None

    def rewrite_union(value: Any, found: list[Any]) -> Any:
        if isinstance(value, dict):
            return _call_or_keep(rewrite_object, value, found)
        if isinstance(value, list):
            return _call_or_keep(rewrite_array, value, found)
        return value

    return rewrite_union


def _compile_tagged(
    members: list[mi.StructType], memo: dict[Any, _Rewrite | None]
) -> _Rewrite | None:
    tag_field = members[0].tag_field
    assert tag_field is not None
    by_tag = {member.tag: _compile(member, memo) for member in members}
    unknown = next((member for member in members if member.tag == UNKNOWN_TAG), None)
    to_unknown = None if unknown is None else _unknown_builder(unknown, tag_field)
    if to_unknown is None and all(rewrite is None for rewrite in by_tag.values()):
        return None
    tag_type = type(members[0].tag)  # all str or all int: msgspec does not mix them

    def rewrite_tagged(value: dict[str, Any], found: list[Any]) -> Any:
        tag = value.get(tag_field)
        if type(tag) is not tag_type:
            return value  # no tag, or a tag of the wrong type: let validation report it
        if tag in by_tag:
            return _call_or_keep(by_tag[tag], value, found)
        if to_unknown is None:
            return value
        found.append(tag)
        return to_unknown(value)

    return rewrite_tagged


def _unknown_builder(unknown: mi.StructType, tag_field: str) -> Callable[[dict[str, Any]], Any]:
    """Map ``{"type": "NEW", ...}`` to the wire form of the ``Unknown...`` member.

    That member has a ``type`` field (the raw tag, under a private wire name), a ``raw``
    field (the whole object) and any common fields, copied over when not null.
    """
    names = {field.name: field.encode_name for field in unknown.fields}
    raw_tag_key, raw_key = names.pop("type"), names.pop("raw")
    copied = tuple(names.values())

    def to_unknown(value: dict[str, Any]) -> Any:
        out = {key: value[key] for key in copied if value.get(key) is not None}
        out[tag_field] = UNKNOWN_TAG
        out[raw_tag_key] = value[tag_field]
        out[raw_key] = value
        return out

    return to_unknown


def _compile_array(t: mi.CollectionType, memo: dict[Any, _Rewrite | None]) -> _Rewrite | None:
    rewrite_item = _compile(t.item_type, memo)
    if rewrite_item is None:
        return None

    def rewrite_array(value: Any, found: list[Any]) -> Any:
        if isinstance(value, list):
            return [rewrite_item(item, found) for item in value]
        return value

    return rewrite_array


def _compile_map(t: mi.DictType, memo: dict[Any, _Rewrite | None]) -> _Rewrite | None:
    rewrite_value = _compile(t.value_type, memo)
    if rewrite_value is None:
        return None

    def rewrite_map(value: Any, found: list[Any]) -> Any:
        if isinstance(value, dict):
            return {key: rewrite_value(item, found) for key, item in value.items()}
        return value

    return rewrite_map


def _call_or_keep(rewrite: _Rewrite | None, value: Any, found: list[Any]) -> Any:
    return value if rewrite is None else rewrite(value, found)


# --- Error envelopes ----------------------------------------------------------------

_EMPTY_ERROR = ErrorBody()


def _lenient_error_body(body: bytes) -> ErrorBody | None:
    """Keep the envelope fields that have the documented type, drop the others."""
    try:
        obj = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None  # the typed decoder stopped at a mismatch before reaching this
    if not isinstance(obj, dict):
        return None
    texts = {
        name: value
        for name in ("title", "type", "detail", "instance")
        if isinstance(value := obj.get(name), str)
    }
    return ErrorBody(**texts, status=_status(obj.get("status")))


def _status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    return None
