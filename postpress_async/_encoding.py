"""Models back to wire JSON, for exports and logs; or to snake_case builtins, for services.

This module sits below :mod:`.models` (it knows Structs in general, not the models), so
``Model.to_builtins()`` can call :func:`to_builtins` without an import pointing up.

``msgspec.json.encode`` is the fast path (:func:`encode_json_lines`: one encoder call for a
whole page). An ``Unknown...`` member (a type the SDK
does not know) is encoded as the object the API sent, kept in its ``raw`` field, so
an export holds what the server said, not the SDK's stand-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from ._time import format_datetime

__all__ = ["UNKNOWN_TAG", "encode_json", "encode_json_lines", "to_builtins"]

#: Tag of the ``Unknown...`` member of each tagged union. The decoder rewrites any
#: tag it does not know to this value, so a new provider type never fails a page.
UNKNOWN_TAG = "__unknown__"

_ENCODER = msgspec.json.Encoder()
_MARK = b'"' + UNKNOWN_TAG.encode() + b'"'


def encode_json(value: object) -> bytes:
    """Encode a model (or anything msgspec encodes) as the API's JSON."""
    data = _ENCODER.encode(value)
    if _MARK not in data:
        return data
    return _ENCODER.encode(_restore_unknown(msgspec.to_builtins(value)))


def encode_json_lines(items: Sequence[object]) -> bytes:
    """``items`` as JSON lines: each encoded as :func:`encode_json` does, ended by ``\\n``.

    One encoder call for the whole sequence (an export's page); the same bytes as
    ``b"".join(encode_json(item) + b"\\n" for item in items)``, ``b""`` for no items.
    """
    data = _ENCODER.encode_lines(items)
    if _MARK not in data:
        return data
    return b"".join([encode_json(item) + b"\n" for item in items])


def _restore_unknown(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("type") == UNKNOWN_TAG and isinstance(value.get("raw"), dict):
            return value["raw"]
        return {key: _restore_unknown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore_unknown(item) for item in value]
    return value


def to_builtins(value: Any) -> Any:
    """A model (or page, list, dict of them) as plain dicts, lists, str, int, float, bool, None.

    Keys are the Python attribute names, snake_case everywhere (``last_message``, never
    the wire's ``lastMessage``); a tagged member keeps its ``type``; datetimes are the
    server's ``YYYY-MM-DDTHH:MM:SS.sssZ`` strings. What FastAPI or ``json.dumps`` take.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    plan = _PLANS.get(kind)
    if plan is None and isinstance(value, msgspec.Struct):
        plan = _PLANS[kind] = _plan(kind)
    if plan is not None:
        tag_field, tag, names = plan
        out: dict[str, Any] = {} if tag_field is None else {tag_field: tag}
        for name in names:
            item = getattr(value, name)
            out[name] = item if type(item) in _PLAIN else to_builtins(item)
        return out
    if kind is datetime:
        return format_datetime(value)
    if isinstance(value, dict):
        return {key: to_builtins(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_builtins(item) for item in value]
    return value


_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})
_PLANS: dict[type, tuple[str | None, object, tuple[str, ...]]] = {}


def _plan(kind: type) -> tuple[str | None, object, tuple[str, ...]]:
    """How to turn one Struct class into a dict: its tag (if any) and its field names."""
    config = kind.__struct_config__  # type: ignore[attr-defined]
    tag_field = config.tag_field if config.tag != UNKNOWN_TAG else None
    return tag_field, config.tag, tuple(kind.__struct_fields__)  # type: ignore[attr-defined]
