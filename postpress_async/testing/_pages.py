"""Pagination: cursors bound to their listing, and the cache of rendered pages.

A keyset cursor (the default) is urlsafe base64 of ``route:position:fingerprint``, where
the position names the last item returned and the fingerprint is a CRC of the dataset
and the filters (the API computes it): a cursor presented with other filters, or to
another dataset or route, is refused with a 400. An offset cursor
(``Dataset(cursors="offset")``) is urlsafe base64 of the JSON
``{"skip": N, "list": route, "filters": fingerprint}``, as the API reference's
``eyJza2lwIjoxMDB9`` (``{"skip":100}``), and is refused on the same terms. The
:class:`PageCache` keeps rendered pages by bytes, so re-walking a listing costs a dict hit.
"""

from __future__ import annotations

import base64
import binascii
import collections
from collections.abc import Callable, Hashable, Mapping

import msgspec

from postpress_async.testing._query import DIGITS, Invalid, bad

__all__ = [
    "Ahead",
    "PageCache",
    "decode_cursor",
    "decode_skip_cursor",
    "encode_cursor",
    "encode_skip_cursor",
]

Ahead = Callable[[], None]
"""Renders the next page of a listing into the page cache (see ``Api.render_ahead``)."""


def encode_cursor(route: str, position: int, fingerprint: int) -> str:
    """The cursor of the page after ``position`` of ``route`` under these filters."""
    raw = f"{route}:{position}:{fingerprint:08x}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(query: Mapping[str, str], route: str, fingerprint: int) -> int | None:
    """The position of the query's ``cursor`` (``None``: none), if it is this listing's."""
    raw = _sent_cursor(query)
    return None if raw is None else _position(raw, route, fingerprint)


def _position(raw: bytes, route: str, fingerprint: int) -> int:
    try:
        name, position, mark = raw.decode().split(":")
        ok = name == route and DIGITS.match(position) is not None and len(mark) == 8
        ok = ok and int(mark, 16) == fingerprint
    except (UnicodeError, ValueError):
        ok = False
    if not ok:
        raise _refused()
    return int(position)


def encode_skip_cursor(route: str, skip: int, fingerprint: int) -> str:
    """The offset cursor of the page that starts ``skip`` items into ``route``'s listing."""
    raw = msgspec.json.encode({"skip": skip, "list": route, "filters": f"{fingerprint:08x}"})
    return base64.urlsafe_b64encode(raw).decode()


def decode_skip_cursor(query: Mapping[str, str], route: str, fingerprint: int) -> int | None:
    """The ``skip`` of the query's offset ``cursor`` (``None``: none), if it is this listing's."""
    raw = _sent_cursor(query)
    return None if raw is None else _skip(raw, route, fingerprint)


def _skip(raw: bytes, route: str, fingerprint: int) -> int:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        value = None
    if not (isinstance(value, dict) and set(value) == {"skip", "list", "filters"}):
        raise _refused()
    skip = value["skip"]
    ok = type(skip) is int and skip >= 0 and value["list"] == route
    if not (ok and value["filters"] == f"{fingerprint:08x}"):
        raise _refused()
    return int(skip)


def _sent_cursor(query: Mapping[str, str]) -> bytes | None:
    """The bytes the query's ``cursor`` encodes (``None``: none sent); not base64: refused."""
    raw = query.get("cursor")
    if raw is None:
        return None
    try:
        return base64.b64decode(raw.encode(), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeError):  # not base64, or not ASCII
        raise _refused() from None


def _refused() -> Invalid:
    return bad(
        "cursor is invalid, or was issued for another listing or other filters; "
        "send the same filters as on the first page."
    )


class PageCache:
    """A byte-bounded LRU of rendered pages, so re-walking a listing costs a dict hit.

    Each page is kept with what renders the page after it, if there is one.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._pages: collections.OrderedDict[Hashable, tuple[bytes, Ahead | None]] = (
            collections.OrderedDict()
        )

    def get(self, key: Hashable) -> tuple[bytes, Ahead | None] | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def __contains__(self, key: Hashable) -> bool:
        return key in self._pages

    def clear(self) -> None:
        self._pages.clear()
        self.size = 0

    def put(self, key: Hashable, body: bytes, ahead: Ahead | None = None) -> None:
        if len(body) > self.max_bytes:
            return
        old = self._pages.pop(key, None)
        if old is not None:
            self.size -= len(old[0])
        self._pages[key] = (body, ahead)
        self.size += len(body)
        while self.size > self.max_bytes:
            _, (dropped, _) = self._pages.popitem(last=False)
            self.size -= len(dropped)
