"""Cancelled at every step: each operation, cancelled after its k-th event-loop step.

For k = 0, 1, 2, ... until the operation ends on its own, a task runs the operation and
is cancelled after the test has passed through the event loop k times. After each cancel:
the ``CancelledError`` reaches the caller as itself, no task is left, no request slot is
held, the client makes a new call, and resuming from what the operation says it handed
out (a stream's ``checkpoint``, a merge's ``checkpoints``, a watch's ``state``) hands out
exactly the rest. ``MockTransport``'s handler awaits, so requests are in flight at some
steps; the flaky rows answer each request's first attempt with a 503, so some steps
land in a retry. The same sweep over HTTP against the fake server, with latency, a slow
body and faults, is in ``test_cancel_sweep_http.py`` (slow).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from postpress_async import AsyncPostpress, Limits, PollPolicy, RetryPolicy, merge
from postpress_async.transports import MockTransport, Request, Response

PER_ACCOUNT = 10
PAGE = 4
ACCOUNTS = ("acc_a", "acc_b", "acc_c")
POLICY = PollPolicy(interval=0.01)


def stamp(n: int) -> str:
    return f"2026-05-01T00:00:{59 - n:02d}.000Z"


def messages(account: str) -> list[dict[str, str]]:
    """An account's messages, newest first (as the API lists them)."""
    return [
        {"id": f"{account}_{n:02d}", "timestamp": stamp(n), "account_id": account}
        for n in range(PER_ACCOUNT)
    ]


def ids(account: str = ACCOUNTS[0]) -> list[str]:
    return [message["id"] for message in messages(account)]


class Api:
    """``GET /messages`` (``account_id``, ``after``, ``limit``, offset cursors) and
    ``GET /messages/{id}``; each answer takes two loop steps. ``flaky``: the first attempt
    of each request is a 503 (retried without a wait)."""

    def __init__(self, *, flaky: bool) -> None:
        self.flaky = flaky
        self.failed: set[str] = set()

    async def __call__(self, request: Request) -> Response:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        if self.flaky and request.url not in self.failed:
            self.failed.add(request.url)
            return self.reply(503, {"type": "errors/service_unavailable", "status": 503})
        params = request.params
        if request.label == "messages.retrieve":
            return self.reply(200, messages(ACCOUNTS[0])[0])
        found = messages(params.get("account_id") or ACCOUNTS[0])
        if "after" in params:
            found = [m for m in found if m["timestamp"] > params["after"]]
        size = int(params.get("limit") or PAGE)
        start = int(params.get("cursor") or 0)
        more = start + size < len(found)
        body = {
            "object": "MessageList",
            "items": found[start : start + size],
            "cursor": str(start + size) if more else None,
        }
        return self.reply(200, body)

    @staticmethod
    def reply(status: int, body: object) -> Response:
        headers = {"content-type": "application/json", "date": "Fri, 01 May 2026 01:00:00 GMT"}
        return Response(status, headers, json.dumps(body).encode())


@dataclasses.dataclass
class Run:
    """One run of an operation: what it handed out, and how to hand out the rest."""

    got: list[str]
    body: Callable[[], Awaitable[None]]
    rest: Callable[[], Awaitable[list[str]]]


#: An operation: (client, prefetch, whether the caller awaits between items) -> a Run.
Operation = Callable[[AsyncPostpress[Any], int, bool], Run]


async def walk(stream: Any, got: list[str], pause: bool, *, pages: bool = False) -> None:
    """Hand ``stream`` out into ``got``; ``pause``: the caller awaits after each item
    (inside ``async with``, which ends the stream's work as the cancel passes)."""

    async def hand_out() -> None:
        walked = stream.pages() if pages else stream
        async for item in walked:
            # A page (pages()) or a watch's batch holds items; a stream's item is one.
            found = item.items if pages else item if isinstance(item, list) else [item]
            got.extend(one.id for one in found)
            if pause:
                await asyncio.sleep(0)

    if not pause:
        await hand_out()
        return
    async with stream:
        await hand_out()


def listing(client: AsyncPostpress[Any], prefetch: int, pause: bool, *, pages: bool) -> Run:
    got: list[str] = []
    stream = client.messages.list(prefetch=prefetch)

    async def rest() -> list[str]:
        return [
            m.id async for m in client.messages.list(prefetch=prefetch, resume=stream.checkpoint)
        ]

    return Run(got, lambda: walk(stream, got, pause, pages=pages), rest)


def merging(client: AsyncPostpress[Any], prefetch: int, pause: bool) -> Run:
    got: list[str] = []

    def sources(resume: list[Any] | None = None) -> Any:
        return merge(
            *(
                client.messages.list(
                    account_id=account,
                    prefetch=prefetch,
                    resume=None if resume is None else resume[n],
                )
                for n, account in enumerate(ACCOUNTS)
            ),
            concurrency=2,
        )

    stream = sources()

    async def rest() -> list[str]:
        return [m.id async for m in sources(stream.checkpoints)]

    return Run(got, lambda: walk(stream, got, pause), rest)


def watching(client: AsyncPostpress[Any], prefetch: int, pause: bool, *, batches: bool) -> Run:
    got: list[str] = []
    since = "2026-05-01T00:00:00Z"
    stream = client.messages.watch(since=since, policy=POLICY, max_items=PER_ACCOUNT, limit=PAGE)

    async def body() -> None:
        if batches:
            async with stream:
                async for batch in stream.batches():
                    got.extend(m.id for m in batch)
                    if pause:
                        await asyncio.sleep(0)
        else:
            await walk(stream, got, pause)

    async def rest() -> list[str]:
        left = PER_ACCOUNT - len(got)
        if left == 0:
            return []
        again = client.messages.watch(since=stream.state, policy=POLICY, max_items=left, limit=PAGE)
        return [m.id async for m in again]

    return Run(got, body, rest)


