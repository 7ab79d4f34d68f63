"""Every task group in the package, driven by a request that fails.

A task group raises an ``ExceptionGroup`` even when one task failed; the SDK promises the
caller the API's own typed error instead (``ServiceUnavailableError``...), wherever the
failing request ran. The planner used to leak the group (``unexpected ExceptionGroup``
at the command line). Each test below lets the first ``k`` requests through and fails the
rest, for every ``k`` up to the point where the job no longer reaches the task group, so
the failure lands in every task of every group. The first test keeps the list honest: a
new task group in the package fails it until a test here drives it.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

import postpress_async
from postpress_async import AsyncPostpress, RetryPolicy, ServiceUnavailableError, merge
from postpress_async.ingest import ClientConfig, LocalEngine, ingest, plan_shards
from postpress_async.testing import Dataset, FakePostpress, FaultKind

PACKAGE = Path(postpress_async.__file__).parent
NO_RETRY = RetryPolicy(attempts=1)
FAIL = FaultKind.SERVICE_UNAVAILABLE

#: Where the package opens a task group (a module and the call that opens it), each
#: driven by the tests named beside it.
DRIVEN = {
    ("_tasks.py", "create_task_group"): "the planner's and the prober's gather",
    ("_fanout.py", "create_task_group"): "test_merge_raises_the_typed_error",
    ("ingest/engines/local.py", "create_task_group"): "test_local_engine_raises_the_typed_error",
    ("ingest/_plan.py", "gather"): "test_planning_raises_the_typed_error",
    ("ingest/_probe.py", "gather"): "test_planning_raises_the_typed_error",
    ("ingest/_topup.py", "gather"): "test_topping_up_open_shards_raises_the_typed_error",
}
_OPENS = re.compile(r"\b(create_task_group|TaskGroup|gather)\(")


def test_every_task_group_in_the_package_is_driven_here() -> None:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("#", 1)[0]
            if "def gather" in code:
                continue
            for match in _OPENS.finditer(code):
                found.add((path.relative_to(PACKAGE).as_posix(), match.group(1)))
    assert found == set(DRIVEN)


def _fail_after(server: FakePostpress, route: str, passed: int) -> None:
    server.inject(route, [None] * passed + [FAIL] * 200)


#: Planning four shards of the dataset below sends 31 list requests by time (the
#: density probes, one gather, come last) and 51 by account (the accounts, a gather of counts, then
#: one of profiles); these cut-offs put the failure before, inside and late in each.
PLANNING_CUTS = [("time", k) for k in (0, 8, 16, 17, 22, 30)] + [
    ("account", k) for k in (0, 1, 4, 5, 12, 30, 49)
]


@pytest.mark.parametrize(("by", "passed"), PLANNING_CUTS)
async def test_planning_raises_the_typed_error(by: str, passed: int) -> None:
    async with FakePostpress(dataset=Dataset(accounts=4, messages=4_000)) as server:
        _fail_after(server, "messages.list", passed)
        async with AsyncPostpress(
            api_key=server.api_key, base_url=server.url, retry=NO_RETRY
        ) as client:
            with pytest.raises(ServiceUnavailableError):  # the typed error, not a group of it
                await plan_shards(client, "messages", shards=4, by=by)  # type: ignore[arg-type]


async def _planning_requests(dataset: Dataset) -> int:
    """How many list requests planning four shards of ``dataset`` sends."""
    async with FakePostpress(dataset=dataset) as server:
        async with AsyncPostpress(api_key=server.api_key, base_url=server.url) as client:
            await plan_shards(client, "messages", shards=4)
        return server.stats.requests


@pytest.mark.parametrize("into_the_shards", [0, 5])
async def test_local_engine_raises_the_typed_error(tmp_path: Path, into_the_shards: int) -> None:
    dataset = Dataset(accounts=4, messages=4_000)
    planning = await _planning_requests(dataset)
    async with FakePostpress(dataset=dataset) as server:
        config = ClientConfig(
            base_url=server.url,
            api_key=server.api_key,
            attempts=1,
            limit=100,
            allow_insecure_http=True,
        )
        _fail_after(server, "messages.list", planning + into_the_shards)
        with pytest.raises(ServiceUnavailableError):
            await ingest(
                config,
                "messages",
                f"sqlite:///{tmp_path / 'm.db'}",
                shards=4,
                engine=LocalEngine(),
            )
        assert server.pending_faults("messages.list") < 200


@pytest.mark.parametrize("passed", [0, 1, 2, 5])
async def test_merge_raises_the_typed_error(passed: int) -> None:
    async with FakePostpress(dataset=Dataset(accounts=4, messages=2_000)) as server:
        async with AsyncPostpress(
            api_key=server.api_key, base_url=server.url, retry=NO_RETRY
        ) as client:
            accounts = [account.id async for account in client.accounts.list()]
            _fail_after(server, "messages.list", passed)
            streams = [client.messages.list(account_id=a, limit=50) for a in accounts]
            with pytest.raises(ServiceUnavailableError):
                async for _ in merge(*streams, concurrency=4):
                    pass


@pytest.mark.parametrize("passed", [0, 1])  # two open shards: both fail, one fails
async def test_topping_up_open_shards_raises_the_typed_error(tmp_path: Path, passed: int) -> None:
    async with FakePostpress(dataset=Dataset(accounts=4, messages=2_000)) as server:
        config = ClientConfig(
            base_url=server.url, api_key=server.api_key, attempts=1, allow_insecure_http=True
        )
        url = f"sqlite:///{tmp_path / 'm.db'}"
        await ingest(config, "messages", url, shards=4, by="account")
        # A backfill done whose follow position is not derived yet (killed right before):
        # the next run tops up the open shards first, at once.
        with sqlite3.connect(tmp_path / "m.db") as db:
            assert db.execute("DELETE FROM positions WHERE name = 'follow'").rowcount == 1
        db.close()
        _fail_after(server, "messages.list", passed)
        with pytest.raises(ServiceUnavailableError):
            await ingest(config, "messages", url)
