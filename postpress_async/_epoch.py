"""Milliseconds since the epoch <-> aware UTC datetimes: the API's time, as numbers.

The bottom of the time helpers (:mod:`._time` parses, validates and formats on top of
it): it imports nothing of the package, so the resume positions (:mod:`._positions`) and
the errors that carry them may use it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Final

__all__ = ["EPOCH", "MS", "from_ms", "to_ms"]

#: One millisecond, and the epoch, aware in UTC.
MS: Final = timedelta(milliseconds=1)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_ms(moment: datetime) -> int:
    """A datetime -> whole milliseconds since the epoch (rounded down; naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // MS


def from_ms(ms: int) -> datetime:
    """Milliseconds since the epoch -> an aware UTC datetime."""
    return EPOCH + ms * MS
