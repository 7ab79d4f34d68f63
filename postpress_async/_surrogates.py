"""Lone surrogate escapes: the JavaScript server's habit, repaired at the same length.

The server is JavaScript: a text cut mid-emoji carries a lone surrogate escape such as
``\\ud83d`` (valid JSON syntax), which msgspec refuses, for the whole body.
:func:`repair_lone_surrogates` rewrites each lone escape to ``\\ufffd`` (U+FFFD), same
length, so every byte offset of the body still holds and the items can be sliced from the
body as sent (:func:`~._raw_items.split_items`). Only ever a slow path: it is tried after
msgspec refused a body (:func:`repair_refused`; :func:`decode_repaired` decodes the copy),
so a clean body pays nothing for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import msgspec

from ._decode_errors import NOT_JSON, not_json

__all__ = ["decode_repaired", "repair_lone_surrogates", "repair_refused"]

T = TypeVar("T")

#: A surrogate escape, high (group ``high`` set) or low. It is one only when the run of
#: backslashes right before it is even: in ``\\ud83d`` the backslash is escaped and
#: ``ud83d`` is text. Searching for the rare ``\uD...`` alone is ~3x faster than
#: reading every backslash of the body.
_SURROGATE = re.compile(rb"\\u[dD](?:(?P<high>[89abAB])|[c-fC-F])[0-9a-fA-F]{2}")
#: The escape of U+FFFD: as long as the escape it replaces.
_REPLACEMENT = b"\\ufffd"


def repair_refused(body: bytes, error: Exception) -> bytes | None:
    """``body`` repaired, when msgspec refused it as JSON and it has lone surrogates."""
    if isinstance(error, msgspec.ValidationError) or not isinstance(error, msgspec.DecodeError):
        return None
    return repair_lone_surrogates(body)


def decode_repaired(
    decode: Callable[[bytes], T], body: bytes, error: Exception, *, endpoint: str
) -> tuple[T | msgspec.ValidationError, bytes]:
    """Decode the repaired copy of ``body``, which msgspec refused as JSON with ``error``.

    Returns what ``decode`` made of the copy, or the ``ValidationError`` it raised (the
    copy is JSON, a value in it does not fit), with the copy. Raises
    :class:`~._exceptions.ResponseDecodeError` (not valid JSON, for the body as sent)
    when there is nothing to repair or the copy is still not JSON.
    """
    repaired = repair_refused(body, error)
    if repaired is None:
        raise not_json(error, body, endpoint) from error
    try:
        return decode(repaired), repaired
    except msgspec.ValidationError as fault:
        return fault, repaired
    except NOT_JSON as again:
        raise not_json(again, body, endpoint) from again


def repair_lone_surrogates(body: bytes) -> bytes | None:
    """``body`` with each lone surrogate escape replaced by ``\\ufffd``; ``None`` if it has none.

    Lone: a high ``\\uD800``-``\\uDBFF`` escape not immediately followed by a low
    ``\\uDC00``-``\\uDFFF`` one, or a low one not preceded by a high one (hex digits in
    any case). A valid pair, any other escape and ``\\\\ud83d`` (an escaped backslash,
    then text) are left alone. Each replacement is 6 bytes for 6, so every byte offset
    of the body holds in the copy. Pure; meant for the slow path only (after msgspec
    refused the body).
    """
    lone: list[int] = []
    high = -1  # where a high escape waits for its low one
    for match in _SURROGATE.finditer(body):
        start = match.start()
        before = start
        while before and body[before - 1] == 0x5C:  # backslash
            before -= 1
        if (start - before) % 2:
            continue  # "\\" then text
        if high >= 0 and (match["high"] is not None or high + 6 != start):
            lone.append(high)  # the escape after a high one is not a low one
        if match["high"] is not None:
            high = start
        elif high >= 0 and high + 6 == start:
            high = -1  # a valid pair
        else:
            high = -1
            lone.append(start)
    if high >= 0:
        lone.append(high)
    if not lone:
        return None
    copy = bytearray(body)
    for start in lone:
        copy[start : start + 6] = _REPLACEMENT
    return bytes(copy)
