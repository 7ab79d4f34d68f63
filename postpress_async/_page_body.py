"""A list page as it came off the wire, and the server's clock as its responses tell it.

:class:`PageBody` is a page's body with only its cursor read up front (the page is
decoded later, see :mod:`._pagination`) and the server's time when it was sent: the HTTP
``Date`` header (RFC 9110: an origin server with a clock sends it), which
:func:`server_time_ms` reads once a second. :class:`ServerClock` keeps, for one
listing, the time it began (its earliest response); a follow bounds its position by it
(see :mod:`._follow`), so one item a provider dated in the future cannot move the
position past what the server's own clock has reached. The local clock is never read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ._decoding import peek_cursor
from ._epoch import to_ms
from .models import Page

__all__ = ["FetchPage", "PageBody", "ReadPage", "ServerClock", "as_page", "server_time_ms"]

T = TypeVar("T")

#: Reads a list page's body: into models (the typed streams) or into rows (the raw path
#: of the sinks, :mod:`._rows`); raises :class:`ResponseDecodeError` for a bad body.
ReadPage = Callable[[bytes], Page[T]]


#: The last ``Date`` read and its time: the pages of one second share it (one slot;
#: tasks racing for it only cost a second read).
_last: list[tuple[str | None, int | None]] = [(None, None)]


def server_time_ms(date: str | None) -> int | None:
    """A ``Date`` header's time in epoch ms, at the *end* of its second (it has 1-second
    resolution: an item the server stamped within that second is not after it).

    ``None`` for no header or one that cannot be read: no bound, never an error (a
    server's clock is a hint that bounds positions, not data the SDK relies on).
    """
    if not date:
        return None
    last = _last[0]
    if date == last[0]:
        return last[1]
    from email.utils import parsedate_to_datetime  # not at import time

    try:
        ms: int | None = to_ms(parsedate_to_datetime(date)) // 1000 * 1000 + 999
    except (TypeError, ValueError, IndexError, OverflowError):
        ms = None
    _last[:] = [(date, ms)]  # naive ("-0000"): UTC, as RFC 5322 says
    return ms


class ServerClock:
    """The server's time when a listing began (``ms``; ``None``: no response said).

    The earliest time its responses carried, not the latest: a message that arrives
    while the listing runs is not in it (the API lists newest first) and is stamped
    after it began, so a position bounded by that moment still lists it next time; one
    bounded by a later response (a slow listing, retries) could rise past it.
    """

    __slots__ = ("ms",)

    def __init__(self) -> None:
        self.ms: int | None = None

    def saw(self, ms: int | None) -> None:
        """A response said the server's time was ``ms`` (``None``: it did not say)."""
        if ms is not None and (self.ms is None or ms < self.ms):
            self.ms = ms


class PageBody(Generic[T]):
    """A list page read off the wire, decoded on demand; its cursor is read up front.

    ``server_ms``: the server's time when it sent the page (:func:`server_time_ms`).
    """

    __slots__ = ("_body", "_read", "cursor", "cursor_known", "server_ms")

    def __init__(self, body: bytes, read: ReadPage[T], server_ms: int | None = None) -> None:
        self._body = body
        self._read = read
        self.server_ms = server_ms
        #: Whether ``cursor`` could be read without decoding the page (else decode it).
        self.cursor_known, self.cursor = peek_cursor(body)

    def decode(self) -> Page[T]:
        """The page, or :class:`ResponseDecodeError`."""
        return self._read(self._body)


FetchPage = Callable[[str | None], Awaitable[Page[T] | PageBody[T]]]


def as_page(got: Page[T] | PageBody[T]) -> Page[T]:
    """The page ``got`` is (a :class:`PageBody` decoded)."""
    return got.decode() if isinstance(got, PageBody) else got
