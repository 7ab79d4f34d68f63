"""Streams and retries end to end: the SDK against the embedded fake server over HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from postpress_async import (
    AsyncPostpress,
    Checkpoint,
    InvalidParameterError,
    Limits,
    RetryPolicy,
    ServiceUnavailableError,
    merge,
)
from postpress_async.models import Message
from postpress_async.testing import Dataset, FakePostpress, FaultKind, FaultPlan, Faults

FAST_RETRY = RetryPolicy(attempts=8, wait_initial=0.001, wait_max=0.004)


def client_for(server: FakePostpress, **kwargs: object) -> AsyncPostpress:
    options: dict[str, object] = {"retry": FAST_RETRY, **kwargs}
    return AsyncPostpress(api_key=server.api_key, base_url=server.url, **options)  # type: ignore[arg-type]


def sdk_tasks() -> list[str]:
    """Tasks the SDK started (its producers, supervisors, generator finalisers)."""
    names = []
    for task in asyncio.all_tasks():
        text = repr(task.get_coro())
        if "async_generator_athrow" in text or (
            "postpress_async" in text and "testing" not in text
        ):
            names.append(text)
    return names


async def wait_until_idle(server: FakePostpress) -> None:
    """Poll (bounded, no fixed sleep) until no SDK task is left and the server is idle."""
    for _ in range(400):
        if server.stats.in_flight == 0 and not sdk_tasks():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"in flight: {server.stats.in_flight}; SDK tasks left: {sdk_tasks()}")


async def test_streaming_every_message_yields_the_dataset_exactly_in_order() -> None:
    dataset = Dataset(seed=3, messages=2_345)
    async with FakePostpress(dataset=dataset) as server, client_for(server) as client:
        ids = [m.id async for m in client.messages.list(limit=250, prefetch=2)]
        requests = server.stats.by_route["messages.list"]
    assert ids == dataset.expected_message_ids()
    assert requests == 10  # ceil(2345 / 250): no request after the last page


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param({"after": "median"}, id="after"),
        pytest.param({"before": "median"}, id="before"),
        pytest.param({"account_id": "first-account"}, id="account"),
        pytest.param({"sender_id": "first-sender"}, id="sender"),
    ],
)
async def test_message_filters_return_exactly_the_matching_messages(
    filters: dict[str, str],
) -> None:
    dataset = Dataset(seed=5, messages=1_500)
    stamps = sorted(dataset.message_timestamp_ms(i) for i in range(dataset.message_count))
    median = datetime.fromtimestamp(stamps[len(stamps) // 2] / 1000, tz=timezone.utc)
    filters = {k: median if v == "median" else v for k, v in filters.items()}  # type: ignore[misc]
    if filters.get("account_id") == "first-account":
        filters = {"account_id": dataset.message_row(0).account_id}
    if filters.get("sender_id") == "first-sender":
        filters = {"sender_id": dataset.sender_ids()[0]}
    async with FakePostpress(dataset=dataset) as server, client_for(server) as client:
        ids = [m.id async for m in client.messages.list(limit=97, **filters)]  # type: ignore[arg-type]
    expected = dataset.expected_message_ids(**filters)  # type: ignore[arg-type]
    assert expected  # the filter matches something, so the comparison means something
    assert ids == expected


async def test_chats_and_accounts_stream_every_object_once() -> None:
    dataset = Dataset(seed=9, accounts=14, chats=120, messages=800)
    async with FakePostpress(dataset=dataset) as server, client_for(server) as client:
        chats = [c.id async for c in client.chats.list(limit=7)]
        unread = [c.id async for c in client.chats.list(unread=True, limit=11)]
        accounts = [a.id async for a in client.accounts.list(limit=3)]
    assert chats == dataset.expected_chat_ids()
    assert unread == dataset.expected_chat_ids(unread=True)
    assert accounts == dataset.expected_account_ids()


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; bounded, so a broken SDK fails instead of hanging."""
    deadline = asyncio.get_running_loop().time() + 10
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.002)


async def test_break_mid_stream_leaves_no_request_in_flight_and_no_task() -> None:
    # The prefetch (the second request) dribbles its body for seconds: it is still in
    # flight when the loop breaks, however slowly this machine runs the test.
    faults = Faults(slow_body_seconds=2.0)
    async with FakePostpress(dataset=Dataset(messages=2_000), faults=faults) as server:
        server.inject("messages.list", [None, "slow_body"])
        async with client_for(server) as client:
            async for message in client.messages.list(limit=50, prefetch=1):
                assert isinstance(message, Message)
                await wait_for(
                    lambda: server.stats.by_route["messages.list"] == 2,
                    "the prefetch reached the server",
                )
                assert server.stats.in_flight == 1
                break
            await wait_until_idle(server)
            assert server.stats.by_route["messages.list"] == 2


