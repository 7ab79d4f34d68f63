"""One page of a cursor-paginated list."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec

from ._base import Model

__all__ = ["Page"]  # Cursor, CURSOR_PATTERN: the SDK's own, not re-exported

T = TypeVar("T")

#: A page's cursor as the SDK takes it from a body: text of at least one character,
#: without a control character (U+0000-U+001F, U+007F). One with such a character could
#: be sent back percent-encoded, but no caller could give it again (``cursor=``, a resume
#: checkpoint, ``--cursor`` refuse one as a pasted line's end). An empty one is not the
#: end (the API sends ``null``) nor a cursor it takes back ("Length >= 1"): followed, it
#: asks for ``?cursor=``; read as the end, an export would stop early and call itself
#: complete. So a page carrying either does not fit its model: a typed error at
#: ``$.cursor``, in place of that page, rather than a checkpoint no stream would resume
#: from. (Spaces only are text of length >= 1: a cursor.)
CURSOR_PATTERN = "\\A[^\\x00-\\x1f\\x7f]+\\Z"
Cursor = Annotated[str, msgspec.Meta(pattern=CURSOR_PATTERN)]


class Page(Model, Generic[T], frozen=True, kw_only=True, gc=True):
    """One page of a list endpoint; ``cursor`` is ``None`` on the last page."""

    items: list[T] = msgspec.field(default_factory=list)
    cursor: Cursor | None = None
    object: str | None = None

    @property
    def has_more(self) -> bool:
        """Whether another page follows (the response carried a cursor)."""
        return self.cursor is not None