def one_call(call: Callable[[AsyncPostpress[Any]], Awaitable[list[str]]]) -> Operation:
    def operation(client: AsyncPostpress[Any], prefetch: int, pause: bool) -> Run:
        got: list[str] = []

        async def body() -> None:
            got.extend(await call(client))

        async def rest() -> list[str]:  # nothing to resume: the call again gives it all
            return [] if got else await call(client)

        return Run(got, body, rest)

    return operation


async def raw_list(client: AsyncPostpress[Any]) -> list[str]:
    raw = await client.raw_response(client.messages.list, limit=PAGE)
    return [m.id for m in raw.parsed.items]


async def raw_retrieve(client: AsyncPostpress[Any]) -> list[str]:
    raw = await client.raw_response(client.messages.retrieve, ids()[0])
    return [raw.parsed.id]


async def retrieve(client: AsyncPostpress[Any]) -> list[str]:
    return [(await client.messages.retrieve(ids()[0])).id]


async def first_page(client: AsyncPostpress[Any]) -> list[str]:
    return [m.id for m in (await client.messages.list(limit=PAGE)).items]


EXPECTED = {
    "merge": sorted(i for account in ACCOUNTS for i in ids(account)),
    "watch": sorted(ids()),
    "batches": sorted(ids()),
    "raw_response(list)": sorted(ids()[:PAGE]),
    "first page": sorted(ids()[:PAGE]),
    "raw_response(retrieve)": ids()[:1],
    "retrieve": ids()[:1],
}

OPERATIONS: dict[str, Operation] = {
    "list": lambda c, p, pause: listing(c, p, pause, pages=False),
    "pages": lambda c, p, pause: listing(c, p, pause, pages=True),
    "merge": merging,
    "watch": lambda c, p, pause: watching(c, p, pause, batches=False),
    "batches": lambda c, p, pause: watching(c, p, pause, batches=True),
    "raw_response(list)": one_call(raw_list),
    "raw_response(retrieve)": one_call(raw_retrieve),
    "retrieve": one_call(retrieve),
    "first page": one_call(first_page),
}

STREAMS = ("list", "pages", "merge")
#: Every operation x prefetch x caller x fault; prefetch 0 and 3, and a caller that
#: awaits meeting a 503, are left to the slow run (the README's test command stays fast).
ROWS = [
    pytest.param(
        name,
        prefetch,
        pause,
        flaky,
        id=f"{name}-p{prefetch}-{how}-{kind}",
        marks=[pytest.mark.slow] if (pause and flaky) or prefetch != 1 else [],
    )
    for name in OPERATIONS
    for prefetch in ((0, 1, 3) if name in STREAMS else (1,))
    for pause, how in ((False, "plain"), (True, "awaits"))
    if pause is False or name in STREAMS or name in ("watch", "batches")
    for flaky, kind in ((False, "ok"), (True, "503"))
]


def others() -> set[asyncio.Task[Any]]:
    """Every task but the test's own, asyncio's closing of an abandoned async generator
    aside (it runs the generator's ``finally`` and ends at its next step)."""
    mine = asyncio.current_task()
    return {
        task
        for task in asyncio.all_tasks()
        if task is not mine and type(task.get_coro()).__name__ != "async_generator_athrow"
    }


async def sweep(
    client: AsyncPostpress[Any],
    operation: Operation,
    prefetch: int,
    pause: bool,
    expected: list[str],
    *,
    stride: int = 1,
    left: Callable[[], set[asyncio.Task[Any]]] = others,
) -> int:
    """Cancel ``operation`` after k steps for k = 0, stride, 2 * stride, ... until it ends
    by itself; each cancel checked as the module docstring says (``left``: the tasks that
    must not be there). Returns how many cancels were made."""
    for cancels, k in enumerate(range(0, 1_000_000, stride)):
        run = operation(client, prefetch, pause)
        task = asyncio.create_task(run.body())
        for _ in range(k):
            await asyncio.sleep(0)
        if task.done():
            await task
            assert sorted(run.got) == expected
            return cancels
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert left() == set(), f"tasks left after a cancel at step {k}"
        assert client.stats().in_flight == 0, f"a request slot held after a cancel at step {k}"
        rest = await run.rest()
        handed = run.got + rest
        assert sorted(handed) == expected, f"cancelled at step {k}: {run.got} then {rest}"
    raise AssertionError("the operation never ended")


def client_on(api: Api) -> AsyncPostpress[Any]:
    # One slot: a request slot a cancel leaves held would stop the next call. The retry
    # budget is no subject here: the flaky rows retry hundreds of requests.
    return AsyncPostpress(
        api_key="k",
        transport=MockTransport(api),
        retry=RetryPolicy(attempts=3, wait_initial=0, wait_max=0),
        limits=Limits(max_in_flight=1, retry_budget_floor=1_000_000),
    )


@pytest.mark.parametrize(("name", "prefetch", "pause", "flaky"), ROWS)
async def test_cancelled_at_every_step_hands_out_the_rest_exactly_once(
    name: str, prefetch: int, pause: bool, flaky: bool
) -> None:
    expected = EXPECTED.get(name, sorted(ids()))
    async with client_on(Api(flaky=flaky)) as client:
        cancels = await sweep(client, OPERATIONS[name], prefetch, pause, expected)
    assert cancels > 0
