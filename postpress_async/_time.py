"""The one home for datetimes: parse, validate, format, and split a time range.

(Milliseconds <-> datetimes, :func:`to_ms` and :func:`from_ms`, sit below it in
:mod:`._epoch`, which imports nothing of the package; they are re-exported here.)

The API takes and sends timestamps as ``YYYY-MM-DDTHH:MM:SS.sssZ``: UTC, millisecond
precision. Everything in the SDK that reads a caller's datetime goes through
:func:`parse_datetime` (an aware ``datetime`` in UTC, cut to whole milliseconds) and
everything that writes one for the API through :func:`format_datetime`. Modules hand
each other ``datetime`` values, never strings; only the wire (and files written for
people) sees the text form.

:func:`strict_windows` is the strict-bounds rule: windows cut at given instants that
cover a range exactly once. :func:`split_window` cuts a strict range ``(after, before)``
into equal windows by it; ``messages.list_windows`` and ``postpress export --windows``
use that, and the ingest planner cuts at the data's quantiles with ``strict_windows``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Final, Literal

from ._epoch import MS, from_ms, to_ms
from ._exceptions import InvalidParameterError
from ._params import MAX_SHARDS, check_count

__all__ = [
    "DateTimeParam",
    "encode_datetime",
    "format_datetime",
    "from_ms",
    "parse_datetime",
    "split_window",
    "strict_windows",
    "to_ms",
]

#: What the SDK accepts wherever the API takes a datetime: an aware ``datetime`` or an
#: ISO 8601 string.
DateTimeParam = datetime | str

_EXAMPLE: Final = "2025-12-31T23:59:59.999Z"
_FORMS: Final = f"{_EXAMPLE}, 2025-12-31 23:59+01:00, 2025-12-31 or 20251231T235959Z"

# The one grammar read on every Python (``datetime.fromisoformat`` reads more on 3.11
# than on 3.10, so it never sees a caller's text). A zone: Z, or an offset of hours,
# hours and minutes (with or without the colon), or, as Python's isoformat() writes
# for such a zone, seconds and a fraction. The seconds' fraction: any number of digits
# after a point or a comma (ISO 8601).
_ZONE: Final = r"(?P<zone>[Zz]|[+-]\d\d(?:\d\d|:\d\d(?::\d\d(?:[.,]\d{1,6})?)?)?)"
_FRACTION: Final = r"(?:[.,](?P<fraction>\d+))?"
_EXTENDED: Final = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)"
    rf"(?:[Tt ](?P<hour>\d\d)(?::(?P<minute>\d\d)(?::(?P<second>\d\d){_FRACTION})?)? ?)?"
    rf"{_ZONE}?",
    re.ASCII,
)
_BASIC: Final = re.compile(
    r"(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d)[Tt]"
    rf"(?P<hour>\d\d)(?P<minute>\d\d)(?P<second>\d\d){_FRACTION} ?{_ZONE}?",
    re.ASCII,
)
# Recognised only to be refused by name: nobody pastes them for a message's time.
_WEEK: Final = re.compile(r"\d{4}-?[Ww]\d\d(?:-?\d)?(?:[Tt ].*)?", re.ASCII | re.DOTALL)
_ORDINAL: Final = re.compile(r"\d{4}-?\d{3}(?:[Tt ].*)?", re.ASCII | re.DOTALL)


def parse_datetime(
    name: str,
    value: DateTimeParam,
    *,
    naive: Literal["utc", "refuse"] = "utc",
    upper: bool = False,
) -> datetime:
    """An aware datetime or ISO 8601 string -> an aware UTC datetime, whole milliseconds.

    The strings read, the same on every Python: a date ``YYYY-MM-DD``, optionally
    followed by ``T`` (or ``t`` or a space) and ``HH``, ``HH:MM`` or ``HH:MM:SS`` with
    a fraction of any number of digits after ``.`` or ``,``; then optionally (a space
    and) ``Z`` or an offset ``+HH:MM``, ``+HHMM``, ``+HH`` or ``+HH:MM:SS[.ffffff]``.
    A date with a zone and no time is that day's midnight there. The basic format
    ``YYYYMMDDTHHMMSS[.f]`` takes the same zones. Week dates (``2026-W49-2``), ordinal
    dates (``2026-342``) and mixtures of the two formats are refused; so is an hour 24
    or a leap second (``23:59:60``), which a ``datetime`` cannot hold.

    A time between two milliseconds is cut down to the first, or, for a strict upper
    bound (``upper``: ``before``), rounded up to the next: the API's bounds are strict
    and its times whole milliseconds, so ``before=...:11.1234`` must ask ``.124``, else
    an item stamped ``.123`` (before the bound) is left out.

    A naive ``datetime`` is always refused: its time zone would be a guess. A string
    with no offset is read as UTC (what the API documents for its parameters), unless
    ``naive="refuse"``: on a command line a zone-less time is most likely local, so the
    CLI asks for ``Z`` or an offset instead of silently shifting it. Errors are an
    :class:`InvalidParameterError` naming ``name``.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidParameterError(
                name, "naive datetime; pass an aware one, e.g. datetime.now(timezone.utc)"
            )
        moment, finer = value, False
    elif isinstance(value, str):
        moment, finer = _read(name, value)
        if moment.tzinfo is None:
            if naive == "refuse":
                raise InvalidParameterError(
                    name,
                    f"{value!r} has no time zone; add Z for UTC or an offset, "
                    f"e.g. {moment.replace(microsecond=0).isoformat()}Z",
                )
            moment = moment.replace(tzinfo=timezone.utc)
    else:
        raise InvalidParameterError(
            name, f"must be a datetime or an ISO 8601 string, got {type(value).__name__}"
        )
    try:
        utc = moment.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00: before year 1 in UTC
        raise InvalidParameterError(
            name, f"{value!r} is out of range once converted to UTC (years 1 to 9999)"
        ) from None
    cut = utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    if upper and (cut != utc or finer):
        try:
            return cut + MS
        except OverflowError:  # the last millisecond of year 9999: nothing lies after it
            return cut
    return cut


