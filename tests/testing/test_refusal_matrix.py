"""The fake server's public constructors against bad input, one table: each row raises a
``TypeError`` or ``ValueError`` whose message starts with the parameter's name, when the
value is built (never a comparison's "'>' not supported between 'str' and 'int'", and
never a truthy "no" read as yes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _bad_values import NOT_BOOL, NOT_INT

from postpress_async.testing import Dataset, FakePostpress, Faults, LiveFeed

NOT_NUMBER: dict[str, object] = {"str": "1", "bool": True, "bytes": b"1", "list": [1], "none": None}


def _rows() -> Iterator[Any]:
    def row(build: Callable[[], object], name: str, case: str) -> Any:
        return pytest.param(build, name, id=f"{case}-{name}")

    for field in ("rate", "late_share", "live_for"):
        numbers = {k: v for k, v in NOT_NUMBER.items() if not (field == "live_for" and v is None)}
        for case, value in numbers.items():
            yield row(lambda f=field, v=value: LiveFeed(**{f: v}), field, f"LiveFeed-{case}")
    for field in ("burst", "late_ms", "seed"):
        for case, value in NOT_INT.items():
            yield row(lambda f=field, v=value: LiveFeed(**{f: v}), field, f"LiveFeed-{case}")
    for field in ("hostile_ids", "quirks", "bad_records"):
        for case, value in NOT_BOOL.items():
            yield row(lambda f=field, v=value: Dataset(**{f: v}), field, f"Dataset-{case}")
    for field in ("seed", "accounts", "chats", "messages"):
        for case, value in NOT_INT.items():
            yield row(lambda f=field, v=value: Dataset(**{f: v}), field, f"Dataset-{case}")
    for field in ("latency", "jitter", "retry_after", "slow_body_seconds"):
        for case, value in NOT_NUMBER.items():
            yield row(lambda f=field, v=value: Faults(**{f: v}), field, f"Faults-{case}")
    for field in ("seed", "max_concurrency"):
        for case, value in NOT_INT.items():
            yield row(lambda f=field, v=value: Faults(**{f: v}), field, f"Faults-{case}")
    server: dict[str, dict[str, object]] = {
        "port": {**NOT_INT, "negative": -1, "65536": 65_536},
        "page_cache_bytes": NOT_INT,
        "clock_skew": {**NOT_NUMBER, "nan": float("nan")},
        "host": {"empty": "", "int": 1, "bytes": b"127.0.0.1", "none": None},
        "live": {"dict": {"rate": 1}, "true": True},
        "dataset": {"dict": {}, "int": 1},
        "api_key": {"empty": "", "bytes": b"k", "none": None},
    }
    for field, values in server.items():
        for case, value in values.items():
            yield row(
                lambda f=field, v=value: FakePostpress(**{f: v}), field, f"FakePostpress-{case}"
            )


@pytest.mark.parametrize(("build", "name"), list(_rows()))
def test_a_bad_argument_of_the_fake_is_refused_by_name(
    build: Callable[[], object], name: str
) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        build()
    assert str(caught.value).startswith(name), caught.value