async def test_an_exception_in_the_loop_body_leaves_nothing_behind() -> None:
    async with FakePostpress(
        dataset=Dataset(messages=2_000), faults=Faults(latency=0.05)
    ) as server:
        async with client_for(server) as client:
            with pytest.raises(KeyError):
                async for _ in client.messages.list(limit=50):
                    await asyncio.sleep(0.01)
                    raise KeyError("caller bug")
            await wait_until_idle(server)


async def test_cancelling_the_caller_leaves_nothing_behind() -> None:
    async with FakePostpress(
        dataset=Dataset(messages=2_000), faults=Faults(latency=0.05)
    ) as server:
        async with client_for(server) as client:
            started = asyncio.Event()

            async def consume() -> None:
                async for _ in client.messages.list(limit=50, prefetch=3):
                    started.set()
                    await asyncio.sleep(1)

            task = asyncio.create_task(consume())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await wait_until_idle(server)


async def test_a_failed_prefetch_raises_at_its_page_with_every_earlier_item_delivered_once() -> (
    None
):
    dataset = Dataset(seed=1, messages=1_000)
    async with FakePostpress(dataset=dataset) as server:
        async with client_for(server, retry=RetryPolicy.disabled()) as client:
            server.inject("messages.list", [None, None, None, "service_unavailable"])
            got: list[str] = []
            stream = client.messages.list(limit=100, prefetch=2)
            with pytest.raises(ServiceUnavailableError) as info:
                async for message in stream:
                    got.append(message.id)
            assert len(got) == 300
            assert info.value.resume_cursor is not None
            assert stream.checkpoint.cursor == info.value.resume_cursor
            assert stream.checkpoint.offset == 0
            rest = [
                m.id async for m in client.messages.list(limit=100, cursor=info.value.resume_cursor)
            ]
    assert got + rest == dataset.expected_message_ids()


async def test_a_stream_survives_retried_failures_with_every_item_exactly_once() -> None:
    dataset = Dataset(seed=2, messages=3_000)
    mixed = {
        FaultKind.SERVICE_UNAVAILABLE: 0.08,
        FaultKind.NETWORK_DOWN: 0.05,
        FaultKind.REQUEST_TIMEOUT: 0.05,
        FaultKind.PROVIDER_ERROR: 0.04,
        FaultKind.BAD_GATEWAY_HTML: 0.04,
        FaultKind.CONNECTION_RESET: 0.04,
    }
    faults = FaultPlan(routes={"messages.list": Faults(rates=mixed, seed=11)})
    async with FakePostpress(dataset=dataset, faults=faults) as server:
        # 30 % of requests fail: more than the default budget (20 %) is meant to absorb.
        generous = FAST_RETRY.replace(attempts=10)
        budget = Limits(retry_budget_ratio=1.0)
        async with client_for(server, retry=generous, limits=budget) as client:
            ids = [m.id async for m in client.messages.list(limit=50, prefetch=2)]
            stats = client.stats()
        injected = sum(server.stats.faults.values())
    assert ids == dataset.expected_message_ids()
    assert injected > 0
    assert stats.total_retries == injected


async def test_a_hundred_callers_against_a_dead_server_stay_within_limit_and_budget() -> None:
    dead = Faults(rates={FaultKind.SERVICE_UNAVAILABLE: 1.0}, latency=0.002)
    policy = RetryPolicy(attempts=10, wait_initial=0.001, wait_max=0.002)
    limits = Limits(max_in_flight=8, retry_budget_ratio=0.1, retry_budget_floor=10)
    async with FakePostpress(dataset=Dataset(messages=10), faults=dead) as server:
        async with client_for(server, retry=policy, limits=limits) as client:

            async def call() -> BaseException | None:
                try:
                    await client.messages.retrieve(server.dataset.message_id(0))
                except ServiceUnavailableError as exc:
                    return exc
                return None

            errors = await asyncio.gather(*(call() for _ in range(100)))
            stats = client.stats()
    assert all(isinstance(e, ServiceUnavailableError) for e in errors)
    assert server.stats.peak_in_flight <= 8
    # 100 first attempts; retries bounded by floor + ratio * first attempts, not 100 * 9.
    assert stats.total_retries <= 10 + 0.1 * 100
    assert server.stats.requests == 100 + stats.total_retries
    assert stats.budget_rejections > 0
    assert (
        sum(1 for e in errors if e is not None and e.retry_budget_exhausted)
        == stats.budget_rejections
    )


