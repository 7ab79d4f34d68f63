"""Error envelopes: the body of a non-2xx answer, read as far as it can be.

:func:`decode_error_body` keeps each documented field of the envelope that has its
documented type and drops the others, so a proxy's odd envelope still names its status
and type; a body that is no envelope at all (an HTML page, an empty body) is ``None``.
A lone surrogate escape (a text cut mid-emoji) is read as U+FFFD (:mod:`._surrogates`), and
so is a byte that is not UTF-8 (a proxy's Latin-1, a text cut mid-character). A body cut
short (past ``Limits.max_error_body_bytes``, or broken off) keeps the top-level members that
arrived whole before the cut (:func:`was_cut` tells such a body), never a cut one, and
those whole at the end of its tail (its last bytes, kept by the transport).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ._decode_errors import NOT_JSON
from ._decoding import _decoder, without_bom
from ._exceptions import ResponseDecodeError
from ._surrogates import repair_refused
from ._words import printable
from .models import ErrorBody

__all__ = ["decode_error_body", "envelope_instead_of_page", "was_cut"]


def decode_error_body(body: bytes, tail: bytes = b"") -> ErrorBody | None:
    """Read the error envelope of a non-2xx ``body``.

    Returns ``None`` when the body is not a JSON object carrying at least one envelope
    field (an HTML page from a proxy, an empty body, a JSON array, ...). A field of the
    wrong type is dropped rather than failing the whole envelope. ``tail``, the last bytes
    of a ``body`` cut at the cap (``Response.tail``), adds the whole top-level members that
    end the object (the API's ``type`` and ``status`` come after ``detail``); a member of
    the head is never replaced by one of the tail.
    """
    envelope = _decode_head(body)
    if not tail or _whole_members_end(without_bom(body)) is None:
        return envelope  # no tail, or a body that is not an object cut short
    last = _last_members(tail)
    if envelope is None or last is None:
        return envelope or last
    missing = {
        name: value
        for name in ErrorBody.__struct_fields__
        if getattr(envelope, name) is None and (value := getattr(last, name)) is not None
    }
    return msgspec.structs.replace(envelope, **missing)


def _decode_head(body: bytes) -> ErrorBody | None:
    body = without_bom(body)
    try:
        error: ErrorBody | None = _decoder(ErrorBody).decode(body)
    except msgspec.ValidationError:
        error = _lenient_error_body(body)
    except NOT_JSON as exc:
        # A text the server cut mid-emoji (a lone surrogate escape) or a byte that is not
        # UTF-8 must not cost the envelope: its type decides the retry. Read the
        # repaired copy once more.
        repaired = _repaired(body, exc)
        if repaired is None:
            return _cut_error_body(body)
        return _decode_head(repaired)
    if error is None or error == _EMPTY_ERROR:
        return None
    return error


_EMPTY_ERROR = ErrorBody()


def envelope_instead_of_page(body: bytes, *, endpoint: str) -> ResponseDecodeError | None:
    """The error for a 2xx list body that is an error envelope, not a page; else ``None``.

    A page's fields all have defaults, so a proxy's 200 carrying ``{"type": ...,
    "title": ..., "status": 503}`` would read as an empty last page and end a listing as
    complete. A body with an ``items`` key is a page; one without is an envelope when it
    has a ``type`` or a ``status`` (``{}`` stays an empty page). For a page without a
    cursor only: the scan for ``"items"`` costs once a listing.
    """
    if b'"items"' in body:
        return None
    envelope = decode_error_body(body)
    if envelope is None or (envelope.type is None and envelope.status is None):
        return None
    what = " ".join(str(part) for part in (envelope.status, envelope.type) if part is not None)
    if envelope.title:
        what += f": {envelope.title}"
    what = printable(what)  # the server's words: one line, no escape sequence
    return ResponseDecodeError(
        f"the body is an error envelope, not a page ({what})", endpoint=endpoint, body=body
    )


def _lenient_error_body(body: bytes) -> ErrorBody | None:
    """Keep the envelope fields that have the documented type, drop the others."""
    try:
        obj = msgspec.json.decode(body)
    except NOT_JSON as exc:
        # The typed decoder stopped at a mismatch before reaching this: not JSON, or a
        # lone surrogate escape or a byte that is not UTF-8 (read from the repaired copy).
        repaired = _repaired(body, exc)
        return _cut_error_body(body) if repaired is None else _lenient_error_body(repaired)
    if not isinstance(obj, dict):
        return None
    texts = {
        name: value
        for name in ("title", "type", "detail", "instance")
        if isinstance(value := obj.get(name), str)
    }
    return ErrorBody(**texts, status=_status(obj.get("status")))


def was_cut(body: bytes) -> bool:
    """Whether ``body``, from which an envelope was read, broke off before its object
    ended: the envelope holds only the members before the cut (pure, O(1))."""
    return not body.rstrip(b" \t\r\n").endswith(b"}")


def _cut_error_body(body: bytes) -> ErrorBody | None:
    """The envelope of the members whole before the cut of a JSON object cut short; ``None``
    for a body not cut (broken mid-way: not JSON) or with no whole member."""
    end = _whole_members_end(body)
    return None if end is None else _decode_head(body[:end] + b"}")


class _Cut(Exception):
    """The body ran out inside a member."""


class _Broken(Exception):
    """The body is not the start of a JSON object."""


_SPACE = re.compile(rb"[ \t\r\n]*")
_LITERAL = re.compile(rb"[-+.0-9A-Za-z]+")  # a number, true, false, null: checked when decoded
_STRING_OR_BRACKET = re.compile(rb'["{}\[\]]')


def _whole_members_end(body: bytes) -> int | None:
    """Where the last top-level member whole before the cut ends (past the ``{`` if none
    did), in a JSON object that ran out; ``None`` if ``body`` is not such an object (a body
    broken mid-way, an object that ended). One pass, linear in ``len(body)``."""
    pos = _space_end(body, 0)
    if body[pos : pos + 1] != b"{":
        return None
    pos += 1
    end = pos
    try:
        while True:
            pos = _space_end(body, pos)
            if body[pos : pos + 1] != b'"':
                raise _Cut if pos == len(body) else _Broken  # '}': it ended, not cut
            pos = _space_end(body, _string_end(body, pos))
            if body[pos : pos + 1] != b":":
                raise _Cut if pos == len(body) else _Broken
            pos = _value_end(body, _space_end(body, pos + 1))
            end = pos
            pos = _space_end(body, pos)
            if body[pos : pos + 1] != b",":
                raise _Cut if pos == len(body) else _Broken
            pos += 1
    except _Cut:
        return end
    except _Broken:
        return None


#: A top-level member may start at a comma and a quote (a quote inside a text is escaped).
_NEXT_MEMBER = re.compile(rb',[ \t\r\n]*"')
_VALUE_LAST_BYTES = frozenset(b'"}]0123456789el')  # a text, object, array, number, true, null
_MAX_TAIL_TRIES = 64


def _last_members(tail: bytes) -> ErrorBody | None:
    """The envelope of the longest run of whole members that ends ``tail`` (the last bytes
    of an object), or ``None``. Each member start after something that can end a value is
    tried from the left, ``{`` + the rest read as JSON: the first object read wins, so a
    nested object's members (``{"type": ...}}`` does not parse) are never taken for the
    envelope's. Bounded: at most ``_MAX_TAIL_TRIES`` reads of ``len(tail)`` bytes."""
    tries = 0
    for found in _NEXT_MEMBER.finditer(tail):
        if not _after_a_value(tail, found.start()):
            continue
        candidate = b"{" + tail[found.end() - 1 :]
        if _is_object(candidate):
            return _decode_head(candidate)
        tries += 1
        if tries == _MAX_TAIL_TRIES:
            break
    return None


def _after_a_value(tail: bytes, comma: int) -> bool:
    """Whether what precedes ``tail[comma]`` can end a value: never an escaped quote, nor a
    quote whose backslashes may go on before the tail began."""
    last = comma - 1
    while last >= 0 and tail[last] in b" \t\r\n":
        last -= 1
    if last < 0 or tail[last] not in _VALUE_LAST_BYTES:
        return False
    if tail[last] != 0x22:  # '"'
        return True
    run = _backslashes_before(tail, last, 0)
    return run < last and run % 2 == 0


def _is_object(candidate: bytes) -> bool:
    try:
        return isinstance(msgspec.json.decode(candidate), dict)
    except NOT_JSON as exc:
        repaired = _repaired(candidate, exc)
        return repaired is not None and _is_object(repaired)


def _space_end(body: bytes, pos: int) -> int:
    found = _SPACE.match(body, pos)
    return pos if found is None else found.end()


def _value_end(body: bytes, pos: int) -> int:
    """The offset past the value at ``pos``; :class:`_Cut` if the body ends in it (or may:
    a number at the very end might have gone on)."""
    first = body[pos : pos + 1]
    if first == b'"':
        return _string_end(body, pos)
    if first in (b"{", b"["):
        depth = 0
        while (found := _STRING_OR_BRACKET.search(body, pos)) is not None:
            pos = found.start()
            if body[pos] == 0x22:  # '"'
                pos = _string_end(body, pos)
                continue
            depth += 1 if body[pos] in b"{[" else -1
            pos += 1
            if depth == 0:
                return pos
        raise _Cut
    literal = _LITERAL.match(body, pos)
    if literal is None:
        raise _Cut if pos == len(body) else _Broken
    if literal.end() == len(body):
        raise _Cut
    return literal.end()


def _string_end(body: bytes, pos: int) -> int:
    """The offset past the string opening at ``pos``; :class:`_Cut` if the body ends first.
    A quote after an odd run of backslashes is escaped; each run is counted once."""
    at = pos + 1
    while (at := body.find(b'"', at)) >= 0:
        if _backslashes_before(body, at, pos + 1) % 2 == 0:
            return at + 1
        at += 1
    raise _Cut


def _backslashes_before(data: bytes, at: int, floor: int) -> int:
    """How many backslashes run back from ``data[at]``, not past ``floor``: an odd run
    escapes the quote at ``at``."""
    start = at
    while start > floor and data[start - 1] == 0x5C:  # '\\'
        start -= 1
    return at - start


def _repaired(body: bytes, error: Exception) -> bytes | None:
    """``body`` repaired after msgspec refused it with ``error``, or ``None`` if nothing can be.

    Lone surrogate escapes first (:func:`repair_refused`), then bytes that are not UTF-8,
    each read as U+FFFD; a body already valid UTF-8 gives ``None``, so a caller that reads
    the copy again stops there.
    """
    repaired = repair_refused(body, error)
    if repaired is not None:
        return repaired
    if isinstance(error, msgspec.ValidationError):
        return None  # JSON, a value of the wrong type: nothing to repair
    replaced = body.decode("utf-8", "replace").encode()
    return None if replaced == body else replaced


def _status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdecimal():
        try:
            return int(value)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            return None
    return None
