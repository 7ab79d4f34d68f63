"""Error envelopes: the body of a non-2xx answer, read as far as it can be.

:func:`decode_error_body` keeps each documented field of the envelope that has its
documented type and drops the others, so a proxy's odd envelope still names its status
and type; a body that is no envelope at all (an HTML page, an empty body) is ``None``.
A lone surrogate escape (a text cut mid-emoji) is read as U+FFFD (:mod:`._surrogates`), and
so is a byte that is not UTF-8 (a proxy's Latin-1, a text cut mid-character).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._decode_errors import NOT_JSON
from ._decoding import _decoder, without_bom
from ._exceptions import ResponseDecodeError
from ._surrogates import repair_refused
from ._words import printable
from .models import ErrorBody

__all__ = ["decode_error_body", "envelope_instead_of_page"]


def decode_error_body(body: bytes) -> ErrorBody | None:
    """Read the error envelope of a non-2xx ``body``.

    Returns ``None`` when the body is not a JSON object carrying at least one envelope
    field (an HTML page from a proxy, an empty body, a JSON array, ...). A field of the
    wrong type is dropped rather than failing the whole envelope.
    """
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
            return None
        return decode_error_body(repaired)
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
        return None if repaired is None else _lenient_error_body(repaired)
    if not isinstance(obj, dict):
        return None
    texts = {
        name: value
        for name in ("title", "type", "detail", "instance")
        if isinstance(value := obj.get(name), str)
    }
    return ErrorBody(**texts, status=_status(obj.get("status")))


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
