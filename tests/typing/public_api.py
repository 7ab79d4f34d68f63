"""Static checks of the public API's types: mypy reads this file (see pyproject), pytest
does not run it. A wrong inferred type fails ``mypy``, so the types users see are tested."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from typing_extensions import assert_type  # typing's own needs 3.11; mypy targets 3.10

from postpress_async import (
    APIStatusError,
    AsyncPostpress,
    Checkpoint,
    ClientStats,
    ListStream,
    MergedStream,
    PollPolicy,
    RawResponse,
    ResponseEvent,
    SourcePage,
    WatchState,
    WatchStream,
    merge,
)
from postpress_async._durable import fsync_dir, write_atomic
from postpress_async._encoding import encode_json_lines
from postpress_async._filelock import OutputLock, lock_output
from postpress_async._time import format_datetime, parse_datetime, split_window
from postpress_async.ingest import ClientConfig, IngestResult
from postpress_async.models import Account, Chat, Message, Page
from postpress_async.transports import AiohttpTransport, MockTransport, Request, Response


async def check(client: AsyncPostpress) -> None:
    stream = client.messages.list(limit=10)
    assert_type(stream, ListStream[Message])
    assert_type(await stream, Page[Message])
    async for message in client.messages.list():
        assert_type(message, Message)
    async for page in client.chats.list().pages():
        assert_type(page, Page[Chat])
    async for account in client.accounts.list():
        assert_type(account, Account)
    assert_type(await client.chats.retrieve("c"), Chat)
    assert_type(await client.messages.retrieve("m"), Message)
    assert_type(stream.checkpoint, Checkpoint)
    merged = merge(client.messages.list(), client.messages.list())
    assert_type(merged, MergedStream[Message])
    async for batch in merged.pages():
        assert_type(batch, SourcePage[Message])
    windows = client.messages.list_windows(
        after="2026-01-01T00:00:00Z", before="2026-02-01T00:00:00Z"
    )
    assert_type(windows, MergedStream[Message])
    async with client.messages.list() as entered:
        assert_type(entered, ListStream[Message])
    assert_type(client.stats(), ClientStats)
    assert_type(client.with_options(timeout=5), AsyncPostpress)
    moment = parse_datetime("after", "2026-01-01T00:00:00Z")
    assert_type(moment, datetime)
    assert_type(format_datetime(moment), str)
    assert_type(split_window(moment, "2026-02-01T00:00:00Z", 4), list[tuple[datetime, datetime]])
    watch = client.messages.watch(account_id="acc", policy=PollPolicy(interval=1.0))
    assert_type(watch, WatchStream[Message])
    async for new in watch:
        assert_type(new, Message)
    async for news in client.messages.watch(since=watch.state).batches():
        assert_type(news, list[Message])
    assert_type(watch.state, WatchState)
    async with client.chats.watch(since=client.chats.list()) as chats:
        assert_type(chats, WatchStream[Chat])
    assert_type(client.messages.list().checkpoint.follow, WatchState | None)
    raw = await client.raw_response(client.messages.retrieve, "m")
    assert_type(raw, RawResponse[Message])
    assert_type(raw.parsed, Message)
    assert_type(raw.request_id, str | None)
    first = await client.raw_response(client.messages.list, limit=5)
    assert_type(first.parsed, Page[Message])
    assert_type((await client.messages.retrieve("m")).to_builtins(), dict[str, Any])
    assert_type(client.stats().in_flight_limit, int)


def handler(request: Request) -> Response:
    return Response(status=200, headers={}, content=b"{}")


async def on_response(event: ResponseEvent) -> None:
    assert_type(event.status, int | None)


def check_errors(error: APIStatusError) -> None:
    assert_type(error.request_id, str | None)
    assert_type(error.status, int)
    assert_type(error.checkpoint, Checkpoint | None)


def build() -> AsyncPostpress:
    return AsyncPostpress(
        api_key="k",
        transport=MockTransport(handler),
        event_hooks={"response": [on_response]},
    )


def check_encoding(messages: list[Message]) -> None:
    assert_type(encode_json_lines(messages), bytes)


def check_durable(path: Path) -> None:
    assert_type(write_atomic(path, b"{}"), None)
    assert_type(fsync_dir(path.parent), None)


def check_lock(path: str) -> None:
    with lock_output(path) as lock:
        assert_type(lock, OutputLock)
        assert_type(lock.held, bool)


async def check_ingest(client: AsyncPostpress) -> None:
    from postpress_async._time import strict_windows
    from postpress_async.ingest import (
        Shard,
        ShardPlan,
        Window,
        ingest,
        plan_shards,
        window_queries,
    )

    plan = await plan_shards(client, "messages", shards=8)
    assert_type(plan, ShardPlan)
    assert_type(plan.shards, list[Shard])
    assert_type(plan.balance, float | None)
    assert_type(Shard.from_json(plan.shards[0].to_json()), Shard)
    assert_type(window_queries(["2026-05-01T00:00:00Z"]), list[Window])
    moment = parse_datetime("t", "2026-05-01T00:00:00Z")
    assert_type(strict_windows([moment]), list[tuple[datetime | None, datetime | None]])
    config = ClientConfig.from_client(client)
    assert_type(await ingest(config, "messages", "sqlite:///m.db"), IngestResult)


async def check_sinks(config: ClientConfig) -> None:
    # every sink is a Sink (pyright took the file sinks' ``columns`` property for no match)
    from postpress_async.ingest import Sink, ingest
    from postpress_async.ingest.sinks._parts import PartFilesSink
    from postpress_async.ingest.sinks.files import JsonLinesSink
    from postpress_async.ingest.sinks.sqlite import SQLiteSink

    sinks: list[Sink] = [JsonLinesSink("m.jsonl"), PartFilesSink("out/"), SQLiteSink("m.db")]
    assert_type(sinks[0].columns, tuple[str, ...] | None)
    assert_type(await ingest(config, "messages", JsonLinesSink("m.jsonl")), IngestResult)


def check_a_misspelt_name_is_an_error() -> None:
    # The lazy and deprecated names are declared for checkers; any other name is an
    # error, not Any (strict mode fails on an ignore that is not needed).
    import postpress_async.ingest
    import postpress_async.transports

    postpress_async.AsyncPostpres  # type: ignore[attr-defined]  # noqa: B018
    postpress_async.ingest.ingestt  # type: ignore[attr-defined]  # noqa: B018
    postpress_async.transports.MockTransprt  # type: ignore[attr-defined]  # noqa: B018
    assert_type(postpress_async.transports.AiohttpTransport, type[AiohttpTransport])
