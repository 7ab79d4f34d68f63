"""Builders of realistic wire objects, so each test spells out only what it is about."""

from __future__ import annotations

from typing import Any

import msgspec

from postpress_async._decoding import decode
from postpress_async.models import AccountList, Chat, ChatList, Message, MessageList

ACCOUNT_ID = "acc_01HXYZ4QK3WJ8FN3M6QH7TZ8GR"
CHAT_ID = "chat_01HXYZ4QK3WJ8FN3M6QH7TZ8GR"


def dumps(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


def account(type_: Any, connection_params: Any, **fields: Any) -> dict[str, Any]:
    return {
        "object": "Account",
        "type": type_,
        "id": fields.pop("id", ACCOUNT_ID),
        "name": "Anna - Sales",
        "created_at": "2026-04-12T09:14:21.000Z",
        "connection_params": connection_params,
        "current_signature": "sig_default",
        "signatures": [{"title": "Default", "content": "Sent from postpress"}],
        "groups": ["grp_sales"],
        "sources": [{"id": "messaging", "status": "OK"}],
        **fields,
    }


def message(**fields: Any) -> dict[str, Any]:
    return {
        "object": "Message",
        "id": fields.pop("id", "msg_01"),
        "provider_id": "urn:li:msg:2-NTRkZDA4",
        "account_id": ACCOUNT_ID,
        "chat_id": CHAT_ID,
        "chat_provider_id": "2-NTRkZDA4M2Qt",
        "sender_id": "ACoAACr-1eYBl",
        "sender_attendee_id": "att_01",
        "timestamp": "2026-05-17T09:42:11.000Z",
        "text": "Sounds good",
        "is_sender": 0,
        "attachments": [],
        "reactions": [],
        "seen": 1,
        "seen_by": {},
        "hidden": 0,
        "deleted": 0,
        "edited": 0,
        "is_event": 0,
        "delivered": 1,
        "behavior": 0,
        "original": "{}",
        **fields,
    }


def chat(**fields: Any) -> dict[str, Any]:
    return {
        "object": "Chat",
        "id": fields.pop("id", CHAT_ID),
        "account_id": ACCOUNT_ID,
        "account_type": "LINKEDIN",
        "provider_id": "2-NTRkZDA4M2Qt",
        "name": "Jordan Walke",
        "type": 0,
        "timestamp": "2026-05-17T09:42:11.000Z",
        "unread_count": 0,
        "archived": 0,
        "muted_until": None,
        "read_only": 0,
        "pinned": 0,
        **fields,
    }


def decode_accounts(*items: Any, **page: Any) -> AccountList:
    body = dumps({"object": "AccountList", "items": list(items), "cursor": None, **page})
    return decode(body, AccountList, endpoint="GET /accounts")


def decode_messages(*items: Any, **page: Any) -> MessageList:
    body = dumps({"object": "MessageList", "items": list(items), "cursor": None, **page})
    return decode(body, MessageList, endpoint="GET /messages")


def decode_chats(*items: Any, **page: Any) -> ChatList:
    body = dumps({"object": "ChatList", "items": list(items), "cursor": None, **page})
    return decode(body, ChatList, endpoint="GET /chats")


def decode_message(obj: Any) -> Message:
    return decode(dumps(obj), Message, endpoint="GET /messages/{message_id}")


def decode_chat(obj: Any) -> Chat:
    return decode(dumps(obj), Chat, endpoint="GET /chats/{chat_id}")
