"""Unknown members of tagged unions, rewritten: how a new account or attachment type is read.

Only when the typed decoder refused a body: decode it to plain Python, rewrite every
member of a tagged union whose tag the SDK does not know into that union's ``Unknown...``
member (:class:`~postpress_async.models.UnknownAccount`,
:class:`~postpress_async.models.UnknownAttachment`), then ``msgspec.convert``
(:func:`convert_tolerantly`). So a new type never fails a page, and costs nothing when
absent. A time sent without a zone, which the models' aware times refuse, is completed
with ``Z`` on the way: the API's times are UTC.

Where to look for such members is read from the model's own type tree
(``msgspec.inspect``), once a model, so the rewrite follows the models as they grow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi

from .models._base import UNKNOWN_TAG

__all__ = ["convert_tolerantly"]

#: Rewrites one plain-Python value in place or returns its replacement; appends the
#: raw tag of every member it turns into an ``Unknown...`` member, and every time it
#: completes with a zone, to the list.
_Rewrite = Callable[[Any, list[Any]], Any]

_REWRITERS: dict[Any, _Rewrite | None] = {}


def convert_tolerantly(body: bytes, model: Any, error: msgspec.ValidationError) -> Any:
    """``body`` decoded into ``model`` with unknown tagged-union members rewritten.

    ``error`` is what the typed decoder raised; raised again when nothing needed a
    rewrite, else the conversion's own ``ValidationError`` (the fault that remains).
    """
    rewrite = _rewriter(model)
    if rewrite is None:
        raise error
    obj = msgspec.json.decode(body)
    unknown_tags: list[Any] = []
    obj = rewrite(obj, unknown_tags)
    if not unknown_tags:
        raise error
    return msgspec.convert(obj, model)


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
    if isinstance(t, mi.DateTimeType) and t.tz:
        return _rewrite_zone_less
    return None


#: How a time with its zone ends: ``Z``, or an offset (``+02:00``, ``+0200``, ``-05``).
_ZONE = re.compile(r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)\Z")


def _rewrite_zone_less(value: Any, found: list[Any]) -> Any:
    """A time sent without a zone, as UTC (``Z`` added): the API's times are UTC."""
    if isinstance(value, str) and not _ZONE.search(value):
        found.append(value)
        return value + "Z"
    return value


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
    rewrite_text: _Rewrite | None = None
    tagged = [m for m in t.types if isinstance(m, mi.StructType) and m.tag_field is not None]
    if tagged:
        rewrite_object = _compile_tagged(tagged, memo)
    for member in t.types:
        if isinstance(member, mi.CollectionType):
            rewrite_array = _compile(member, memo)
        elif not tagged and isinstance(member, (mi.StructType, mi.DictType)):
            rewrite_object = _compile(member, memo)
        elif isinstance(member, mi.DateTimeType):
            rewrite_text = _compile(member, memo)
    if rewrite_object is None and rewrite_array is None and rewrite_text is None:
        return None

    def rewrite_union(value: Any, found: list[Any]) -> Any:
        if isinstance(value, dict):
            return _call_or_keep(rewrite_object, value, found)
        if isinstance(value, list):
            return _call_or_keep(rewrite_array, value, found)
        if isinstance(value, str):
            return _call_or_keep(rewrite_text, value, found)
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
        # The fields the Unknown member copies are read as a known member's would be.
        return _call_or_keep(by_tag[UNKNOWN_TAG], to_unknown(value), found)

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
