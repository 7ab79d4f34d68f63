"""Shard plans on skewed data: bursts, one account holding nearly everything."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anyio
import pytest

from postpress_async import AsyncPostpress
from postpress_async.ingest import plan_shards
from postpress_async.ingest._probe import density_profile
from postpress_async.ingest._streams import shard_stream
from postpress_async.testing import Dataset, FakePostpress

_T0 = datetime(2026, 5, 17, 9, 0, tzinfo=timezone.utc)


def test_a_burst_just_before_the_first_point_is_not_read_as_its_intervals_rate() -> None:
    """250 messages stamped in one millisecond, then one a second: not 250 a ms all day."""
    day = 86_400_000
    points = [0, day, 2 * day]
    burst = ([day - 1] * 250, False)
    steady = ([2 * day - k * 1_000 for k in range(250)], False)
    counts = density_profile(points, [burst, steady]).counts
    steady_day = day / 1_000  # one a second
    assert counts[1] <= 250 + steady_day  # the burst, and at most a steady day besides
    assert counts[2] - counts[1] == pytest.approx(steady_day, rel=1e-6)


async def test_an_account_with_a_burst_is_planned_in_bounded_time() -> None:
    """A burst in one millisecond used to read as billions of messages: the planner then
    cut an account into billions of windows, blocking the event loop for good."""
    async with FakePostpress(dataset=Dataset(seed=3, chats=40, messages=60)) as server:
        server.add_messages(300, timestamp=_T0, chat_id=server.dataset.chat_id(0))
        async with AsyncPostpress(api_key=server.api_key, base_url=server.url) as client:
            with anyio.fail_after(30):
                plan = await plan_shards(client, "messages", shards=4, by="account")
    estimated = sum(shard.estimate or 0 for shard in plan.shards)
    assert estimated < 10 * 360


async def test_one_account_holding_nearly_everything_does_not_multiply_the_shards() -> None:
    """95% of the messages in one account among many small ones: about ``shards`` windows
    of it, not one window the size of the median (tiny) account."""
    async with FakePostpress(dataset=Dataset(seed=3, chats=40, messages=40)) as server:
        chat = server.dataset.chat_id(0)
        for k in range(800):
            server.add_messages(1, timestamp=_T0 - timedelta(seconds=37 * k), chat_id=chat)
        async with AsyncPostpress(api_key=server.api_key, base_url=server.url) as client:
            plan = await plan_shards(client, "messages", shards=4, by="account")
    accounts = {shard.filters["account_id"] for shard in plan.shards}
    assert len(plan.shards) <= len(accounts) + 2 * 4


async def test_a_before_between_two_milliseconds_keeps_the_message_stamped_before_it() -> None:
    """``before=...:00.1234`` is after a message stamped ``.123``: the plan must keep it
    (the API's times are whole milliseconds, so the strict bound is rounded up)."""
    stamp = _T0 + timedelta(milliseconds=123)
    async with FakePostpress(dataset=Dataset(seed=3, chats=40, messages=20)) as server:
        [message] = server.add_messages(1, timestamp=stamp)
        async with AsyncPostpress(api_key=server.api_key, base_url=server.url) as client:
            plan = await plan_shards(
                client, "messages", shards=1, before="2026-05-17T09:00:00.1234Z"
            )
            ids = [m.id for s in plan.shards async for m in shard_stream(client, s)]
    assert message in ids
    assert plan.window.before == stamp + timedelta(milliseconds=1)


async def test_a_listing_of_one_page_is_one_shard_found_by_one_request() -> None:
    """Five messages asked in eight shards: not eight shards, three of them empty, after
    dozens of probes; one request reads them all."""
    async with FakePostpress(dataset=Dataset(seed=3, chats=40, messages=5)) as server:
        async with AsyncPostpress(api_key=server.api_key, base_url=server.url) as client:
            plan = await plan_shards(client, "messages", shards=8)
    assert [(s.label, s.estimate) for s in plan.shards] == [("all", 5)]
    assert plan.probes == 1


@pytest.mark.slow
async def test_accounts_share_the_density_probes_of_a_plan_cut_by_account() -> None:
    """Every account larger than a page used to take ``samples // 4`` density probes of
    its own: ``shards=1000`` on 1,000 such accounts, a million probe requests."""
    async with FakePostpress(dataset=Dataset(seed=3, chats=40, messages=3000)) as server:
        async with AsyncPostpress(api_key=server.api_key, base_url=server.url) as client:
            plan = await plan_shards(client, "messages", shards=200, by="account")
    accounts = len({shard.filters["account_id"] for shard in plan.shards})
    # a first page each, then newest, gallop and bisect (about 20) each, and `samples`
    # (800) density pages between them
    assert plan.probes <= 1 + accounts * 25 + 4 * 200
