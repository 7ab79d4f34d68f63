"""ISO 8601 helpers for the fake server: the wire format is ``YYYY-MM-DDTHH:MM:SS.sssZ``."""

from __future__ import annotations

import datetime as _dt
import functools
import re

__all__ = ["format_ms", "parse_us", "to_us"]

_UNIX_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})\Z"
)


@functools.lru_cache(maxsize=65536)
def _hour(hours: int) -> str:
    day = _dt.date.fromordinal(_UNIX_ORDINAL + hours // 24).isoformat()
    return f"{day}T{hours % 24:02d}:"


def format_ms(ms: int) -> str:
    """Format milliseconds since the Unix epoch as the API's UTC datetime string."""
    rem = ms % 3_600_000
    return f"{_hour(ms // 3_600_000)}{rem // 60_000:02d}:{rem // 1000 % 60:02d}.{rem % 1000:03d}Z"


def parse_us(text: str) -> int | None:
    """Parse an ISO 8601 datetime with an explicit offset into microseconds since the epoch.

    Returns ``None`` for anything else (a naive datetime, a date, garbage), which the
    server answers with ``errors/invalid_parameters``.
    """
    match = _ISO.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = _dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    micros = int((fraction or "0").ljust(6, "0"))
    shift = 0
    if offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        off_hours, off_minutes = int(offset[1:3]), int(offset[4:6])
        if off_hours > 23 or off_minutes > 59:
            return None
        shift = sign * (off_hours * 3600 + off_minutes * 60)
    seconds = (moment.toordinal() - _UNIX_ORDINAL) * 86_400 + _clock_seconds(moment) - shift
    return seconds * 1_000_000 + micros


def _clock_seconds(moment: _dt.datetime) -> int:
    """Seconds elapsed since midnight."""
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def to_us(value: str | _dt.datetime) -> int:
    """Convert a datetime (aware) or an ISO string into microseconds since the epoch."""
    if isinstance(value, str):
        parsed = parse_us(value)
        if parsed is None:
            raise ValueError(f"not an ISO 8601 UTC datetime: {value!r}")
        return parsed
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"a time bound must be an ISO string or an aware datetime, got {value!r}")
    if value.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
    delta = value - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
