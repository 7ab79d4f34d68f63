"""Connected accounts: a tagged union on ``type``, one class per provider.

Each class carries its own ``connection_params``. An account whose ``type`` this SDK
does not know decodes to :class:`UnknownAccount`, which keeps the whole object in
``raw``. Every class answers ``.type`` with the wire tag, so
``account.type == "LINKEDIN"`` works on any member of :data:`Account`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeAlias

import msgspec

from ._base import UNKNOWN_TAG, Model, Time
from ._page import Page

__all__ = [
    "Account",
    "AccountList",
    "AccountSource",
    "ExchangeAccount",
    "GoogleCalendarAccount",
    "GoogleCalendarConnectionParams",
    "GoogleOAuthAccount",
    "ICloudAccount",
    "ImapSmtpParams",
    "InstagramAccount",
    "LinkedInAccount",
    "LinkedInConnectionParams",
    "LinkedInIMParams",
    "LinkedInOrganization",
    "LinkedInProxy",
    "MailAccount",
    "MailConnectionParams",
    "MessengerAccount",
    "MobileAccount",
    "MobileConnectionParams",
    "MobileLineParams",
    "OAuthConnectionParams",
    "OAuthIdentity",
    "OutlookAccount",
    "Signature",
    "SlackAccount",
    "SlackConnectionParams",
    "SlackIMParams",
    "SocialConnectionParams",
    "SocialIdentity",
    "TelegramAccount",
    "TelegramConnectionParams",
    "TelegramIMParams",
    "TwitterAccount",
    "UnknownAccount",
    "WhatsAppAccount",
    "WhatsAppConnectionParams",
    "WhatsAppIMParams",
]


# --- Parts shared by every account -------------------------------------------------


class Signature(Model, frozen=True, kw_only=True):
    """A signature saved on an account."""

    title: str | None = None
    content: str | None = None


class AccountSource(Model, frozen=True, kw_only=True):
    """One service of an account (``"messaging"``, ``"mail"``, ...) and its state."""

    id: str | None = None
    #: See :class:`~postpress_async.models.SourceStatus`.
    status: str | None = None


class _AccountBase(Model, frozen=True, kw_only=True, tag_field="type"):
    """Fields every account carries, whatever its type."""

    id: str
    object: str | None = None
    name: str | None = None
    created_at: Time | None = None
    #: Id of the signature used by default.
    current_signature: str | None = None
    signatures: list[Signature] = msgspec.field(default_factory=list)
    #: Ids of the groups the account belongs to.
    groups: list[str] = msgspec.field(default_factory=list)
    sources: list[AccountSource] = msgspec.field(default_factory=list)


# --- Connection parameters ----------------------------------------------------------


class MobileLineParams(Model, frozen=True, kw_only=True):
    """The phone line behind one service of a mobile account."""

    phone_number: str | None = None
    sim_serial_number: str | None = None


class MobileConnectionParams(Model, frozen=True, kw_only=True):
    """``connection_params`` of a ``MOBILE`` account."""

    im: MobileLineParams | None = None
    call: MobileLineParams | None = None
    #: Where the reference lists it (and the fake serves it); servers that send it on the
    #: account instead fill :attr:`MobileAccount.last_fetched_at`.
    last_fetched_at: Time | None = None


class ImapSmtpParams(Model, frozen=True, kw_only=True):
    """IMAP and SMTP settings of a mailbox."""

    imap_host: str | None = None
    imap_port: int | None = None
    imap_user: str | None = None
    #: See :class:`~postpress_async.models.ImapEncryption`.
    imap_encryption: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None


class MailConnectionParams(Model, frozen=True, kw_only=True):
    """``connection_params`` of a ``MAIL``, ``ICLOUD`` or ``EXCHANGE`` account."""

    mail: ImapSmtpParams | None = None


class OAuthIdentity(Model, frozen=True, kw_only=True):
    """The identity an OAuth-connected service signs in as."""

    id: str | None = None
    username: str | None = None


class OAuthConnectionParams(Model, frozen=True, kw_only=True):
    """``connection_params`` of a ``GOOGLE_OAUTH`` or ``OUTLOOK`` account."""

    mail: OAuthIdentity | None = None
    calendar: OAuthIdentity | None = None


class GoogleCalendarConnectionParams(Model, frozen=True, kw_only=True):
    """``connection_params`` of a ``GOOGLE_CALENDAR`` account."""

    calendar: str | None = None
    sync_token: str | None = None


class WhatsAppIMParams(Model, frozen=True, kw_only=True):
    """The WhatsApp number of an account."""

    phone_number: str | None = None


class WhatsAppConnectionParams(Model, frozen=True, kw_only=True):
    """``connection_params`` of a ``WHATSAPP`` account."""

    im: WhatsAppIMParams | None = None


class LinkedInOrganization(Model, frozen=True, kw_only=True):
    """An organization page a LinkedIn account can message for."""

    name: str | None = None
    messaging_enabled: bool | None = None
    organization_urn: str | None = None
    mailbox_urn: str | None = None


class LinkedInProxy(Model, frozen=True, kw_only=True):
    """The proxy a LinkedIn account connects through."""

    #: ``"USER"`` for a proxy the user supplied.
    source: str | None = None
    host: str | None = None
    port: int | None = None
    #: See :class:`~postpress_async.models.ProxyProtocol`.
    protocol: str | None = None
    username: str | None = None
    password: str | None = None


class LinkedInIMParams(Model, frozen=True, kw_only=True):
    """The LinkedIn member behind an account."""

    id: str | None = None
    public_identifier: str | None = msgspec.field(name="publicIdentifier", default=None)
    username: str | None = None
    premium_id: str | None = msgspec.field(name="premiumId", default=None)
    premium_contract_id: str | None = msgspec.field(name="premiumContractId", default=None)
    #: See :class:`~postpress_async.models.PremiumFeature`.
    premium_features: list[str] = msgspec.field(name="premiumFeatures", default_factory=list)
    organizations: list[LinkedInOrganization] = msgspec.field(default_factory=list)
    proxy: LinkedInProxy | None = None


class LinkedInConnectionParams(Model, frozen=True, kw_only=True):
    """``connection_params`` of a ``LINKEDIN`` account."""

    im: LinkedInIMParams | None = None


class SlackIMParams(Model, frozen=True, kw_only=True):
    """The Slack workspace and user behind an account."""

    url: str | None = None
    user: str | None = None
    user_id: str | None = None
    team: str | None = None
    team_id: str | None = None


class SlackConnectionParams(Model, frozen=True, kw_only=True):
    """``connection_params`` of a ``SLACK`` account."""

    im: SlackIMParams | None = None


class SocialIdentity(Model, frozen=True, kw_only=True):
    """The user behind a Twitter, Instagram or Messenger account."""

    id: str | None = None
    username: str | None = None


class SocialConnectionParams(Model, frozen=True, kw_only=True):
    """``connection_params`` of a ``TWITTER``, ``INSTAGRAM`` or ``MESSENGER`` account."""

    im: SocialIdentity | None = None


class TelegramIMParams(Model, frozen=True, kw_only=True):
    """The Telegram user behind an account."""

    user_id: str | None = None
    username: str | None = None


class TelegramConnectionParams(Model, frozen=True, kw_only=True):
    """``connection_params`` of a ``TELEGRAM`` account."""

    im: TelegramIMParams | None = None


# --- The account types --------------------------------------------------------------


class MobileAccount(_AccountBase, frozen=True, kw_only=True, tag="MOBILE"):
    """A phone connected for SMS and calls (``type == "MOBILE"``)."""

    type: ClassVar[Literal["MOBILE"]] = "MOBILE"

    connection_params: MobileConnectionParams | None = None
    #: ``last_fetched_at`` sent on the account itself; the reference lists it in
    #: ``connection_params`` (:attr:`MobileConnectionParams.last_fetched_at`).
    last_fetched_at: Time | None = None


class MailAccount(_AccountBase, frozen=True, kw_only=True, tag="MAIL"):
    """A mailbox connected over IMAP/SMTP (``type == "MAIL"``)."""

    type: ClassVar[Literal["MAIL"]] = "MAIL"

    connection_params: MailConnectionParams | None = None


class GoogleOAuthAccount(_AccountBase, frozen=True, kw_only=True, tag="GOOGLE_OAUTH"):
    """A Google mailbox and calendar connected over OAuth (``type == "GOOGLE_OAUTH"``)."""

    type: ClassVar[Literal["GOOGLE_OAUTH"]] = "GOOGLE_OAUTH"

    connection_params: OAuthConnectionParams | None = None


class ICloudAccount(_AccountBase, frozen=True, kw_only=True, tag="ICLOUD"):
    """An iCloud mailbox (``type == "ICLOUD"``)."""

    type: ClassVar[Literal["ICLOUD"]] = "ICLOUD"

    connection_params: MailConnectionParams | None = None


class OutlookAccount(_AccountBase, frozen=True, kw_only=True, tag="OUTLOOK"):
    """An Outlook mailbox and calendar connected over OAuth (``type == "OUTLOOK"``)."""

    type: ClassVar[Literal["OUTLOOK"]] = "OUTLOOK"

    connection_params: OAuthConnectionParams | None = None


class GoogleCalendarAccount(_AccountBase, frozen=True, kw_only=True, tag="GOOGLE_CALENDAR"):
    """A Google calendar on its own (``type == "GOOGLE_CALENDAR"``)."""

    type: ClassVar[Literal["GOOGLE_CALENDAR"]] = "GOOGLE_CALENDAR"

    connection_params: GoogleCalendarConnectionParams | None = None


class WhatsAppAccount(_AccountBase, frozen=True, kw_only=True, tag="WHATSAPP"):
    """A WhatsApp account (``type == "WHATSAPP"``)."""

    type: ClassVar[Literal["WHATSAPP"]] = "WHATSAPP"

    connection_params: WhatsAppConnectionParams | None = None


class LinkedInAccount(_AccountBase, frozen=True, kw_only=True, tag="LINKEDIN"):
    """A LinkedIn account (``type == "LINKEDIN"``)."""

    type: ClassVar[Literal["LINKEDIN"]] = "LINKEDIN"

    connection_params: LinkedInConnectionParams | None = None


class SlackAccount(_AccountBase, frozen=True, kw_only=True, tag="SLACK"):
    """A Slack workspace user (``type == "SLACK"``)."""

    type: ClassVar[Literal["SLACK"]] = "SLACK"

    connection_params: SlackConnectionParams | None = None


class TwitterAccount(_AccountBase, frozen=True, kw_only=True, tag="TWITTER"):
    """A Twitter (X) account (``type == "TWITTER"``)."""

    type: ClassVar[Literal["TWITTER"]] = "TWITTER"

    connection_params: SocialConnectionParams | None = None


class ExchangeAccount(_AccountBase, frozen=True, kw_only=True, tag="EXCHANGE"):
    """An Exchange mailbox (``type == "EXCHANGE"``)."""

    type: ClassVar[Literal["EXCHANGE"]] = "EXCHANGE"

    connection_params: MailConnectionParams | None = None


class TelegramAccount(_AccountBase, frozen=True, kw_only=True, tag="TELEGRAM"):
    """A Telegram account (``type == "TELEGRAM"``)."""

    type: ClassVar[Literal["TELEGRAM"]] = "TELEGRAM"

    connection_params: TelegramConnectionParams | None = None


class InstagramAccount(_AccountBase, frozen=True, kw_only=True, tag="INSTAGRAM"):
    """An Instagram account (``type == "INSTAGRAM"``)."""

    type: ClassVar[Literal["INSTAGRAM"]] = "INSTAGRAM"

    connection_params: SocialConnectionParams | None = None


class MessengerAccount(_AccountBase, frozen=True, kw_only=True, tag="MESSENGER"):
    """A Facebook Messenger account (``type == "MESSENGER"``)."""

    type: ClassVar[Literal["MESSENGER"]] = "MESSENGER"

    connection_params: SocialConnectionParams | None = None


class UnknownAccount(_AccountBase, frozen=True, kw_only=True, tag=UNKNOWN_TAG, gc=True):
    """An account of a type this SDK does not know; ``raw`` holds the whole object."""

    #: The account's ``type`` as the API sent it.
    type: str = msgspec.field(name="__raw_type__")
    connection_params: dict[str, Any] = msgspec.field(default_factory=dict)
    raw: dict[str, Any] = msgspec.field(default_factory=dict)


Account: TypeAlias = (
    MobileAccount
    | MailAccount
    | GoogleOAuthAccount
    | ICloudAccount
    | OutlookAccount
    | GoogleCalendarAccount
    | WhatsAppAccount
    | LinkedInAccount
    | SlackAccount
    | TwitterAccount
    | ExchangeAccount
    | TelegramAccount
    | InstagramAccount
    | MessengerAccount
    | UnknownAccount
)
"""Any account; switch on ``isinstance`` or on ``.type``."""


class AccountList(Page[Account], frozen=True, kw_only=True):
    """One page of ``GET /accounts``."""
