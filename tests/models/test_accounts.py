"""Accounts: one class per ``type``, with its own connection params."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest

from postpress_async._decoding import decode
from postpress_async.models import (
    Account,
    AccountSource,
    AccountType,
    ExchangeAccount,
    GoogleCalendarAccount,
    GoogleCalendarConnectionParams,
    GoogleOAuthAccount,
    ICloudAccount,
    ImapEncryption,
    ImapSmtpParams,
    InstagramAccount,
    LinkedInAccount,
    LinkedInConnectionParams,
    LinkedInIMParams,
    LinkedInOrganization,
    LinkedInProxy,
    MailAccount,
    MailConnectionParams,
    MessengerAccount,
    MobileAccount,
    MobileConnectionParams,
    MobileLineParams,
    OAuthConnectionParams,
    OAuthIdentity,
    OutlookAccount,
    ProxyProtocol,
    SlackAccount,
    SlackConnectionParams,
    SlackIMParams,
    SocialConnectionParams,
    SocialIdentity,
    TelegramAccount,
    TelegramConnectionParams,
    TelegramIMParams,
    TwitterAccount,
    UnknownAccount,
    WhatsAppAccount,
    WhatsAppConnectionParams,
    WhatsAppIMParams,
)

from ._payloads import account, decode_accounts, dumps

IMAP = {
    "imap_host": "imap.example.com",
    "imap_port": 993,
    "imap_user": "anna@example.com",
    "imap_encryption": "ssl",
    "smtp_host": "smtp.example.com",
    "smtp_port": 587,
    "smtp_user": "anna@example.com",
}
IMAP_PARAMS = MailConnectionParams(
    mail=ImapSmtpParams(
        imap_host="imap.example.com",
        imap_port=993,
        imap_user="anna@example.com",
        imap_encryption=ImapEncryption.SSL,
        smtp_host="smtp.example.com",
        smtp_port=587,
        smtp_user="anna@example.com",
    )
)
OAUTH = {
    "mail": {"id": "anna@acme.com", "username": "anna@acme.com"},
    "calendar": {"id": "cal-1", "username": "anna@acme.com"},
}
OAUTH_PARAMS = OAuthConnectionParams(
    mail=OAuthIdentity(id="anna@acme.com", username="anna@acme.com"),
    calendar=OAuthIdentity(id="cal-1", username="anna@acme.com"),
)
SOCIAL = {"im": {"id": "1234567", "username": "anna_doe"}}
SOCIAL_PARAMS = SocialConnectionParams(im=SocialIdentity(id="1234567", username="anna_doe"))
LINKEDIN = {
    "im": {
        "id": "ACoAAB7n2J0BV5",
        "publicIdentifier": "anna-doe",
        "username": "anna-doe",
        "premiumId": "prem_1",
        "premiumContractId": "contract_9",
        "premiumFeatures": ["recruiter", "premium"],
        "organizations": [
            {
                "name": "Acme Inc.",
                "messaging_enabled": False,
                "organization_urn": "urn:li:organization:12345",
                "mailbox_urn": "urn:li:fsd_messagingThread:abc",
            }
        ],
        "proxy": {
            "source": "USER",
            "host": "proxy.example.com",
            "port": 1080,
            "protocol": "socks5",
            "username": "u",
            "password": "p",
        },
    }
}
LINKEDIN_PARAMS = LinkedInConnectionParams(
    im=LinkedInIMParams(
        id="ACoAAB7n2J0BV5",
        public_identifier="anna-doe",
        username="anna-doe",
        premium_id="prem_1",
        premium_contract_id="contract_9",
        premium_features=["recruiter", "premium"],
        organizations=[
            LinkedInOrganization(
                name="Acme Inc.",
                messaging_enabled=False,
                organization_urn="urn:li:organization:12345",
                mailbox_urn="urn:li:fsd_messagingThread:abc",
            )
        ],
        proxy=LinkedInProxy(
            source="USER",
            host="proxy.example.com",
            port=1080,
            protocol=ProxyProtocol.SOCKS5,
            username="u",
            password="p",
        ),
    )
)


@pytest.mark.parametrize(
    ("type_", "wire_params", "cls", "params"),
    [
        pytest.param(
            "MOBILE",
            {
                "im": {"phone_number": "+33600000000", "sim_serial_number": "8933"},
                "call": {"phone_number": "+33600000001", "sim_serial_number": "8934"},
            },
            MobileAccount,
            MobileConnectionParams(
                im=MobileLineParams(phone_number="+33600000000", sim_serial_number="8933"),
                call=MobileLineParams(phone_number="+33600000001", sim_serial_number="8934"),
            ),
            id="MOBILE",
        ),
        pytest.param("MAIL", {"mail": IMAP}, MailAccount, IMAP_PARAMS, id="MAIL"),
        pytest.param("GOOGLE_OAUTH", OAUTH, GoogleOAuthAccount, OAUTH_PARAMS, id="GOOGLE_OAUTH"),
        pytest.param("ICLOUD", {"mail": IMAP}, ICloudAccount, IMAP_PARAMS, id="ICLOUD"),
        pytest.param("OUTLOOK", OAUTH, OutlookAccount, OAUTH_PARAMS, id="OUTLOOK"),
        pytest.param(
            "GOOGLE_CALENDAR",
            {"calendar": "anna@acme.com", "sync_token": "CPDAlvWDx70CEPDAlvWDx70CGAU="},
            GoogleCalendarAccount,
            GoogleCalendarConnectionParams(
                calendar="anna@acme.com", sync_token="CPDAlvWDx70CEPDAlvWDx70CGAU="
            ),
            id="GOOGLE_CALENDAR",
        ),
        pytest.param(
            "WHATSAPP",
            {"im": {"phone_number": "+33600000000"}},
            WhatsAppAccount,
            WhatsAppConnectionParams(im=WhatsAppIMParams(phone_number="+33600000000")),
            id="WHATSAPP",
        ),
        pytest.param("LINKEDIN", LINKEDIN, LinkedInAccount, LINKEDIN_PARAMS, id="LINKEDIN"),
        pytest.param(
            "SLACK",
            {
                "im": {
                    "url": "https://acme.slack.com",
                    "user": "anna",
                    "user_id": "U024BE7LH",
                    "team": "Acme",
                    "team_id": "T024BE7LD",
                }
            },
            SlackAccount,
            SlackConnectionParams(
                im=SlackIMParams(
                    url="https://acme.slack.com",
                    user="anna",
                    user_id="U024BE7LH",
                    team="Acme",
                    team_id="T024BE7LD",
                )
            ),
            id="SLACK",
        ),
        pytest.param("TWITTER", SOCIAL, TwitterAccount, SOCIAL_PARAMS, id="TWITTER"),
        pytest.param("EXCHANGE", {"mail": IMAP}, ExchangeAccount, IMAP_PARAMS, id="EXCHANGE"),
        pytest.param(
            "TELEGRAM",
            {"im": {"user_id": "777000", "username": "anna_doe"}},
            TelegramAccount,
            TelegramConnectionParams(im=TelegramIMParams(user_id="777000", username="anna_doe")),
            id="TELEGRAM",
        ),
        pytest.param("INSTAGRAM", SOCIAL, InstagramAccount, SOCIAL_PARAMS, id="INSTAGRAM"),
        pytest.param("MESSENGER", SOCIAL, MessengerAccount, SOCIAL_PARAMS, id="MESSENGER"),
    ],
)
def test_each_account_type_decodes_to_its_class(
    type_: str, wire_params: dict[str, Any], cls: type[Any], params: object
) -> None:
    """Every documented type picks its class, its ``type`` and its connection params."""
    (decoded,) = decode_accounts(account(type_, wire_params)).items

    assert type(decoded) is cls
    assert decoded.type == type_
    assert decoded.type == AccountType(type_)
    assert decoded.connection_params == params
    assert decoded.name == "Anna - Sales"
    assert decoded.groups == ["grp_sales"]


def test_every_documented_account_type_has_a_class() -> None:
    """The union covers the 14 documented types plus the unknown fallback."""
    members = Account.__args__
    tags = {member.type for member in members if member is not UnknownAccount}

    assert tags == {member.value for member in AccountType}
    assert len(members) == 15


def test_mobile_account_keeps_last_fetched_at() -> None:
    """``last_fetched_at`` is an aware datetime on mobile accounts."""
    wire = account("MOBILE", {}, last_fetched_at="2025-12-31T23:59:59.999Z")

    (decoded,) = decode_accounts(wire).items

    assert isinstance(decoded, MobileAccount)
    assert decoded.last_fetched_at == datetime(
        2025, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc
    )


def test_mobile_last_fetched_at_inside_connection_params_is_read() -> None:
    """The reference lists ``last_fetched_at`` among MOBILE's ``connection_params`` (after
    ``im`` and ``call``, before the account's ``id``), and the fake serves it there."""
    line = {"phone_number": "+33600000000", "sim_serial_number": "8933"}
    wire = account(
        "MOBILE", {"im": line, "call": line, "last_fetched_at": "2025-12-31T23:59:59.999Z"}
    )

    (decoded,) = decode_accounts(wire).items

    assert isinstance(decoded, MobileAccount)
    assert decoded.connection_params is not None
    assert decoded.connection_params.last_fetched_at == datetime(
        2025, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc
    )
    assert decoded.last_fetched_at is None  # the account-level reading stays, empty here