async def test_the_in_flight_limit_is_shared_by_streams_fanout_and_single_calls() -> None:
    dataset = Dataset(seed=4, messages=2_000)
    async with FakePostpress(dataset=dataset, faults=Faults(latency=0.01)) as server:
        async with client_for(server, limits=Limits(max_in_flight=3)) as client:
            accounts = sorted({dataset.message_row(i).account_id for i in range(200)})[:6]
            streams = [client.messages.list(account_id=a, limit=50, prefetch=2) for a in accounts]
            singles = [client.messages.retrieve(dataset.message_id(i)) for i in range(10)]
            merged, _ = await asyncio.gather(_collect(merge(*streams)), asyncio.gather(*singles))
    assert server.stats.peak_in_flight <= 3
    assert Counter(merged) == Counter(
        i for a in accounts for i in dataset.expected_message_ids(account_id=a)
    )


async def _collect(stream: object) -> list[str]:
    return [m.id async for m in stream]  # type: ignore[attr-defined]


async def test_time_windows_fetch_every_message_in_the_range_exactly_once() -> None:
    dataset = Dataset(seed=6, messages=3_000)
    stamps = sorted(dataset.message_timestamp_ms(i) for i in range(dataset.message_count))
    after = datetime.fromtimestamp(stamps[100] / 1000, tz=timezone.utc)
    before = datetime.fromtimestamp(stamps[-100] / 1000, tz=timezone.utc)
    async with FakePostpress(dataset=dataset) as server, client_for(server) as client:
        stream = client.messages.list_windows(after=after, before=before, windows=8, limit=100)
        ids = [m.id async for m in stream]
    expected = dataset.expected_message_ids(after=after, before=before)
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(expected)


async def test_unknown_types_from_a_quirky_server_are_inspectable_not_fatal() -> None:
    dataset = Dataset(seed=8, messages=600, quirks=True)
    async with FakePostpress(dataset=dataset) as server, client_for(server) as client:
        accounts = [a async for a in client.accounts.list()]
        messages = [m async for m in client.messages.list(limit=250)]
    assert len(accounts) == dataset.account_count
    assert len(messages) == dataset.message_count
    from postpress_async.models import UnknownAccount, UnknownAttachment

    unknown_accounts = [a for a in accounts if isinstance(a, UnknownAccount)]
    unknown_attachments = [
        att for m in messages for att in m.attachments if isinstance(att, UnknownAttachment)
    ]
    assert unknown_accounts and all(a.raw["type"] == a.type for a in unknown_accounts)
    assert unknown_attachments and all(att.raw["type"] == att.type for att in unknown_attachments)


async def test_time_windows_resume_each_window_from_its_own_checkpoint() -> None:
    dataset = Dataset(seed=6, messages=2_000)
    stamps = sorted(dataset.message_timestamp_ms(i) for i in range(dataset.message_count))
    after = datetime.fromtimestamp((stamps[0] - 1) / 1000, tz=timezone.utc)
    before = datetime.fromtimestamp((stamps[-1] + 1) / 1000, tz=timezone.utc)
    async with FakePostpress(dataset=dataset) as server, client_for(server) as client:
        window_args = {"after": after, "before": before, "windows": 4, "limit": 50}
        stored: list[str] = []
        checkpoints = [Checkpoint()] * 4
        async with client.messages.list_windows(**window_args) as first:  # type: ignore[arg-type]
            async for batch in first.pages():
                stored.extend(m.id for m in batch.page.items)
                checkpoints[batch.source] = batch.checkpoint
                if len(stored) >= 700:
                    break  # the worker stops here; what it stored and its checkpoints survive
        rest = client.messages.list_windows(**window_args, resume=checkpoints)  # type: ignore[arg-type]
        stored.extend([m.id async for m in rest])
    assert sorted(stored) == sorted(dataset.expected_message_ids())
    assert len(stored) == dataset.message_count


async def test_window_resume_needs_one_checkpoint_a_window() -> None:
    async with FakePostpress(dataset=Dataset(messages=10)) as server, client_for(server) as client:
        with pytest.raises(InvalidParameterError, match="one checkpoint a window"):
            client.messages.list_windows(
                after="2026-01-01T00:00:00Z", before="2026-02-01T00:00:00Z", windows=3, resume=[]
            )


@pytest.mark.parametrize("read", [3, 10, 13])
async def test_a_merged_checkpoint_is_the_one_its_source_stream_gives_at_that_item(
    read: int,
) -> None:
    """Also inside a page: its ``follow`` (where a watch continuing the listing starts)
    is the source's, so backfilling accounts with merge and then watching each from its
    checkpoint repeats nothing."""
    async with FakePostpress(dataset=Dataset(seed=2, messages=40)) as server:
        async with client_for(server) as client:
            alone = client.messages.list(limit=10)
            async with alone:
                async for _ in alone:
                    if alone.items_handed_out == read:
                        break
            merged = merge(client.messages.list(limit=10))
            async with merged:
                async for _ in merged:
                    if merged.items_handed_out == read:
                        break
    assert alone.checkpoint.follow is not None
    assert merged.checkpoints == [alone.checkpoint]
