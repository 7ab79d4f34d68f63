"""Counts in words, for the lines people read: ``1 request``, ``2 requests``."""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, one: str, many: str | None = None) -> str:
    """``1 request``, ``2 requests``, ``1,000 retries``: ``many`` defaults to ``one`` + s."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"