def test_unknown_account_type_keeps_raw_data_and_the_rest_of_the_page() -> None:
    """A new type decodes to ``UnknownAccount``; its neighbours decode normally."""
    new = account("BLUESKY", {"im": {"did": "did:plc:abc"}}, id="acc_new", handle="anna.bsky")
    known = account("WHATSAPP", {"im": {"phone_number": "+1555"}}, id="acc_wa")

    first, second = decode_accounts(new, known).items

    assert isinstance(first, UnknownAccount)
    assert first.type == "BLUESKY"
    assert first.id == "acc_new"
    assert first.name == "Anna - Sales"
    assert first.created_at == datetime(2026, 4, 12, 9, 14, 21, tzinfo=timezone.utc)
    assert first.sources == [AccountSource(id="messaging", status="OK")]
    assert first.connection_params == {"im": {"did": "did:plc:abc"}}
    assert first.raw == new
    assert isinstance(second, WhatsAppAccount)
    assert second.id == "acc_wa"


def test_unknown_account_with_null_connection_params() -> None:
    """A new type without connection params still decodes, with empty params."""
    (decoded,) = decode_accounts({"type": "FAX", "id": "acc_fax", "connection_params": None}).items

    assert isinstance(decoded, UnknownAccount)
    assert decoded.connection_params == {}
    assert decoded.raw == {"type": "FAX", "id": "acc_fax", "connection_params": None}


