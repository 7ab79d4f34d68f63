"""Datetimes: parsing, the API's format, and splitting a range, as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from postpress_async import InvalidParameterError
from postpress_async._time import encode_datetime, format_datetime, parse_datetime, split_window


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
            "2025-12-31T23:59:59.999Z",
            id="aware-utc-truncates-to-ms",
        ),
        pytest.param(
            datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
            "2026-01-01T00:00:00.000Z",
            id="aware-offset-converted-to-utc",
        ),
        pytest.param("2025-12-31T23:59:59.999Z", "2025-12-31T23:59:59.999Z", id="iso-z"),
        pytest.param("2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00.000Z", id="iso-offset"),
        pytest.param("2026-01-01T00:00:00", "2026-01-01T00:00:00.000Z", id="iso-naive-is-utc"),
        pytest.param("2026-01-01", "2026-01-01T00:00:00.000Z", id="iso-date"),
        pytest.param("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z", id="year-1-padded"),
        pytest.param(
            datetime(999, 3, 4, 5, 6, 7, 8000, tzinfo=timezone.utc),
            "0999-03-04T05:06:07.008Z",
            id="year-999-padded",
        ),
    ],
)
def test_datetimes_are_sent_as_utc_with_milliseconds(value: datetime | str, expected: str) -> None:
    assert encode_datetime("after", value) == expected


def test_naive_datetime_is_refused_with_the_parameter_name() -> None:
    with pytest.raises(ValueError, match="before: naive datetime") as info:
        encode_datetime("before", datetime(2026, 1, 1))
    assert isinstance(info.value, InvalidParameterError)
    assert info.value.param == "before"


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "", 1700000000])
def test_non_iso_values_are_refused(value: object) -> None:
    with pytest.raises(InvalidParameterError, match="after"):
        encode_datetime("after", value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("0001-01-01T00:00:00+01:00", id="before-year-1-in-utc"),
        pytest.param("9999-12-31T23:59:59-01:00", id="after-year-9999-in-utc"),
        pytest.param(
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), id="aware-before-year-1"
        ),
    ],
)
def test_a_moment_outside_the_utc_calendar_is_refused_with_the_parameter_name(
    value: object,
) -> None:
    """Converting it to UTC would overflow: a typed error, not a bare OverflowError."""
    with pytest.raises(InvalidParameterError, match=r"before: .*out of range") as info:
        encode_datetime("before", value)  # type: ignore[arg-type]
    assert info.value.param == "before"


@pytest.mark.parametrize(
    ("value", "suggested"),
    [
        ("2026-05-01T10:00:00", "2026-05-01T10:00:00Z"),
        ("0999-01-01", "0999-01-01T00:00:00Z"),  # strftime's %Y gave "999-..." on glibc
    ],
)
def test_a_zoneless_string_can_be_refused_with_a_suggestion(value: str, suggested: str) -> None:
    with pytest.raises(InvalidParameterError, match="has no time zone") as info:
        parse_datetime("after", value, naive="refuse")
    assert info.value.param == "after"
    assert str(info.value).endswith(f"e.g. {suggested}")
    assert parse_datetime("after", suggested) == parse_datetime("after", value)


def test_parse_gives_aware_utc_whole_milliseconds_and_format_reads_it_back() -> None:
    moment = parse_datetime("after", "2026-01-01T01:00:00.123456+01:00")
    assert moment == datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=timezone.utc)
    assert moment.utcoffset() == timedelta(0)
    assert parse_datetime("after", format_datetime(moment)) == moment


@pytest.mark.parametrize("windows", [1, 2, 7, 8, 13])
def test_windows_cover_the_range_exactly_once(windows: int) -> None:
    after = datetime(2026, 1, 1, tzinfo=timezone.utc)
    before = after + timedelta(seconds=10)
    ranges = split_window(after, before, windows)
    assert len(ranges) == windows
    # Every millisecond stamp strictly inside (after, before) is in exactly one window,
    # each window's bounds being strict as the API's are.
    step = timedelta(milliseconds=1)
    stamps = [after + step * k for k in range(10_001)]
    for stamp in stamps:
        hits = sum(1 for low, high in ranges if low < stamp < high)
        assert hits == (1 if after < stamp < before else 0), stamp


def test_more_windows_than_milliseconds_collapse() -> None:
    after = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert len(split_window(after, after + timedelta(milliseconds=3), 10)) == 3


@pytest.mark.parametrize(
    ("after", "before", "windows", "param"),
    [
        pytest.param("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", 4, "before", id="reversed"),
        pytest.param("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 0, "windows", id="zero"),
        pytest.param(datetime(2026, 1, 1), "2026-01-02T00:00:00Z", 4, "after", id="naive"),
    ],
)
def test_bad_windows_are_refused(after: object, before: object, windows: int, param: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        split_window(after, before, windows)  # type: ignore[arg-type]
    assert info.value.param == param


def test_windows_are_whole_millisecond_datetimes_from_after_to_before() -> None:
    after = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ranges = split_window("2026-01-01T00:00:00Z", after + timedelta(seconds=1), 4)
    assert ranges[0][0] == after
    assert ranges[-1][1] == after + timedelta(seconds=1)
    assert all(low.microsecond % 1000 == 0 and high.microsecond % 1000 == 0 for low, high in ranges)


def test_epoch_milliseconds_round_trip_and_round_down() -> None:
    from postpress_async._time import from_ms, to_ms

    moment = datetime(2026, 1, 1, 0, 0, 0, 123999, tzinfo=timezone.utc)
    assert to_ms(moment) == 1_767_225_600_123
    assert from_ms(to_ms(moment)) == moment.replace(microsecond=123000)


@pytest.mark.parametrize(
    ("value", "lower", "upper"),
    [
        pytest.param("2026-05-01T10:00:11.123456Z", ".123Z", ".124Z", id="between-milliseconds"),
        pytest.param("2026-05-01T10:00:11.123Z", ".123Z", ".123Z", id="a-whole-millisecond"),
        pytest.param("2026-05-01T10:00:11.999500Z", ".999Z", "12.000Z", id="into-the-next-second"),
        pytest.param("2026-05-01T10:00:11.1Z", ".100Z", ".100Z", id="one-digit"),
        pytest.param("2026-05-01T10:00:11.1234Z", ".123Z", ".124Z", id="four-digits"),
        pytest.param("2026-05-01T10:00:11.1230001Z", ".123Z", ".124Z", id="under-a-microsecond"),
        pytest.param("2026-05-01T10:00:11,5+00:00", ".500Z", ".500Z", id="decimal-comma"),
    ],
)
def test_a_strict_upper_bound_rounds_up_and_a_lower_one_down(
    value: str, lower: str, upper: str
) -> None:
    """The API's bounds are strict on whole milliseconds: ``before=.123456`` asks ``.124``
    (an item at ``.123`` lies before it), ``after=.123456`` asks ``.123``."""
    assert encode_datetime("after", value).endswith(lower)
    assert encode_datetime("before", value, upper=True).endswith(upper)


def test_the_last_millisecond_of_the_calendar_stays_an_upper_bound() -> None:
    last = "9999-12-31T23:59:59.999999Z"
    assert encode_datetime("before", last, upper=True) == "9999-12-31T23:59:59.999Z"
