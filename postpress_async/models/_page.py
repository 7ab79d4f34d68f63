"""One page of a cursor-paginated list."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from ._base import Model

__all__ = ["Page"]

T = TypeVar("T")


class Page(Model, Generic[T], frozen=True, kw_only=True, gc=True):
    """One page of a list endpoint; ``cursor`` is ``None`` on the last page."""

    items: list[T] = msgspec.field(default_factory=list)
    cursor: str | None = None
    object: str | None = None

    @property
    def has_more(self) -> bool:
        """Whether another page follows (the response carried a cursor)."""
        return self.cursor is not None