def test_single_account_union_decodes_unknown_types() -> None:
    """Decoding one account into the ``Account`` union also tolerates a new type."""
    decoded = decode(dumps(account("FAX", {})), Account, endpoint="GET /accounts/{id}")

    assert isinstance(decoded, UnknownAccount)
    assert decoded.type == "FAX"


def test_new_source_status_is_kept_raw() -> None:
    """A source status added later stays a plain string."""
    wire = account("SLACK", {}, sources=[{"id": "messaging", "status": "PAUSED"}])

    (decoded,) = decode_accounts(wire).items

    assert decoded.sources == [AccountSource(id="messaging", status="PAUSED")]


def test_new_enum_values_inside_connection_params_are_kept_raw() -> None:
    """New premium features, proxy protocols and IMAP encryptions stay plain strings."""
    linkedin = {"im": {"premiumFeatures": ["learning"], "proxy": {"protocol": "quic", "port": 1}}}
    mail = {"mail": {"imap_encryption": "tls1.3"}}

    first, second = decode_accounts(account("LINKEDIN", linkedin), account("MAIL", mail)).items

    assert isinstance(first, LinkedInAccount)
    assert first.connection_params == LinkedInConnectionParams(
        im=LinkedInIMParams(
            premium_features=["learning"], proxy=LinkedInProxy(protocol="quic", port=1)
        )
    )
    assert isinstance(second, MailAccount)
    assert second.connection_params == MailConnectionParams(
        mail=ImapSmtpParams(imap_encryption="tls1.3")
    )


def test_account_with_only_type_and_id() -> None:
    """Every field but the identity may be missing."""
    (decoded,) = decode_accounts({"type": "TELEGRAM", "id": "acc_1"}).items

    assert decoded == TelegramAccount(id="acc_1")
    assert decoded.connection_params is None
    assert decoded.signatures == []
    assert decoded.groups == []
    assert decoded.sources == []
    assert decoded.created_at is None


def test_linkedin_nullable_premium_ids() -> None:
    """``premiumId`` and ``premiumContractId`` may be null; ``proxy`` may be absent."""
    wire = {"im": {"id": "x", "username": "y", "premiumId": None, "premiumContractId": None}}

    (decoded,) = decode_accounts(account("LINKEDIN", wire)).items

    assert decoded.connection_params == LinkedInConnectionParams(
        im=LinkedInIMParams(id="x", username="y")
    )


def test_known_account_type_reencodes_its_tag() -> None:
    """Encoding a known account writes its wire ``type`` and camelCase names back."""
    encoded = msgspec.json.decode(dumps(LinkedInAccount(id="a", connection_params=LINKEDIN_PARAMS)))

    assert encoded["type"] == "LINKEDIN"
    assert encoded["connection_params"]["im"]["publicIdentifier"] == "anna-doe"
