r"""Bad records: a few messages served with the bytes the real API sometimes sends.

A dataset built with ``bad_records=True`` spoils seven of its built messages, at fixed
places in the unfiltered list (``N`` = the configured ``messages``; an index is the
message's position in that list before any live message arrives; ``N`` must be at least
:data:`MIN_MESSAGES`). Each is served, in lists and on retrieve, as:

* index ``N // 8``, ``lone_high_surrogate``: ``"text":"Party time \ud83d"``, an emoji cut
  in half, exactly as JavaScript's ``JSON.stringify`` writes it;
* ``N // 8 + 2``, ``nul_in_text``: ``"text":"before\u0000after"``;
* ``N // 2 - 1``, ``null_item``: ``null`` instead of an object (the last item of a page
  whenever ``limit`` divides ``N / 2``: 100 or 250 for 1,000 messages);
* ``N // 2``, ``string_item``: ``"oops"`` instead of an object (then the first item of the
  next page);
* ``7 * N // 8``, ``timestamp_number``: ``"timestamp":1779011999000``: its own instant in
  epoch milliseconds, a number instead of the ISO string;
* ``7 * N // 8 + 2``, ``id_number``: ``"id":42``;
* ``7 * N // 8 + 4``, ``lone_low_surrogate``: ``"text":"\ude00 was the end of an emoji"``.

So the first page of the unfiltered listing and most pages are clean, and a 1,000-message walk at
``limit=100`` meets them on four pages. Everything else of a spoiled message is its
clean bytes; the listing, its order, its filters and its cursors are unchanged (a cursor
names a position, never an item's content), and a page holds ``limit`` items, bad ones
included. The surrogate and NUL texts are readable (a lone surrogate escape becomes
U+FFFD in the SDK: "repaired"); the other four are not.
"""

from __future__ import annotations

import dataclasses
from typing import Final, NamedTuple

__all__ = ["KINDS", "MIN_MESSAGES", "BadRecord", "bad_indexes", "spoil"]

MIN_MESSAGES: Final = 40
"""The fewest messages a dataset with bad records may have (the places must not meet)."""


class _Kind(NamedTuple):
    name: str
    readable: bool
    repaired: bool


KINDS: Final = (
    _Kind("lone_high_surrogate", readable=True, repaired=True),
    _Kind("nul_in_text", readable=True, repaired=False),
    _Kind("null_item", readable=False, repaired=False),
    _Kind("string_item", readable=False, repaired=False),
    _Kind("timestamp_number", readable=False, repaired=False),
    _Kind("id_number", readable=False, repaired=False),
    _Kind("lone_low_surrogate", readable=True, repaired=True),
)
"""Every kind of bad record, in the order of their places (see the module docstring)."""

_TEXTS: Final = {
    "lone_high_surrogate": b'"Party time \\ud83d"',
    "nul_in_text": b'"before\\u0000after"',
    "lone_low_surrogate": b'"\\ude00 was the end of an emoji"',
}
_WHOLE: Final = {"null_item": b"null", "string_item": b'"oops"'}
_TEXT_KEY: Final = b',"text":'
_AFTER_TEXT: Final = b',"is_sender":'
_TIMESTAMP_KEY: Final = b',"timestamp":"'
_ISO_LENGTH: Final = len("2026-05-17T09:59:59.000Z")
_HEAD: Final = b'{"object":"Message","id":'


@dataclasses.dataclass(frozen=True, slots=True)
class BadRecord:
    """One message served with bad bytes (``Dataset(bad_records=True)``)."""

    index: int
    """The message's index (its position in the unfiltered list of the built messages)."""
    id: str
    """The message's id in the dataset (what ``GET /messages/{id}`` takes), whatever the
    served bytes say."""
    kind: str
    """``lone_high_surrogate``, ``nul_in_text``, ``null_item``, ``string_item``,
    ``timestamp_number``, ``id_number`` or ``lone_low_surrogate``."""
    readable: bool
    """Whether an SDK reads it as a message (the surrogate and NUL texts)."""
    repaired: bool
    """Whether its text holds a lone surrogate escape, which the SDK reads as U+FFFD."""


def bad_indexes(messages: int) -> dict[int, str]:
    """The index and kind of each bad record of a dataset of ``messages`` messages."""
    if messages < MIN_MESSAGES:
        raise ValueError(f"bad_records needs at least {MIN_MESSAGES} messages, got {messages}")
    eighth, half, late = messages // 8, messages // 2, 7 * messages // 8
    places = (eighth, eighth + 2, half - 1, half, late, late + 2, late + 4)
    return {index: kind.name for index, kind in zip(places, KINDS, strict=True)}


def spoil(kind: str, clean: bytes, id_json: bytes, timestamp_ms: int) -> bytes:
    """The bytes served for a message of ``kind`` whose clean bytes are ``clean``.

    ``id_json`` is the message's id as JSON (with quotes), ``timestamp_ms`` its stamp.
    """
    whole = _WHOLE.get(kind)
    if whole is not None:
        return whole
    text = _TEXTS.get(kind)
    if text is not None:
        start = clean.index(_TEXT_KEY) + len(_TEXT_KEY)  # a message's own text comes first
        end = clean.index(_AFTER_TEXT, start)
        return clean[:start] + text + clean[end:]
    if kind == "timestamp_number":
        start = clean.index(_TIMESTAMP_KEY)
        end = start + len(_TIMESTAMP_KEY) + _ISO_LENGTH
        if clean[end : end + 1] != b'"':
            raise AssertionError(f"no ISO timestamp where expected in {clean[:200]!r}")
        number = b',"timestamp":%d' % timestamp_ms
        return clean[:start] + number + clean[end + 1 :]
    if kind == "id_number":
        head = _HEAD + id_json
        if not clean.startswith(head):
            raise AssertionError(f"a message that does not start with its id: {clean[:200]!r}")
        return _HEAD + b"42" + clean[len(head) :]
    raise ValueError(f"unknown kind of bad record {kind!r}")
