"""Shard plans: probed cuts of similar size that cover the listing exactly once."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timezone

import pytest

from postpress_async import AsyncPostpress, InvalidParameterError
from postpress_async._params import MAX_SHARDS
from postpress_async.ingest import ClientConfig, Shard, ShardPlan, plan_shards
from postpress_async.ingest._probe import density_profile, sample_points
from postpress_async.ingest._shards import Window, window_queries
from postpress_async.ingest._streams import shard_stream

from .conftest import DATASET, message_ids


async def _counts(client: AsyncPostpress, plan: ShardPlan) -> tuple[list[int], Counter[str]]:
    sizes, seen = [], Counter[str]()
    for shard in plan.shards:
        ids = [item.id async for item in shard_stream(client, shard, limit=250)]
        sizes.append(len(ids))
        seen.update(ids)
    return sizes, seen


def test_windows_cut_at_each_point_with_after_one_millisecond_earlier() -> None:
    windows = window_queries(
        ["2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"], after="2026-04-01T00:00:00Z"
    )
    assert windows == [
        Window(after=_utc(2026, 4, 1), before=_utc(2026, 5, 1)),
        Window(after=_utc(2026, 4, 30, 23, 59, 59, 999), before=_utc(2026, 5, 2)),
        Window(after=_utc(2026, 5, 1, 23, 59, 59, 999), before=None),
    ]


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, ms: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, ms * 1000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("cuts", "after"),
    [
        pytest.param(["2026-05-02T00:00:00Z", "2026-05-01T00:00:00Z"], None, id="decreasing"),
        pytest.param(["2026-05-01T00:00:00Z"] * 2, None, id="repeated"),
        pytest.param(["2026-05-01T00:00:00Z"], "2026-05-01T00:00:00Z", id="not-after-after"),
    ],
)
def test_windows_refuse_cuts_that_would_overlap(cuts: list[str], after: str | None) -> None:
    with pytest.raises(InvalidParameterError, match="cuts"):
        window_queries(cuts, after=after)


def test_a_shard_is_json_in_json_out() -> None:
    shard = Shard(
        endpoint="messages",
        label="a001w002",
        filters={"account_id": "acc_1"},
        window=Window(after=_utc(2026, 5, 1)),
        estimate=12,
    )
    assert Shard.from_json(shard.to_json()) == shard
    with pytest.raises(InvalidParameterError, match="not a shard"):
        Shard.from_json(b'{"endpoint": "nope"}')


@pytest.mark.slow
@pytest.mark.parametrize("by", ["time", "account"])
async def test_shards_cover_every_message_once_and_are_balanced(
    config: ClientConfig, by: str
) -> None:
    async with config.client() as client:
        plan = await plan_shards(client, "messages", shards=6, by=by)  # type: ignore[arg-type]
        sizes, seen = await _counts(client, plan)
    assert set(seen) == set(message_ids())
    assert max(seen.values()) == 1
    assert len(plan.shards) >= 6
    assert max(sizes) <= 2 * statistics.median(sizes)
    assert ShardPlan.from_json(plan.to_json()) == plan


@pytest.mark.slow
async def test_account_shards_filter_by_account_and_split_the_large_ones(
    config: ClientConfig,
) -> None:
    async with config.client() as client:
        plan = await plan_shards(client, "messages", shards=6, by="account")
    accounts = Counter(shard.filters["account_id"] for shard in plan.shards)
    with_messages = {DATASET.message(i)["account_id"] for i in range(DATASET.message_count)}
    assert set(accounts) == with_messages
    assert max(accounts.values()) > 1  # the largest account was cut into windows


@pytest.mark.slow
async def test_time_shards_find_where_the_data_is_inside_a_wide_range(
    config: ClientConfig,
) -> None:
    async with config.client() as client:
        plan = await plan_shards(
            client,
            "messages",
            shards=4,
            after="2000-01-01T00:00:00Z",
            before="2100-01-01T00:00:00Z",
        )
        sizes, _seen = await _counts(client, plan)
    assert sum(sizes) == DATASET.message_count
    assert min(sizes) > 0  # no empty slice of a guessed range
    assert plan.shards[0].window.after == _utc(2000, 1, 1)
    assert plan.shards[-1].window.before == _utc(2100, 1, 1)


async def test_chat_shards_group_accounts_and_cover_every_chat_once(config: ClientConfig) -> None:
    async with config.client() as client:
        plan = await plan_shards(client, "chats", shards=3)
        _sizes, seen = await _counts(client, plan)
    assert len(plan.shards) == 3
    assert sorted(seen) == sorted(DATASET.chat_id(c) for c in range(DATASET.chat_count))
    assert max(seen.values()) == 1


async def test_accounts_are_one_shard(config: ClientConfig) -> None:
    async with config.client() as client:
        plan = await plan_shards(client, "accounts", shards=8)
    assert [s.label for s in plan.shards] == ["all"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"shards": 0}, "shards", id="no-shards"),
        pytest.param({"shards": MAX_SHARDS + 1}, "shards: must be at most", id="too-many-shards"),
        pytest.param({"samples": 4 * MAX_SHARDS + 1}, "samples", id="too-many-samples"),
        pytest.param({"by": "chat"}, "by", id="unknown-by"),
        pytest.param({"unread": True}, "unread", id="filter-of-another-endpoint"),
        pytest.param({"after": "yesterday"}, "after", id="bad-time"),
    ],
)
async def test_bad_plans_are_refused_before_any_request(
    kwargs: dict[str, object], match: str
) -> None:
    async with AsyncPostpress(api_key="k", base_url="http://127.0.0.1:9") as client:
        with pytest.raises(InvalidParameterError, match=match):
            await plan_shards(client, "messages", **kwargs)  # type: ignore[arg-type]
        assert client.stats().requests == 0


# -- the profile math (pure: no loop, no server) --------------------------------------------


def test_a_page_reaching_past_its_interval_counts_that_interval_exactly() -> None:
    points = [0, 1_000, 2_000]
    pages = [([900, 800, 700], False), ([1_500, 1_200, 900, 800], False)]
    counts = density_profile(points, pages).counts
    # the page before 2,000 holds all of [1,000, 2,000)
    assert counts[2] - counts[1] == pytest.approx(2.0)


def test_a_burst_in_one_millisecond_is_not_read_as_the_rate_of_its_whole_interval() -> None:
    """250 messages stamped at once just before a point: not 250 a millisecond all day."""
    day = 86_400_000
    points = [0, day, 2 * day]
    steady = ([day - k * 1_000 for k in range(250)], False)  # one a second
    burst = ([2 * day - 1] * 250, False)
    profile = density_profile(points, [steady, burst])
    first = profile.counts[1]
    assert first == pytest.approx(day / 1_000, rel=1e-6)  # one a second
    assert profile.counts[2] - first < 2 * first  # the burst adds at most a steady day's worth


def test_a_last_page_is_an_exact_count_and_the_profile_never_falls() -> None:
    points = [0, 1_000, 2_000, 3_000]
    pages = [([900, 100], True), ([900, 100], True), ([2_500, 1_500, 900, 100], True)]
    assert density_profile(points, pages).counts == [0.0, 2.0, 2.0, 4.0]


def test_cuts_fall_at_the_quantiles_of_the_profile() -> None:
    points = sample_points(0, 4_000, 4)
    assert points == [0, 1_000, 2_000, 3_000, 4_000]
    one_each = [500, 1_500, 2_500, 3_500]  # one item in each interval
    pages = [(one_each[:k][::-1], True) for k in range(1, 5)]
    profile = density_profile(points, pages)
    assert profile.counts == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert profile.cuts(2) == [2_000]
    assert profile.cuts(4) == [1_000, 2_000, 3_000]


async def test_a_client_that_yields_unreadable_items_plans_by_reading_strictly() -> None:
    """plan_shards takes any client; one made with ``on_unreadable="yield"`` is read
    strictly, so an unreadable account is a typed error, not an AttributeError on the
    ``UnreadableItem`` handed out in its place (nor an account left out of every shard)."""
    from postpress_async import UnreadableItemError
    from postpress_async.transports import MockTransport, Request, Response

    accounts = b'{"items":[{"type":"WHATSAPP","id":"acc_1"},{"type":"WHATSAPP","id":5}]}'

    def handler(request: Request) -> Response:
        body = accounts if "/accounts" in request.url else b'{"items":[]}'
        return Response(status=200, headers={}, content=body)

    async with AsyncPostpress(
        api_key="k", transport=MockTransport(handler), on_unreadable="yield"
    ) as client:
        with pytest.raises(UnreadableItemError) as caught:
            await plan_shards(client, "messages", shards=2, by="account")
    assert caught.value.endpoint == "accounts.list"
    assert [item.index for item in caught.value.items] == [1]
