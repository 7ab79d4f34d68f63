"""The cursor-loop guard: the cursors one stream has followed, in bounded memory.

A list stream (:class:`~._pagination.PageFetcher`) asks its :class:`CursorTrail` before
it follows a page's cursor; a cursor the server sent before raises
:class:`~._exceptions.CursorLoopError` instead of handing out the same pages forever.
"""

from __future__ import annotations

from ._exceptions import CursorLoopError
from ._lazy import hashlib

__all__ = ["MAX_PAGES_WITHOUT_ITEMS", "CursorTrail", "Stall"]

#: Pages in a row a stream follows that hand out no new item (empty, or only repeats of
#: the page before) while sending a new cursor: a server paging for ever past its end.
MAX_PAGES_WITHOUT_ITEMS = 1000


class CursorTrail:
    """The cursors one stream has followed, to refuse one the server sends again.

    A server that repeats a cursor (``A -> A``) or cycles (``A -> B -> A``) would make
    the stream hand out the same pages forever. Two checks catch it in bounded memory
    (cursors are kept as 16-byte digests, so even a huge cursor costs 16 bytes):

    * the last ``RECENT`` cursors, exactly: a cycle of up to ``RECENT`` pages (every
      one seen in practice: a stuck cursor, a two-page ping-pong) is caught on the
      page that closes it, before any page is fetched twice;
    * Brent's cycle detection over the whole walk, with one more digest: a longer
      cycle is caught within about ``2 * (pages before it + its length)`` pages. Some
      pages are then handed out twice, but the stream ends.

    A set of every cursor would catch everything at once, but grows with the stream
    (millions of pages in a long export); these two stay at ``RECENT + 1`` digests.
    """

    RECENT = 256

    __slots__ = ("_mark", "_power", "_recent", "_steps")

    def __init__(self, start: str | None) -> None:
        self._recent: dict[bytes, None] = {}
        self._mark: bytes | None = None
        self._power = 1
        self._steps = 1
        if start is not None:
            self._mark = self._remember(_digest(start))

    def _remember(self, digest: bytes) -> bytes:
        self._recent[digest] = None
        if len(self._recent) > self.RECENT:
            del self._recent[next(iter(self._recent))]
        return digest

    def follow(self, cursor: str) -> None:
        """Record that the stream follows ``cursor`` next; CursorLoopError if it did before."""
        digest = _digest(cursor)
        if digest in self._recent or digest == self._mark:
            raise CursorLoopError(cursor)
        self._remember(digest)
        # Brent: the mark jumps to the newest cursor after 1, 2, 4, 8, ... steps.
        if self._steps == self._power:
            self._mark, self._power, self._steps = digest, self._power * 2, 0
        self._steps += 1


def _digest(cursor: str) -> bytes:
    return hashlib.blake2b(cursor.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class Stall:
    """The run of pages that hand out nothing while sending a cursor on, to end it.

    New cursors pass :class:`CursorTrail`, so a server that never ends (an offset cursor
    counting on past the last item, or stuck on one page whose items are all repeats)
    would be paged for ever without an item: after ``MAX_PAGES_WITHOUT_ITEMS`` such
    pages in a row it is a :class:`~._exceptions.CursorLoopError` (``.pages``).
    """

    __slots__ = ("_run",)

    def __init__(self) -> None:
        self._run = 0

    def page(self, cursor: str | None, handed_out: int) -> None:
        """Count a page that hands out ``handed_out`` items and sends ``cursor`` on."""
        if handed_out or cursor is None:
            self._run = 0
            return
        self._run += 1
        if self._run >= MAX_PAGES_WITHOUT_ITEMS:
            raise CursorLoopError(cursor, pages=self._run)
