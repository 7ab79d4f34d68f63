"""Static checks of what ``on_unreadable`` does to the types (mypy reads this, pytest does not).

The default client's streams stay ``ListStream[Message]``; a client made, or viewed, with
``on_unreadable="yield"`` has streams of ``Message | UnreadableItem``.
"""

from __future__ import annotations

from typing_extensions import assert_type

from postpress_async import AsyncPostpress, ListStream, MergedStream, WatchStream
from postpress_async._decoding import UnreadableItem
from postpress_async._unreadable import OnlyReadable, YieldsUnreadable
from postpress_async.ingest import ClientConfig, ShardPlan, plan_shards
from postpress_async.models import Account, Chat, Message


async def check(client: AsyncPostpress, flag: bool) -> None:
    assert_type(client, AsyncPostpress[OnlyReadable])
    assert_type(client.messages.list(), ListStream[Message])
    assert_type(client.with_options(on_unreadable="skip").chats.list(), ListStream[Chat])
    assert_type(client.with_options(prefetch=2).accounts.list(), ListStream[Account])

    tolerant = client.with_options(on_unreadable="yield")
    assert_type(tolerant, AsyncPostpress[YieldsUnreadable])
    assert_type(tolerant.messages.list(), ListStream[Message | UnreadableItem])
    assert_type(tolerant.chats.list(), ListStream[Chat | UnreadableItem])
    assert_type(tolerant.accounts.list(), ListStream[Account | UnreadableItem])
    windows = tolerant.messages.list_windows(after="2026-01-01T00:00:00Z", before="2026-02-01Z")
    assert_type(windows, MergedStream[Message | UnreadableItem])
    assert_type(tolerant.with_options(prefetch=0), AsyncPostpress[YieldsUnreadable])
    assert_type(tolerant.with_options(api_key="pp_new"), AsyncPostpress[YieldsUnreadable])
    assert_type(tolerant.with_options(on_unreadable="raise"), AsyncPostpress[OnlyReadable])
    async for item in tolerant.messages.list():
        if isinstance(item, UnreadableItem):
            assert_type(item.raw, bytes)
        else:
            assert_type(item, Message)
    # a watch hands out only what it can place in time, whatever the policy
    assert_type(tolerant.messages.watch(), WatchStream[Message])
    listing = tolerant.messages.list()
    assert_type(tolerant.messages.watch(since=listing), WatchStream[Message])

    # the ingest entry points take any client: they only read its configuration, or
    # read strictly whatever it was made with
    assert_type(await plan_shards(tolerant, "messages", shards=2), ShardPlan)
    assert_type(ClientConfig.from_client(tolerant), ClientConfig)

    made = AsyncPostpress(api_key="k", on_unreadable="yield")
    assert_type(made, AsyncPostpress[YieldsUnreadable])
    assert_type(AsyncPostpress(api_key="k", on_unreadable="skip"), AsyncPostpress[OnlyReadable])

    # a conditional between two resources keeps what they share (no Never to join)
    either = client.messages if flag else client.chats
    either.watch()
