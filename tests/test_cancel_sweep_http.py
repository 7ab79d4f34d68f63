"""The cancel sweep of ``test_cancel_sweep.py`` over HTTP, against the fake server.

Latency, a slow body and 503s make the steps land in a connection, a body read and a
retry. Over a socket a step is not a fixed amount of work, so these sweep k by a stride
until the operation ends on its own; the fake server's own tasks are not the SDK's.
``ingest`` is swept here too, into the strict in-memory store of the ingest tests: after
each cancel the same call finishes the export with every id stored, none twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ingest._memory import MemorySink, MemoryStore
from test_cancel_sweep import Operation, Run, sweep, walk

from postpress_async import AsyncPostpress, Limits, PollPolicy, RetryPolicy, merge
from postpress_async.ingest import ClientConfig, ingest
from postpress_async.testing import Dataset, FakePostpress, FaultKind, Faults

POLICY = PollPolicy(interval=0.01)
FAULTS = {
    "latency": (Faults(latency=0.002), 3),
    "slow body": (Faults(rates={FaultKind.SLOW_BODY: 1.0}, slow_body_seconds=0.01), 50),
    "503": (Faults(rates={FaultKind.SERVICE_UNAVAILABLE: 0.2}, retry_after=0.0), 1),
}


def sdk_tasks() -> set[asyncio.Task[Any]]:
    """The SDK's tasks: not the test's, not the fake server's, not asyncio's closing of
    an abandoned async generator."""
    mine = asyncio.current_task()
    found = set()
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        where = "" if code is None else code.co_filename.replace("\\", "/")
        if task is not mine and "postpress_async/" in where and "/testing/" not in where:
            found.add(task)
    return found


def operations(accounts: list[str], first: str) -> dict[str, Operation]:
    def listing(client: AsyncPostpress[Any], prefetch: int, pause: bool) -> Run:
        got: list[str] = []
        stream = client.messages.list(limit=10, prefetch=prefetch)

        async def rest() -> list[str]:
            again = client.messages.list(limit=10, prefetch=prefetch, resume=stream.checkpoint)
            return [m.id async for m in again]

        return Run(got, lambda: walk(stream, got, pause), rest)

    def merging(client: AsyncPostpress[Any], prefetch: int, pause: bool) -> Run:
        got: list[str] = []

        def sources(resume: list[Any] | None = None) -> Any:
            return merge(
                *(
                    client.messages.list(
                        account_id=a, limit=5, prefetch=prefetch, resume=resume and resume[n]
                    )
                    for n, a in enumerate(accounts)
                ),
                concurrency=2,
            )

        stream = sources()

        async def rest() -> list[str]:
            return [m.id async for m in sources(stream.checkpoints)]

        return Run(got, lambda: walk(stream, got, pause), rest)

    def watching(client: AsyncPostpress[Any], prefetch: int, pause: bool) -> Run:
        got: list[str] = []
        total = 30
        stream = client.messages.watch(
            since="2000-01-01T00:00:00Z", policy=POLICY, max_items=total, limit=10
        )

        async def rest() -> list[str]:
            if len(got) == total:
                return []
            again = client.messages.watch(
                since=stream.state, policy=POLICY, max_items=total - len(got), limit=10
            )
            return [m.id async for m in again]

        return Run(got, lambda: walk(stream, got, pause), rest)

    def raw(client: AsyncPostpress[Any], prefetch: int, pause: bool) -> Run:
        got: list[str] = []

        async def body() -> None:
            got.append((await client.raw_response(client.messages.retrieve, first)).parsed.id)

        async def rest() -> list[str]:
            return [] if got else [(await client.messages.retrieve(first)).id]

        return Run(got, body, rest)

    return {"list": listing, "merge": merging, "watch": watching, "raw_response": raw}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", ["list", "merge", "watch", "raw_response"])
@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_cancelled_at_every_step_over_http(fault: str, name: str, prefetch: int) -> None:
    if name not in ("list", "merge") and prefetch != 1:
        pytest.skip("prefetch shapes list streams only")
    faults, stride = FAULTS[fault]
    async with FakePostpress(dataset=Dataset(messages=30, accounts=3), faults=faults) as server:
        async with AsyncPostpress(
            api_key=server.api_key,
            base_url=server.url,
            retry=RetryPolicy(attempts=10, wait_initial=0.001, wait_max=0.002),
            limits=Limits(max_in_flight=2, retry_budget_floor=1_000_000),
        ) as client:
            every = server.truth("messages")
            accounts = [a.id async for a in client.accounts.list()]
            expected = {"raw_response": every[:1]}.get(name, sorted(every))
            operation = operations(accounts, every[0])[name]
            for pause in (False, True):
                cancels = await sweep(
                    client, operation, prefetch, pause, expected, stride=stride, left=sdk_tasks
                )
                assert cancels > 0
        assert server.stats.in_flight == 0


#: (fault, follow, stride): the first row, every 9th step of a plain export, is fast.
INGESTS = [
    pytest.param("none", False, 9, id="every 9th step"),
    *(
        pytest.param(fault, follow, stride, marks=pytest.mark.slow, id=f"{fault}-{how}")
        for fault, stride in (("none", 1), ("latency", 7), ("503", 1))
        for follow, how in ((False, "export"), (True, "follow"))
    ),
]


@pytest.mark.parametrize(("fault", "follow", "stride"), INGESTS)
async def test_an_ingest_cancelled_at_every_step_is_finished_by_the_same_call(
    fault: str, follow: bool, stride: int
) -> None:
    faults = {
        "none": None,
        "latency": FAULTS["latency"][0],
        "503": Faults(rates={FaultKind.SERVICE_UNAVAILABLE: 0.1}, retry_after=0.0),
    }[fault]
    async with FakePostpress(dataset=Dataset(messages=200, accounts=3), faults=faults) as server:
        async with AsyncPostpress(
            api_key=server.api_key,
            base_url=server.url,
            retry=RetryPolicy(attempts=10, wait_initial=0.001, wait_max=0.002),
        ) as client:
            config = ClientConfig.from_client(client, limit=25, prefetch=2)  # 10 attempts
        truth = sorted(server.truth("messages"))
        cancels = 0
        for k in range(0, 1_500 if follow else 1_000_000, stride):
            store = MemoryStore()
            job = ingest(
                config, "messages", MemorySink(store), shards=3, follow=follow, policy=POLICY
            )
            task = asyncio.create_task(job)
            for _ in range(k):
                await asyncio.sleep(0)
            if task.done():
                assert (await task).backfill_done
                break
            cancels += 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert sdk_tasks() == set(), f"tasks left after a cancel at step {k}"
            assert store.writer is None, f"the store left locked after a cancel at step {k}"
            await ingest(config, "messages", MemorySink(store))
            assert sorted(store.rows["messages"]) == truth, f"cancelled at step {k}"
            twice = [i for i, n in store.written["messages"].items() if n > 1]
            assert twice == [], f"stored twice after a cancel at step {k}"
        assert cancels > 0
