"""Rendering: the wire JSON of accounts and chats; messages are :mod:`._messages`'.

Nothing here is stored per object: every object is rendered on demand from its index,
the :class:`~._columns.Columns` and the :class:`~._ids.IdScheme` hashes, so two datasets
with the same configuration serve the same bytes. The real API's quirks come from the
one table in :mod:`._quirks`.
"""

from __future__ import annotations

from typing import Any, Final

from postpress_async.testing._dataset._columns import (
    CONTACTS_PER_ACCOUNT,
    NEWEST_MS,
    Columns,
    chat_type,
    chat_unread_count,
)
from postpress_async.testing._dataset._ids import IdScheme, Salt, b32
from postpress_async.testing._dataset._messages import MessageRenderer
from postpress_async.testing._dataset._quirks import QuirkTable
from postpress_async.testing._time import format_ms

__all__ = ["Renderer"]

_SOURCE_STATUSES: Final = ("OK", "STOPPED", "ERROR", "CREDENTIALS", "PERMISSIONS", "CONNECTING")
_FIRST = ("Anna", "Jordan", "José", "Zoë", "Ольга", "李雷", "محمد", "Søren", "Amélie", "Kwame")
_LAST = ("Doe", "Walke", "García", "Müller", "Иванова", "王", "Haddad", "Ødegård", "N'Diaye")
_FOLDERS = ("INBOX", "INBOX_LINKEDIN_CLASSIC", "INBOX_LINKEDIN_RECRUITER")
_LI_FOLDERS = (
    "INBOX_LINKEDIN_CLASSIC",
    "INBOX_LINKEDIN_RECRUITER",
    "INBOX_LINKEDIN_SALES_NAVIGATOR",
    "INBOX_LINKEDIN_ORGANIZATION",
)


