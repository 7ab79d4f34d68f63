"""The value sets the API documents, for comparison with the raw fields of the models.

Model fields keep the raw wire value (``str`` or ``int``) so a value added by the API
later never fails decoding; these enums compare equal to those raw values::

    if chat.type == ChatType.GROUP and account.type == AccountType.LINKEDIN: ...
"""

from __future__ import annotations

import enum

__all__ = [
    "AccountType",
    "AttachmentType",
    "AttendeeType",
    "ChatType",
    "ContentType",
    "DisabledFeature",
    "Folder",
    "ImapEncryption",
    "MessageType",
    "PremiumFeature",
    "Provider",
    "ProxyProtocol",
    "ReadOnlyState",
    "SourceStatus",
]


class AccountType(str, enum.Enum):
    """The ``type`` of an account."""

    MOBILE = "MOBILE"
    MAIL = "MAIL"
    GOOGLE_OAUTH = "GOOGLE_OAUTH"
    ICLOUD = "ICLOUD"
    OUTLOOK = "OUTLOOK"
    GOOGLE_CALENDAR = "GOOGLE_CALENDAR"
    WHATSAPP = "WHATSAPP"
    LINKEDIN = "LINKEDIN"
    SLACK = "SLACK"
    TWITTER = "TWITTER"
    EXCHANGE = "EXCHANGE"
    TELEGRAM = "TELEGRAM"
    INSTAGRAM = "INSTAGRAM"
    MESSENGER = "MESSENGER"


class Provider(str, enum.Enum):
    """The provider behind a chat (``Chat.account_type``)."""

    WHATSAPP = "WHATSAPP"
    LINKEDIN = "LINKEDIN"
    SLACK = "SLACK"
    TWITTER = "TWITTER"
    MESSENGER = "MESSENGER"
    INSTAGRAM = "INSTAGRAM"
    TELEGRAM = "TELEGRAM"


class SourceStatus(str, enum.Enum):
    """The state of one service of an account (``AccountSource.status``)."""

    OK = "OK"
    """The service is running normally."""
    STOPPED = "STOPPED"
    """The service has been stopped."""
    ERROR = "ERROR"
    """The service has hit an unspecified error and has been stopped."""
    CREDENTIALS = "CREDENTIALS"
    """Credentials need to be refreshed for the service to run."""
    PERMISSIONS = "PERMISSIONS"
    """Permissions are missing on the host device for the service to run."""
    CONNECTING = "CONNECTING"
    """The service is connecting."""


class ImapEncryption(str, enum.Enum):
    """The ``imap_encryption`` of a mail account."""

    TLS = "tls"
    SSL = "ssl"
    STARTTLS = "starttls"
    DEFAULT = "default"


class PremiumFeature(str, enum.Enum):
    """An item of a LinkedIn account's ``premium_features``."""

    RECRUITER = "recruiter"
    SALES_NAVIGATOR = "sales_navigator"
    PREMIUM = "premium"


class ProxyProtocol(str, enum.Enum):
    """The ``protocol`` of a LinkedIn account's proxy."""

    HTTP = "http"
    HTTPS = "https"
    SOCKS5 = "socks5"


class ChatType(enum.IntEnum):
    """The ``type`` of a chat."""

    ONE_TO_ONE = 0
    GROUP = 1
    BROADCAST = 2


class ReadOnlyState(enum.IntEnum):
    """The ``read_only`` state of a chat."""

    WRITABLE = 0
    READ_ONLY = 1
    LOCKED = 2


class DisabledFeature(str, enum.Enum):
    """An item of a chat's ``disabled_features``."""

    REACTIONS = "reactions"
    REPLY = "reply"


class ContentType(str, enum.Enum):
    """The LinkedIn ``content_type`` of a chat."""

    INMAIL = "inmail"
    SPONSORED = "sponsored"
    LINKEDIN_OFFER = "linkedin_offer"


class Folder(str, enum.Enum):
    """A provider-known item of a chat's ``folder`` (custom folder names also occur)."""

    INBOX = "INBOX"
    INBOX_LINKEDIN_CLASSIC = "INBOX_LINKEDIN_CLASSIC"
    INBOX_LINKEDIN_RECRUITER = "INBOX_LINKEDIN_RECRUITER"
    INBOX_LINKEDIN_SALES_NAVIGATOR = "INBOX_LINKEDIN_SALES_NAVIGATOR"
    INBOX_LINKEDIN_ORGANIZATION = "INBOX_LINKEDIN_ORGANIZATION"


class MessageType(str, enum.Enum):
    """The ``message_type`` of a message."""

    MESSAGE = "MESSAGE"
    INVITATION = "INVITATION"
    INMAIL = "INMAIL"
    INMAIL_DECLINE = "INMAIL_DECLINE"
    INMAIL_REPLY = "INMAIL_REPLY"
    INMAIL_ACCEPT = "INMAIL_ACCEPT"


class AttendeeType(str, enum.Enum):
    """The ``attendee_type`` of a message's sender."""

    MEMBER = "MEMBER"
    ORGANIZATION = "ORGANIZATION"
    OTHER = "OTHER"


class AttachmentType(str, enum.Enum):
    """The ``type`` of an attachment."""

    IMG = "img"
    VIDEO = "video"
    AUDIO = "audio"
    FILE = "file"
    LINKEDIN_POST = "linkedin_post"
    VIDEO_MEETING = "video_meeting"