def _read(name: str, value: str) -> tuple[datetime, bool]:
    """``value`` by the grammar -> a datetime (naive when it names no zone), and whether
    its fraction was finer than a microsecond (it still counts for a strict upper bound)."""
    text = value.strip()
    parts = _EXTENDED.fullmatch(text) or _BASIC.fullmatch(text)
    if parts is None:
        for form, what in ((_WEEK, "a week date"), (_ORDINAL, "an ordinal date (day of the year)")):
            if form.fullmatch(text):
                raise InvalidParameterError(
                    name, f"{value!r} is {what}; write the calendar date, e.g. {_EXAMPLE}"
                )
        raise InvalidParameterError(
            name, f"not an ISO 8601 datetime: {value!r} (expected e.g. {_FORMS})"
        )
    digits = parts["fraction"] or ""
    zone = parts["zone"]
    try:
        year, month, day, hour, minute, second = (
            int(parts[field] or 0) for field in ("year", "month", "day", "hour", "minute", "second")
        )
        moment = datetime(
            year,
            month,
            day,
            hour,
            minute,
            second,
            int(digits[:6].ljust(6, "0")),
            tzinfo=None if zone is None else _zone(zone),
        )
    except ValueError:  # month 13, 31 April, hour 24, a leap second, year 0, offset >= 24 h
        raise InvalidParameterError(
            name,
            f"{value!r} is out of range (years 1 to 9999, months 1 to 12, a day of that "
            "month, hours 0 to 23, minutes and seconds 0 to 59, an offset under 24 hours)",
        ) from None
    return moment, digits[6:].strip("0") != ""