class Renderer:
    """Renders one dataset's objects; holds only caches of pre-encoded fragments.

    The interface the server relies on is :meth:`account`, :meth:`chat`,
    :meth:`chat_with_last_message`, :meth:`message` and :attr:`messages` (its
    ``message_json`` and ``messages_json``); a faster renderer only has to keep those
    bytes identical.
    """

    __slots__ = ("_cols", "_ids", "_quirks", "messages")

    def __init__(self, cols: Columns, ids: IdScheme, quirks: QuirkTable | None) -> None:
        self._cols = cols
        self._ids = ids
        self._quirks = quirks
        self.messages = MessageRenderer(cols, ids, quirks)
        """The message renderer (:mod:`._messages`): ``message_json``, ``messages_json``."""

    # -- accounts -------------------------------------------------------------------------

    def account(self, index: int) -> dict[str, Any]:
        """The wire object of one account."""
        cols = self._cols
        quirks = self._quirks
        kind = cols.account_types[index]
        h = self._ids.h(Salt.ACCOUNT_BODY, index)
        account_id = cols.account_ids[index]
        owner = cols.sender_ids[index * (CONTACTS_PER_ACCOUNT + 1)]
        person = f"{_FIRST[h % len(_FIRST)]} {_LAST[(h >> 8) % len(_LAST)]}"
        handle = f"user{index}"
        email = f"{handle}@example.com"
        params: dict[str, Any]
        name = email
        sources: list[str]
        if kind == "MOBILE":
            phone = f"+1555{index:07d}"
            sim = f"8901260{h % 10**12:012d}"
            params = {
                "im": {"phone_number": phone, "sim_serial_number": sim},
                "call": {"phone_number": phone, "sim_serial_number": sim},
                "last_fetched_at": format_ms(cols.account_created[index] + 3_600_000),
            }
            name, sources = phone, ["im", "call"]
        elif kind in ("MAIL", "ICLOUD", "EXCHANGE"):
            host = {"MAIL": "mail.example.com", "ICLOUD": "imap.mail.me.com"}.get(
                kind, "outlook.office365.com"
            )
            mail: dict[str, Any] = {"imap_host": host, "imap_port": 993, "imap_user": email}
            encryption = ("tls", "ssl", "starttls", "default", None)[(h >> 16) % 5]
            if quirks and quirks.imap_encryption.hits(index):
                encryption = quirks.imap_encryption.value
            if encryption is not None:
                mail["imap_encryption"] = encryption
            mail.update(smtp_host=host.replace("imap", "smtp"), smtp_port=587, smtp_user=email)
            params, sources = {"mail": mail}, ["mail"]
        elif kind in ("GOOGLE_OAUTH", "OUTLOOK"):
            params = {
                "mail": {"id": email, "username": email},
                "calendar": {"id": email, "username": email},
            }
            sources = ["mail", "calendar"]
        elif kind == "GOOGLE_CALENDAR":
            params = {"calendar": email}
            if h & 1:
                params["sync_token"] = f"CPDAlvWDx{b32(h, 10)}="
            sources = ["calendar"]
        elif kind == "WHATSAPP":
            params = {"im": {"phone_number": "+" + owner.split("@")[0]}}
            name, sources = person, ["messaging"]
        elif kind == "LINKEDIN":
            im: dict[str, Any] = {"id": owner}
            if h & 1:
                im["publicIdentifier"] = f"{handle}-{h % 1000}"
            im["username"] = handle
            premium = (h >> 4) & 1 == 1
            im["premiumId"] = f"prem_{h % 10**6}" if premium else None
            im["premiumContractId"] = f"contract_{h % 10**5}" if premium else None
            if premium:
                im["premiumFeatures"] = ["recruiter", "sales_navigator", "premium"][: 1 + h % 3]
            im["organizations"] = [
                {
                    "name": "Acme Inc.",
                    "messaging_enabled": True,
                    "organization_urn": f"urn:li:organization:{12345 + index}",
                    "mailbox_urn": f"urn:li:fsd_messagingThread:{b32(h, 8)}",
                }
            ][: (h >> 5) & 1]
            if (h >> 6) & 1:
                proxy: dict[str, Any] = {
                    "source": "USER",
                    "host": "proxy.example.net",
                    "port": 8080,
                }
                if (h >> 7) & 1:
                    proxy.update(protocol="socks5", username="proxyuser", password="s3cret")
                im["proxy"] = proxy
            params, name, sources = {"im": im}, person, ["messaging"]
        elif kind == "SLACK":
            params = {
                "im": {
                    "url": f"https://acme-{index}.slack.com/",
                    "user": handle,
                    "user_id": owner,
                    "team": f"Acme {index}",
                    "team_id": "T0" + b32(h, 8),
                }
            }
            name, sources = f"{person} (Acme {index})", ["messaging"]
        elif kind == "TELEGRAM":
            params = {"im": {"user_id": owner, "username": handle}}
            name, sources = person, ["messaging"]
        elif kind in ("TWITTER", "INSTAGRAM", "MESSENGER"):
            params = {"im": {"id": owner, "username": handle}}
            name, sources = f"@{handle}", ["messaging"]
        else:
            params = {"im": {"did": f"did:plc:{b32(h, 12).lower()}", "handle": f"{handle}.bsky"}}
            name, sources = f"{handle}.bsky.social", ["messaging"]
        body: dict[str, Any] = {
            "object": "Account",
            "type": kind,
            "id": account_id,
            "name": name,
            "created_at": format_ms(cols.account_created[index]),
            "connection_params": params,
        }
        style = index % 3
        if style == 2:
            body["current_signature"] = f"sig_{b32(h, 8)}"
        if style:
            body["signatures"] = [
                {"title": "Default", "content": f"Sent from postpress — {person}"},
                {"title": "Formal ✍️", "content": f"Best regards,\n{person}"},
            ][: style - 1 + (h >> 20) % 2]
        body["groups"] = [f"grp_{b32(h >> 24, 8)}"] if index % 4 == 3 else []
        statuses = []
        for k, source in enumerate(sources):
            status = _SOURCE_STATUSES[(index + k) % len(_SOURCE_STATUSES)]
            if quirks and quirks.source_status.hits(index) and k == 0:
                status = quirks.source_status.value
            statuses.append({"id": source, "status": status})
        body["sources"] = statuses
        return body

    # -- chats ----------------------------------------------------------------------------

    def chat(self, index: int) -> dict[str, Any]:
        """The wire object of one chat as listed (without ``lastMessage``)."""
        cols = self._cols
        ids = self._ids
        quirks = self._quirks
        a = cols.account_of_chat[index]
        kind = cols.account_types[a]
        kind_of_chat = chat_type(ids, index)
        h = ids.h(Salt.CHAT_BODY, index)
        members = cols.chat_attendees[index]
        body: dict[str, Any] = {
            "object": "Chat",
            "id": cols.chat_ids[index],
            "account_id": cols.account_ids[a],
            "account_type": kind,
            "provider_id": cols.chat_provider[index],
        }
        if kind_of_chat == 0:
            body["attendee_provider_id"] = cols.sender_ids[members[1]]
            contact = self._sender_name(members[1])
            body["name"] = None if h % 8 == 0 else contact
        elif kind_of_chat == 1:
            body["name"] = ("Team offsite 🏕️", "Famille 👨‍👩‍👧", "项目组", "Book club")[h % 4]
        else:
            body["name"] = f"Broadcast #{index}"
        last = cols.chat_last[index]
        body["type"] = kind_of_chat
        body["timestamp"] = None if last < 0 else format_ms(cols.ts[last])
        body["unread_count"] = chat_unread_count(ids, index)
        body["archived"] = 1 if (h >> 4) % 6 == 0 else 0
        mute = (h >> 8) % 8
        body["muted_until"] = (
            -1 if mute == 0 else format_ms(NEWEST_MS + (h % 90) * 86_400_000) if mute == 1 else None
        )
        body["read_only"] = (0, 0, 0, 0, 1, 2)[(h >> 12) % 6]
        if (h >> 16) % 5 == 0:
            body["disabledFeatures"] = ["reactions", "reply"][: 1 + (h >> 20) % 2]
            if quirks and quirks.disabled_feature.hits(index):
                body["disabledFeatures"].append(quirks.disabled_feature.value)
        if kind_of_chat == 1 and (h >> 22) & 1:
            body["subject"] = "Q3 planning — agenda"
        if kind == "LINKEDIN":
            if (h >> 23) % 3 == 0:
                body["organization_id"] = f"urn:li:organization:{12345 + a}"
                body["mailbox_id"] = f"urn:li:fsd_profile:{b32(h, 10)}"
            content = ("inmail", "sponsored", "linkedin_offer", None, None)[(h >> 25) % 5]
            if quirks and quirks.chat_content_type.hits(index):
                content = quirks.chat_content_type.value
            if content is not None:
                body["content_type"] = content
            body["folder"] = ["INBOX", _LI_FOLDERS[(h >> 28) % len(_LI_FOLDERS)]]
        elif (h >> 28) % 3 == 0:
            body["folder"] = [_FOLDERS[0], "Clients 💼"] if (h >> 30) & 1 else [_FOLDERS[0]]
        body["pinned"] = 1 if (h >> 32) % 7 == 0 else 0
        if quirks and quirks.chat_unread_field.hits(index):
            body["unread"] = body["unread_count"] > 0
        return body

    def chat_with_last_message(self, index: int) -> dict[str, Any]:
        """The wire object of one chat as retrieved (with ``lastMessage``, maybe ``null``)."""
        body = self.chat(index)
        last = self._cols.chat_last[index]
        body["lastMessage"] = self.message(last) if last >= 0 else None
        return body

    def _sender_name(self, sender: int) -> str:
        h = self._ids.h(Salt.SENDER_NAME, sender)
        return f"{_FIRST[h % len(_FIRST)]} {_LAST[(h >> 8) % len(_LAST)]}"

    # -- messages -------------------------------------------------------------------------

    def message(self, index: int) -> dict[str, Any]:
        """The wire object of message ``index`` (the same in the list and on retrieve)."""
        return self.messages.message(index)
