"""``client.chats``: what ``chats.list`` and ``chats.retrieve`` send on the wire, and what they read."""

from __future__ import annotations

from datetime import datetime, timezone

from helpers import (
    RecordingTransport,
    client_with,
    empty_list,
    fixture_bytes,
    path_of,
    query_of,
)

from postpress_async.models import Chat
from postpress_async.transports import Response


async def test_chats_list_sends_every_filter() -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        await client.chats.list(
            account_id=["acc_1", "acc_2"],
            account_type="WHATSAPP",
            unread=False,
            before=datetime(2026, 5, 17, 9, 42, 11, 123456, tzinfo=timezone.utc),
            after="2026-01-01T00:00:00Z",
            limit=50,
        )
    request = transport.requests[0]
    assert path_of(request) == "/api/v1/chats"
    assert query_of(request) == {
        "account_id": "acc_1,acc_2",
        "account_type": "WHATSAPP",
        "unread": "false",
        "before": "2026-05-17T09:42:11.124Z",  # a strict upper bound rounds up
        "after": "2026-01-01T00:00:00.000Z",
        "limit": "50",
    }


async def test_chats_list_sends_one_account_id_and_unread_true() -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        await client.chats.list(account_id="acc_1", unread=True)
    assert query_of(transport.requests[0]) == {"account_id": "acc_1", "unread": "true"}


async def test_chats_retrieve_decodes_the_docs_example() -> None:
    transport = RecordingTransport(
        lambda r: Response(status=200, headers={}, content=fixture_bytes("chat_retrieve.json"))
    )
    async with client_with(transport) as client:
        chat = await client.chats.retrieve("chat_01HXYZ4QK3WJ8FN3M6QH7TZ8GR")
    assert isinstance(chat, Chat)
    assert path_of(transport.requests[0]) == "/api/v1/chats/chat_01HXYZ4QK3WJ8FN3M6QH7TZ8GR"
    assert query_of(transport.requests[0]) == {}
    assert chat.last_message is not None
    assert chat.last_message.text == "Sounds good - let's chat tomorrow."


async def test_chats_retrieve_by_provider_id_sends_the_account_id() -> None:
    transport = RecordingTransport(
        lambda r: Response(status=200, headers={}, content=fixture_bytes("chat_retrieve.json"))
    )
    async with client_with(transport) as client:
        await client.chats.retrieve("2-NTRk=/x:y", account_id="acc_1")
    request = transport.requests[0]
    assert path_of(request) == "/api/v1/chats/2-NTRk%3D%2Fx%3Ay"
    assert query_of(request) == {"account_id": "acc_1"}
