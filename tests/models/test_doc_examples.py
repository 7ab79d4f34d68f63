"""The example responses of the API reference, copied verbatim, decode as documented."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest

from postpress_async._decoding import decode
from postpress_async.models import (
    AccountList,
    AccountSource,
    Chat,
    ChatList,
    ChatType,
    Folder,
    GoogleOAuthAccount,
    LinkedInAccount,
    LinkedInOrganization,
    Message,
    MessageList,
    OAuthIdentity,
    PremiumFeature,
    Signature,
    SourceStatus,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
SENT = datetime(2026, 5, 17, 9, 42, 11, tzinfo=timezone.utc)


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_account_list_example() -> None:
    """Both accounts decode into their own classes with typed connection params."""
    page = decode(load("account_list.json"), AccountList, endpoint="GET /accounts")

    assert page.cursor is None
    assert not page.has_more
    assert page.object == "AccountList"
    linkedin, google = page.items
    assert isinstance(linkedin, LinkedInAccount)
    assert linkedin.type == "LINKEDIN"
    assert linkedin.id == "acc_01HXYZ4QK3WJ8FN3M6QH7TZ8GR"
    assert linkedin.created_at == datetime(2026, 4, 12, 9, 14, 21, tzinfo=timezone.utc)
    assert linkedin.current_signature == "sig_default"
    assert linkedin.signatures == [Signature(title="Default", content="Sent from postpress")]
    assert linkedin.sources == [AccountSource(id="messaging", status="OK")]
    assert linkedin.sources[0].status == SourceStatus.OK
    assert linkedin.connection_params is not None
    im = linkedin.connection_params.im
    assert im is not None
    assert im.public_identifier == "anna-doe"
    assert im.premium_id is None
    assert im.premium_contract_id is None
    assert im.premium_features == [PremiumFeature.SALES_NAVIGATOR]
    assert im.organizations == [
        LinkedInOrganization(
            name="Acme Inc.",
            messaging_enabled=True,
            organization_urn="urn:li:organization:12345",
            mailbox_urn="urn:li:fsd_messagingThread:abc",
        )
    ]
    assert im.proxy is None

    assert isinstance(google, GoogleOAuthAccount)
    assert google.type == "GOOGLE_OAUTH"
    assert google.current_signature is None
    assert google.signatures == []
    assert google.connection_params is not None
    assert google.connection_params.calendar == OAuthIdentity(
        id="anna@acme.com", username="anna@acme.com"
    )
    assert [source.id for source in google.sources] == ["mail", "calendar"]


def test_chat_list_example() -> None:
    """The chat decodes with its folders, flags and a cursor for the next page."""
    page = decode(load("chat_list.json"), ChatList, endpoint="GET /chats")

    assert page.cursor == "eyJhY2NvdW50X2lkIjoiYWNjXzAxIn0="
    assert page.has_more
    (chat,) = page.items
    assert chat.id == "chat_01HXYZ4QK3WJ8FN3M6QH7TZ8GR"
    assert chat.account_type == "LINKEDIN"
    assert chat.attendee_provider_id == "ACoAACr-1eYBl..."
    assert chat.type == ChatType.ONE_TO_ONE
    assert chat.timestamp == SENT
    assert chat.unread_count == 2
    assert chat.muted_until is None
    assert chat.folder == [Folder.INBOX, Folder.INBOX_LINKEDIN_CLASSIC]
    assert chat.disabled_features == []
    assert chat.last_message is None


def test_chat_retrieve_example() -> None:
    """The chat's ``lastMessage`` becomes ``last_message`` with its read receipts."""
    chat = decode(load("chat_retrieve.json"), Chat, endpoint="GET /chats/{chat_id}")

    assert chat.pinned == 0
    message = chat.last_message
    assert message is not None
    assert message.id == "msg_01HXYZ4QK3WJ8FN3M6QH7TZ8GR"
    assert message.seen_by == {"att_01HXYZ4QK3WJ8FN3M6QH7TZ8GR": True}
    assert message.timestamp == SENT
    assert message.text == "Sounds good - let's chat tomorrow."
    assert message.quoted is None


def test_message_list_example() -> None:
    """The message page decodes with aware UTC timestamps."""
    page = decode(load("message_list.json"), MessageList, endpoint="GET /messages")

    assert page.cursor == "eyJza2lwIjoxMDB9"
    (message,) = page.items
    assert message.timestamp is not None
    assert message.timestamp.tzinfo is timezone.utc
    assert message.delivered == 1
    assert message.original == "{...raw provider payload...}"


def test_message_retrieve_example() -> None:
    """Every field of the example message lands on its attribute."""
    message = decode(load("message_retrieve.json"), Message, endpoint="GET /messages/{id}")

    assert message == Message(
        object="Message",
        id="msg_01HXYZ4QK3WJ8FN3M6QH7TZ8GR",
        provider_id="urn:li:msg:2-NTRkZDA4...",
        account_id="acc_01HXYZ4QK3WJ8FN3M6QH7TZ8GR",
        chat_id="chat_01HXYZ4QK3WJ8FN3M6QH7TZ8GR",
        chat_provider_id="2-NTRkZDA4M2QtZDcxZS00YzY5...",
        sender_id="ACoAACr-1eYBl...",
        sender_attendee_id="att_01HXYZ4QK3WJ8FN3M6QH7TZ8GR",
        timestamp=SENT,
        text="Sounds good - let's chat tomorrow.",
        is_sender=0,
        attachments=[],
        reactions=[],
        seen=1,
        seen_by={"att_01HXYZ4QK3WJ8FN3M6QH7TZ8GR": True},
        hidden=0,
        deleted=0,
        edited=0,
        is_event=0,
        delivered=1,
        behavior=0,
        original="{...raw provider payload...}",
    )


@pytest.mark.parametrize(
    ("name", "model"),
    [
        pytest.param("account_list.json", AccountList, id="account-list"),
        pytest.param("chat_list.json", ChatList, id="chat-list"),
        pytest.param("chat_retrieve.json", Chat, id="chat-retrieve"),
        pytest.param("message_list.json", MessageList, id="message-list"),
        pytest.param("message_retrieve.json", Message, id="message-retrieve"),
    ],
)
def test_reencoding_round_trips(name: str, model: type[object]) -> None:
    """Encoding a decoded example and decoding it again gives the same object."""
    first = decode(load(name), model, endpoint="GET /x")
    again = decode(msgspec.json.encode(first), model, endpoint="GET /x")

    assert again == first
