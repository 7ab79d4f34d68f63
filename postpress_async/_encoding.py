"""Models back to wire JSON, for exports and logs.

``msgspec.json.encode`` is the fast path. An ``Unknown...`` member (a type the SDK
does not know) is encoded as the object the API sent, kept in its ``raw`` field, so
an export holds what the server said, not the SDK's stand-in.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .models._base import UNKNOWN_TAG

__all__ = ["encode_json"]

_ENCODER = msgspec.json.Encoder()
_MARK = b'"' + UNKNOWN_TAG.encode() + b'"'


def encode_json(value: object) -> bytes:
    """Encode a model (or anything msgspec encodes) as the API's JSON."""
    data = _ENCODER.encode(value)
    if _MARK not in data:
        return data
    return _ENCODER.encode(_restore_unknown(msgspec.to_builtins(value)))


def _restore_unknown(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("type") == UNKNOWN_TAG and isinstance(value.get("raw"), dict):
            return value["raw"]
        return {key: _restore_unknown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore_unknown(item) for item in value]
    return value
