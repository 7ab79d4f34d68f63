"""``client.messages``: what ``messages.list`` and ``messages.retrieve`` send on the wire, and what they read."""

from __future__ import annotations

from datetime import datetime, timezone

from helpers import RecordingTransport, client_with, empty_list, fixture_bytes, path_of, query_of

from postpress_async.models import Message
from postpress_async.transports import Response


async def test_messages_list_sends_every_filter() -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        await client.messages.list(
            before="2026-05-17T09:42:11.000Z",
            after=datetime(2026, 5, 1, tzinfo=timezone.utc),
            sender_id="ACoAACr-1eYBl",
            account_id="acc_1",
            limit=1,
            cursor="eyJza2lwIjoxMDB9",
        )
    request = transport.requests[0]
    assert path_of(request) == "/api/v1/messages"
    assert query_of(request) == {
        "before": "2026-05-17T09:42:11.000Z",
        "after": "2026-05-01T00:00:00.000Z",
        "sender_id": "ACoAACr-1eYBl",
        "account_id": "acc_1",
        "limit": "1",
        "cursor": "eyJza2lwIjoxMDB9",
    }


async def test_messages_retrieve_decodes_the_docs_example() -> None:
    transport = RecordingTransport(
        lambda r: Response(status=200, headers={}, content=fixture_bytes("message_retrieve.json"))
    )
    async with client_with(transport) as client:
        message = await client.messages.retrieve("msg_01HXYZ4QK3WJ8FN3M6QH7TZ8GR")
    assert isinstance(message, Message)
    assert message.id == "msg_01HXYZ4QK3WJ8FN3M6QH7TZ8GR"
    assert message.timestamp == datetime(2026, 5, 17, 9, 42, 11, tzinfo=timezone.utc)