def _zone(zone: str) -> timezone:
    """``Z`` or a matched offset -> its timezone; ValueError past 59 minutes or seconds or 24 h."""
    if zone in ("Z", "z"):
        return timezone.utc
    whole, _, fraction = zone[1:].replace(",", ".").partition(".")
    digits = whole.replace(":", "")
    hours, minutes, seconds = (int(digits[at : at + 2] or 0) for at in (0, 2, 4))
    if minutes > 59 or seconds > 59:
        raise ValueError(zone)
    offset = timedelta(
        hours=hours, minutes=minutes, seconds=seconds, microseconds=int(fraction.ljust(6, "0"))
    )
    return timezone(-offset if zone[0] == "-" else offset)  # ValueError from 24 hours on


def format_datetime(moment: datetime) -> str:
    """A datetime -> the API's ``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC, milliseconds cut).

    A naive one is UTC, as in :func:`to_ms`: it is a server time sent without a zone
    (the API's times are UTC), never the machine's local time.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    utc = moment.astimezone(timezone.utc)
    # Not strftime: its %Y does not pad a year before 1000 to four digits on glibc.
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def encode_datetime(name: str, value: DateTimeParam, *, upper: bool = False) -> str:
    """A query parameter: :func:`parse_datetime` then :func:`format_datetime`."""
    return format_datetime(parse_datetime(name, value, upper=upper))


def split_window(
    after: DateTimeParam, before: DateTimeParam, windows: int
) -> list[tuple[datetime, datetime]]:
    """Split the strict range ``(after, before)`` into at most ``windows`` strict ranges.

    Window boundaries ``b`` are whole milliseconds (the API's precision); a window that
    starts at ``b`` asks for ``after = b - 1 ms``, so an item stamped exactly ``b`` falls
    in exactly one window, and together the windows cover ``(after, before)`` exactly
    once. A range of fewer milliseconds than ``windows`` gets one window a millisecond.
    """
    # Each window is a stream of requests of its own: past MAX_SHARDS (far past what a
    # client's connections serve at once) they cost more than they gain, and a huge
    # count would build a window a millisecond of the range before the first request.
    check_count("windows", windows, most=MAX_SHARDS, why="each window is a stream of its own")
    start = parse_datetime("after", after)
    end = parse_datetime("before", before, upper=True)
    if end <= start:
        raise InvalidParameterError("before", "must be later than after")
    span_ms = (end - start) // MS
    count = max(1, min(windows, span_ms))
    cuts = [start + MS * (span_ms * k // count) for k in range(1, count)]
    return strict_windows(cuts, after=start, before=end)  # type: ignore[return-value]


def strict_windows(
    cuts: list[datetime],
    *,
    after: datetime | None = None,
    before: datetime | None = None,
) -> list[tuple[datetime | None, datetime | None]]:
    """The strict ``(after, before)`` queries that cover ``(after, before)`` once, cut at ``cuts``.

    Window ``k`` holds the items stamped in ``[cuts[k-1], cuts[k])``: it asks
    ``after = cuts[k-1] - 1 ms`` (the API's timestamps have millisecond precision and
    ``after`` is strict) and ``before = cuts[k]``. The first window starts at ``after``,
    the last ends at ``before`` (``None``: open). So windows never overlap and never
    leave a gap. ``cuts`` (aware, whole milliseconds) must increase strictly and lie
    inside the range, else :class:`InvalidParameterError`.
    """
    previous = after
    for cut in cuts:
        if cut.microsecond % 1000 or (previous is not None and cut <= previous):
            raise InvalidParameterError(
                "cuts", "must be whole milliseconds, increase strictly and lie after `after`"
            )
        previous = cut
    if before is not None and previous is not None and before <= previous:
        raise InvalidParameterError("before", "must be later than after and every cut")
    lows: list[datetime | None] = [after, *(cut - MS for cut in cuts)]
    highs: list[datetime | None] = [*cuts, before]
    return list(zip(lows, highs, strict=True))
