"""Pagination: cursors bound to their listing, and the cache of rendered pages.

A cursor is urlsafe base64 of ``route:position:fingerprint``, where the fingerprint is
a CRC of the dataset and the filters (the API computes it): a cursor presented with
other filters, or to another dataset or route, is refused with a 400. The
:class:`PageCache` keeps rendered pages by bytes, so re-walking a listing costs a dict hit.
"""

from __future__ import annotations

import base64
import binascii
import collections
from collections.abc import Callable, Hashable, Mapping

from postpress_async.testing._query import DIGITS, bad

__all__ = ["Ahead", "PageCache", "decode_cursor", "encode_cursor"]

Ahead = Callable[[], None]
"""Renders the next page of a listing into the page cache (see ``Api.render_ahead``)."""


def encode_cursor(route: str, position: int, fingerprint: int) -> str:
    """The cursor of the page after ``position`` of ``route`` under these filters."""
    raw = f"{route}:{position}:{fingerprint:08x}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(query: Mapping[str, str], route: str, fingerprint: int) -> int | None:
    """The position of the query's ``cursor`` (``None``: none), if it is this listing's."""
    raw = query.get("cursor")
    if raw is None:
        return None
    try:
        text = base64.b64decode(raw.encode(), altchars=b"-_", validate=True).decode()
        name, position, mark = text.split(":")
        ok = name == route and DIGITS.match(position) is not None and len(mark) == 8
        ok = ok and int(mark, 16) == fingerprint
    except (binascii.Error, UnicodeError, ValueError):
        ok = False
    if not ok:
        raise bad(
            "cursor is invalid, or was issued for another listing or other filters; "
            "send the same filters as on the first page."
        )
    return int(position)


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
