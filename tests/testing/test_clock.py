"""A skewed server clock: what the fake stamps at run time is ``time.time() + clock_skew``.

Each check brackets the server's stamp between two readings of the real clock taken
around the action (shifted by the skew): no duration is measured or asserted.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import aiohttp
import pytest

from postpress_async.testing import Dataset, FakePostpress, LiveFeed
from postpress_async.testing.__main__ import build_parser, server_from_args
from postpress_async.testing._time import format_ms, parse_us

from ._helpers import get_json

SKEW = -120.0


def stamp_seconds(item: dict[str, object]) -> float:
    micros = parse_us(str(item["timestamp"]))
    assert micros is not None
    return micros / 1_000_000


def assert_between(value: float, low: float, high: float) -> None:
    """``low <= value <= high``, with the millisecond the wire format truncates."""
    assert low - 0.001 <= value <= high, (value, low, high)


async def test_a_message_added_now_is_stamped_by_the_skewed_clock() -> None:
    async with FakePostpress(dataset=Dataset(seed=1, messages=30), clock_skew=SKEW) as server:
        before = time.time()
        [message_id] = server.add_messages(1)
        after = time.time()
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
            status, item = await get_json(http, f"{server.url}/messages/{message_id}")
            assert status == 200
            window = {
                "after": format_ms(math.floor((before + SKEW) * 1000) - 2),
                "before": format_ms(math.ceil((after + SKEW) * 1000) + 2),
            }
            status, page = await get_json(http, f"{server.url}/messages", window)
    assert_between(stamp_seconds(item), before + SKEW, after + SKEW)
    assert status == 200
    assert [listed["id"] for listed in page["items"]] == [message_id]


async def test_the_server_clock_is_the_real_one_plus_the_skew() -> None:
    for skew in (0.0, SKEW, 3600.0):
        server = FakePostpress(dataset=Dataset(seed=1, messages=5), clock_skew=skew)
        before = time.time()
        now = server.now()
        after = time.time()
        assert server.clock_skew == skew
        assert before + skew <= now <= after + skew


async def test_a_skew_set_while_serving_makes_the_clock_leap() -> None:
    """``server.clock_skew = ...`` while it runs: what it stamps next, and the ``Date`` of
    what it answers next, follow the new skew (an NTP step, a deploy onto a host whose
    clock is off), as a long-running client must face them."""
    async with FakePostpress(dataset=Dataset(seed=1, messages=5)) as server:
        server.clock_skew = SKEW
        before = time.time()
        now = server.now()
        [message_id] = server.add_messages(1)
        after = time.time()
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
            async with http.get(f"{server.url}/messages/{message_id}") as response:
                date = parsedate_to_datetime(response.headers["Date"]).timestamp()
                item = await response.json()
            later = time.time()
        assert server.clock_skew == SKEW
    assert_between(now, before + SKEW, after + SKEW)
    assert_between(stamp_seconds(item), before + SKEW, after + SKEW)
    assert_between(date, math.floor(before + SKEW) - 1, later + SKEW)


@pytest.mark.parametrize("skew", [math.inf, math.nan, "60", True])
def test_a_skew_that_is_not_a_finite_number_of_seconds_is_refused(skew: object) -> None:
    server = FakePostpress(dataset=Dataset(seed=1, messages=5))
    with pytest.raises((TypeError, ValueError), match="clock_skew"):
        server.clock_skew = skew  # type: ignore[assignment]
    with pytest.raises((TypeError, ValueError), match="clock_skew"):
        FakePostpress(dataset=Dataset(seed=1, messages=5), clock_skew=skew)  # type: ignore[arg-type]
    assert server.clock_skew == 0.0


async def test_the_live_feed_stamps_with_the_skewed_clock() -> None:
    feed = LiveFeed(rate=2000.0, burst=3, live_for=0.02, seed=2)
    dataset = Dataset(seed=2, messages=10)
    before = time.time()
    async with FakePostpress(dataset=dataset, live=feed, clock_skew=SKEW) as server:
        added = await server.live_finished()
        after = time.time()
        ds = server.dataset
    assert added > 0
    stamps = [ds.message_timestamp_ms(i) / 1000 for i in range(10, ds.message_count)]
    assert len(stamps) == added
    for stamp in stamps:
        assert_between(stamp, before + SKEW, after + SKEW)


async def test_a_message_is_listed_when_the_skewed_clock_reaches_it() -> None:
    """Stamped a minute ahead of the server but behind the real clock: not listed yet."""
    async with FakePostpress(dataset=Dataset(seed=3, messages=5), clock_skew=SKEW) as server:
        ahead = datetime.fromtimestamp(server.now() + 60, tz=timezone.utc)
        behind = datetime.fromtimestamp(server.now() - 60, tz=timezone.utc)
        assert ahead.timestamp() < time.time()  # the real clock is past it already
        [waiting] = server.add_messages(1, timestamp=ahead)
        [listed] = server.add_messages(1, timestamp=behind)
        assert server.live.unlisted() == 1
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
            _, page = await get_json(http, f"{server.url}/messages", {"limit": "250"})
    ids = [item["id"] for item in page["items"]]
    assert listed in ids
    assert waiting not in ids


async def test_every_response_is_dated_by_the_skewed_clock() -> None:
    async with FakePostpress(dataset=Dataset(seed=3, messages=5), clock_skew=SKEW) as server:
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
            for path in ("/messages", "/nowhere"):  # a listing, an error
                before = time.time()
                async with http.get(server.url + path) as response:
                    date = parsedate_to_datetime(response.headers["Date"]).timestamp()
                after = time.time()
                # The header has whole seconds: its second holds the skewed moment.
                assert_between(date, math.floor(before + SKEW) - 1, after + SKEW)


async def test_a_message_listed_now_is_listed_however_far_ahead_it_is_dated() -> None:
    """A provider's wrong clock: dated 2099, listed at once (not when the clock gets there)."""
    async with FakePostpress(dataset=Dataset(seed=3, messages=5), clock_skew=SKEW) as server:
        future = datetime(2099, 1, 1, tzinfo=timezone.utc)
        [listed] = server.add_messages(1, timestamp=future, listed_now=True)
        [waiting] = server.add_messages(1, timestamp=future)
        assert server.live.unlisted() == 1
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
            _, page = await get_json(http, f"{server.url}/messages", {"limit": "250"})
    ids = [item["id"] for item in page["items"]]
    assert ids[0] == listed  # the newest, as dated
    assert waiting not in ids
    assert listed in server.truth("messages")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_clock_skew_that_is_not_a_finite_number_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="clock_skew"):
        FakePostpress(clock_skew=value)


def test_the_command_line_sets_the_clock_skew() -> None:
    args = build_parser().parse_args(["--clock-skew", "-120", "--messages", "10"])
    assert server_from_args(args).clock_skew == -120.0
    assert server_from_args(build_parser().parse_args(["--messages", "10"])).clock_skew == 0.0
