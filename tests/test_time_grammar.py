"""The one datetime grammar: every input read to the same instant, or refused the same way,
on every Python the package supports (``datetime.fromisoformat`` reads more on 3.11+)."""

from __future__ import annotations

import pytest

from postpress_async import InvalidParameterError
from postpress_async._time import encode_datetime

READ = [
    # The extended form: T, t or a space; hours, minutes, seconds, a fraction; Z or an offset.
    ("2026-05-01T10:00:11Z", "2026-05-01T10:00:11.000Z"),
    ("2026-05-01t10:00:11z", "2026-05-01T10:00:11.000Z"),
    ("2026-05-01 10:00:11+02:00", "2026-05-01T08:00:11.000Z"),
    ("2026-05-01T10:00", "2026-05-01T10:00:00.000Z"),
    ("2026-05-01T10", "2026-05-01T10:00:00.000Z"),
    ("2026-05-01", "2026-05-01T00:00:00.000Z"),
    ("  2026-05-01T10:00:11.25Z\n", "2026-05-01T10:00:11.250Z"),
    ("2026-05-01T10:00:11,25-00:00", "2026-05-01T10:00:11.250Z"),
    # Offsets without a colon, or hours alone (3.10's fromisoformat refuses them).
    ("2026-05-01T10:00:11.5+0200", "2026-05-01T08:00:11.500Z"),
    ("2026-05-01T10:00:11-05", "2026-05-01T15:00:11.000Z"),
    ("2026-05-01 10:00:11 +0100", "2026-05-01T09:00:11.000Z"),  # git's %ai
    # What Python's own isoformat() writes for an offset with seconds.
    ("2026-05-01T10:00:11+01:00:30", "2026-05-01T08:59:41.000Z"),
    ("2026-05-01T10:00:00+00:00:00.500000", "2026-05-01T09:59:59.500Z"),
    # A date with a zone is that day's midnight there (every Python read `+02:00` as a time).
    ("2026-05-01Z", "2026-05-01T00:00:00.000Z"),
    ("2026-05-01+02:00", "2026-04-30T22:00:00.000Z"),
    # The basic format, date and time in full (iCalendar, AWS's X-Amz-Date).
    ("20261208T010203Z", "2026-12-08T01:02:03.000Z"),
    ("20261208T010203.25+0100", "2026-12-08T00:02:03.250Z"),
    ("20261208T010203", "2026-12-08T01:02:03.000Z"),
]

REFUSED = [
    ("2026-W49-2", "week date"),
    ("2026W492", "week date"),
    ("2026-W49", "week date"),
    ("2026-342", "ordinal date"),
    ("2026342T101010Z", "ordinal date"),
    # Forms some Pythons read and others refuse, or read to another instant.
    ("20261208", "not an ISO 8601 datetime"),
    ("2026-05-01T1000", "not an ISO 8601 datetime"),
    ("20261208T10:00:00Z", "not an ISO 8601 datetime"),
    ("2026-05-01T10:00.5", "not an ISO 8601 datetime"),
    ("2026-05-01x10:00", "not an ISO 8601 datetime"),
    ("2026-05-01T10:00:11.Z", "not an ISO 8601 datetime"),
    ("2026-05-01T10:00:11+1", "not an ISO 8601 datetime"),
    ("2026-5-1", "not an ISO 8601 datetime"),
    ("+2026-05-01", "not an ISO 8601 datetime"),
    ("2026-05-01T\u0661\u0660:00", "not an ISO 8601 datetime"),  # Arabic-Indic digits
    # Out of range, the same typed error on every version.
    ("2026-13-01", "out of range"),
    ("2026-04-31", "out of range"),
    ("2026-02-29", "out of range"),
    ("0000-01-01", "out of range"),
    ("2026-05-01T24:00", "out of range"),
    ("2026-05-01T10:60", "out of range"),
    ("2026-05-01T23:59:60Z", "out of range"),
    ("2026-05-01T10:00+24:00", "out of range"),
    ("2026-05-01T10:00+01:60", "out of range"),
    ("9999-12-31T23:59:59-01:00", "out of range once converted to UTC"),
]


@pytest.mark.parametrize(("text", "expected"), READ, ids=[text for text, _ in READ])
def test_every_python_reads_the_same_instant(text: str, expected: str) -> None:
    assert encode_datetime("after", text) == expected


@pytest.mark.parametrize(("text", "why"), REFUSED, ids=[text for text, _ in REFUSED])
def test_every_python_refuses_the_same_way_naming_the_parameter(text: str, why: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"after: .*{why}") as info:
        encode_datetime("after", text)
    assert info.value.param == "after"


def test_the_basic_format_rounds_a_strict_upper_bound_up_too() -> None:
    assert encode_datetime("before", "20260501T100011.1234Z", upper=True).endswith("11.124Z")
