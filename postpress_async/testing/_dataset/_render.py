"""Rendering: the wire JSON of accounts, chats and messages, from columns and hashes.

Nothing here is stored per message: every object is rendered on demand from its index,
the :class:`~._columns.Columns` and the :class:`~._ids.IdScheme` hashes, so two datasets
with the same configuration serve the same bytes. The real API's quirks come from the
one table in :mod:`._quirks`.
"""

from __future__ import annotations

import functools
from typing import Any, Final, NamedTuple

import msgspec

from postpress_async.testing._dataset._columns import (
    ACCOUNT_TYPES,
    CONTACTS_PER_ACCOUNT,
    NEWEST_MS,
    Columns,
    chat_type,
    chat_unread_count,
)
from postpress_async.testing._dataset._ids import HostilePeriod, IdScheme, Salt, b32, mix
from postpress_async.testing._dataset._quirks import QUIRKS, QuirkTable
from postpress_async.testing._time import format_ms

__all__ = ["Renderer"]

_SOURCE_STATUSES: Final = ("OK", "STOPPED", "ERROR", "CREDENTIALS", "PERMISSIONS", "CONNECTING")
_ATTACHMENT_TYPES: Final = ("img", "video", "audio", "file", "linkedin_post", "video_meeting")
_FIRST = ("Anna", "Jordan", "José", "Zoë", "Ольга", "李雷", "محمد", "Søren", "Amélie", "Kwame")
_LAST = ("Doe", "Walke", "García", "Müller", "Иванова", "王", "Haddad", "Ødegård", "N'Diaye")
_TEXTS: Final = (
    "Sounds good - let's chat tomorrow.",
    "On my way 🚗💨",
    "Can you send the deck before the call?",
    "👍",
    "Merci beaucoup ! À demain.",
    "Договорились, созвонимся в пятницу.",
    "明天上午十点开会，别忘了。",  # noqa: RUF001 - full-width punctuation on purpose
    "هل يمكنك إرسال العقد اليوم؟",
    'He said "ship it" and left \\o/',
    "Line one\nline two\n\ttabbed line",
    "family: 👨‍👩‍👧‍👦 flags: 🇯🇵🇧🇷 skin: 👋🏽",
    "Zalgo: Z̷̢͓a̶͎͝l̸̰̈g̴̣̉o̵͙̐",
    "Price is 12 € / $13 — ok?",
    "<script>alert('x')</script> & friends",
    "separator\u2028inside\u2029text",
    "null",
    "Reminder: invoice #4821 is due on 2026-06-01.",
    "Can we move our 1:1 to Thursday?",
    "lol 😂😂😂",
    "https://example.com/path?q=1&r=2#frag",
)
_LONG_TEXTS: Final = tuple(
    f"[long text {n}] " + " ".join(_TEXTS[(n * 7 + k) % len(_TEXTS)] for k in range(40 + 40 * n))
    for n in range(8)
)
"""Messages of roughly 1.5 to 12 KB."""
_TEXT_POOL: Final[tuple[str | None, ...]] = (None, "", *_LONG_TEXTS, *_TEXTS)
_LONG_COUNT: Final = len(_LONG_TEXTS)
_SHORT_START: Final = 2 + len(_LONG_TEXTS)
_SHORT_COUNT: Final = len(_TEXTS)
_enc = msgspec.json.Encoder().encode
_TEXT_JSON: Final = tuple(_enc(text) for text in _TEXT_POOL)
_FLAGS_JSON: Final = tuple(
    (
        f'}},"hidden":{n & 1},"deleted":{n >> 1 & 1},"edited":{n >> 2 & 1},'
        f'"is_event":{n >> 3 & 1},"delivered":{n >> 4 & 1},'
        f'"behavior":{"null" if n >> 5 == 0 else (n >> 5) - 1}'
    ).encode()
    for n in range(128)
)
"""The end of ``seen_by`` and the six flags after it, indexed by a 7-bit code."""
_MESSAGE_PROVIDER_PREFIX: Final = {
    "WHATSAPP": "3EB0",
    "LINKEDIN": "urn:li:msg:2-",
    "SLACK": "slack:msg:",
}
_KIND_LOWER: Final = {
    kind: kind.lower().encode() for kind in (*ACCOUNT_TYPES, QUIRKS.account_type.value)
}
_ORIGINAL: Final = b',"original":"{\\"provider\\":\\"%s\\",\\"id\\":\\"%s\\",\\"ts\\":%d}"'
_hour_bytes = functools.lru_cache(maxsize=65536)(
    lambda hours: format_ms(hours * 3_600_000)[:14].encode()
)
_FOLDERS = ("INBOX", "INBOX_LINKEDIN_CLASSIC", "INBOX_LINKEDIN_RECRUITER")
_LI_FOLDERS = (
    "INBOX_LINKEDIN_CLASSIC",
    "INBOX_LINKEDIN_RECRUITER",
    "INBOX_LINKEDIN_SALES_NAVIGATOR",
    "INBOX_LINKEDIN_ORGANIZATION",
)
_REACTIONS = ("👍", "❤️", "😂", "😮", "🎉", "🙏🏽")
_MIMES = {
    "img": ("image/jpeg", "image/png", "image/webp"),
    "video": ("video/mp4", "video/quicktime"),
    "audio": ("audio/ogg", "audio/mpeg"),
    "file": ("application/pdf", "text/csv", "application/zip"),
    "linkedin_post": ("text/html",),
    "video_meeting": ("text/calendar",),
}
_FILE_NAMES = ("Q3 report.pdf", "données_clients.csv", "契約書 (final).pdf", "archive.tar.gz")


def _text(h: int) -> int:
    """An index into the text pool: 1/256 null, 1/256 empty, 1/128 several KB long."""
    pick = h & 0xFF
    if pick < 4:
        return pick if pick < 2 else 2 + (h >> 8) % len(_LONG_TEXTS)
    return 2 + len(_LONG_TEXTS) + (h >> 8) % len(_TEXTS)


def _message_provider_id(kind: str, i: int, h: int) -> str:
    prefix = _MESSAGE_PROVIDER_PREFIX.get(kind)
    if prefix is None:
        return str(10**17 + i * 8 + h % 8)
    return f"{prefix}{h & 0xFFFFFFFFFFFF:012X}{i:08X}"


def _attachment(kind: str, h: int, owner_id: str, k: int) -> dict[str, Any]:
    body: dict[str, Any] = {"id": f"{owner_id}-att{k}", "type": kind}
    if h & 1:
        body["file_size"] = 1024 + h % 5_000_000
    body["unavailable"] = (h >> 1) % 11 == 0
    if kind == QUIRKS.attachment_type.value:
        body.update(latitude=48.8566, longitude=2.3522)
        return body
    if (h >> 2) & 3:
        mimes = _MIMES[kind]
        body["mimetype"] = mimes[(h >> 4) % len(mimes)]
        body["url"] = f"https://files.example.com/{owner_id}/{k}?sig={b32(h, 8)}"
        body["url_expires_at"] = 1_779_100_000_000 + h % 10**6
    if kind in ("img", "video"):
        body["size"] = {"width": 320 + (h >> 8) % 1600, "height": 240 + (h >> 12) % 1200}
        body["sticker" if kind == "img" else "gif"] = (h >> 16) % 5 == 0
    elif kind == "audio":
        if (h >> 8) & 1:
            body["duration"] = 1 + (h >> 9) % 600
        body["voice_note"] = (h >> 18) & 1 == 1
    elif kind == "file":
        body["file_name"] = _FILE_NAMES[(h >> 8) % len(_FILE_NAMES)]
    elif kind == "video_meeting":
        nullable = (h >> 8) % 4 == 0
        body["starts_at"] = None if nullable else 1_779_200_000 + (h >> 10) % 10**6
        body["expires_at"] = None if nullable else 1_779_203_600 + (h >> 10) % 10**6
        body["time_range"] = None if nullable else 1800 + (h >> 12) % 5400
    return body


class _ChatParts(NamedTuple):
    fragment: bytes
    kind: str
    kind_lower: bytes
    provider_prefix: bytes | None
    members: tuple[int, ...]
    owner: int
    #: ``(member, its seen_by key, the bits of h2 for it, the delay of its seen time)``.
    seen_slots: tuple[tuple[int, bytes, int, int], ...]


class Renderer:
    """Renders one dataset's objects; holds only caches of pre-encoded fragments.

    The interface the server relies on is :meth:`account`, :meth:`chat`,
    :meth:`chat_with_last_message`, :meth:`message` and :meth:`message_json`; a faster
    renderer only has to keep those bytes identical.
    """

    __slots__ = (
        "_attendee_keys",
        "_chat_parts_cache",
        "_cols",
        "_ids",
        "_linkedin_cache",
        "_quirks",
        "_sender_fragments",
    )

    def __init__(self, cols: Columns, ids: IdScheme, quirks: QuirkTable | None) -> None:
        self._cols = cols
        self._ids = ids
        self._quirks = quirks
        self._sender_fragments = tuple(
            b',"sender_id":' + _enc(sid) + b',"sender_attendee_id":' + _enc(att)
            for sid, att in zip(cols.sender_ids, cols.sender_attendee_ids, strict=True)
        )
        self._attendee_keys = tuple(_enc(att) + b":" for att in cols.sender_attendee_ids)
        self._chat_parts_cache: list[_ChatParts | None] = [None] * len(cols.chat_ids)
        self._linkedin_cache: dict[tuple[int, bool, bool], bytes] = {}

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
        decoded: dict[str, Any] = msgspec.json.decode(self.message_json(index))
        return decoded

    def _chat_parts(self, c: int) -> _ChatParts:
        """What every message of chat ``c`` shares, encoded once (chats never change)."""
        parts = self._chat_parts_cache[c]
        if parts is None:
            cols = self._cols
            kind = cols.account_types[cols.account_of_chat[c]]
            members = cols.chat_attendees[c]
            prefix = _MESSAGE_PROVIDER_PREFIX.get(kind)
            parts = self._chat_parts_cache[c] = _ChatParts(
                fragment=b"".join(
                    (
                        b',"account_id":',
                        _enc(cols.account_ids[cols.account_of_chat[c]]),
                        b',"chat_id":',
                        _enc(cols.chat_ids[c]),
                        b',"chat_provider_id":',
                        _enc(cols.chat_provider[c]),
                    )
                ),
                kind=kind,
                kind_lower=_KIND_LOWER[kind],
                provider_prefix=None if prefix is None else prefix.encode(),
                members=members,
                owner=members[0],
                seen_slots=tuple(
                    (member, self._attendee_keys[member], 24 + 2 * (k % 16), 1000 * (1 + k))
                    for k, member in enumerate(members)
                ),
            )
        return parts

    def message_json(self, i: int) -> bytes:
        """Message ``i`` encoded exactly as the server sends it.

        Built from pre-encoded fragments with bytes formatting rather than from a dict,
        because this is the hot path of every uncached page: what a chat's messages
        share is encoded once a chat (:meth:`_chat_parts`), and the common case of a
        message (no attachment, quote, reaction or reply) is a few formatting steps.
        """
        cols = self._cols
        ids = self._ids
        quirks = self._quirks
        h = mix(ids.message_salt ^ i)
        h2 = mix(h)
        c = cols.chat_col[i]
        chat = self._chat_parts_cache[c] or self._chat_parts(c)
        kind = chat.kind
        s = cols.sender_col[i]
        ts = cols.ts[i]
        if ids.hostile and i % HostilePeriod.MESSAGE == 1:
            mid = _enc(ids.message_id(i))
        else:
            mid = b'"%s%016X"' % (ids.message_head, i)
        prefix = chat.provider_prefix
        if prefix is None:
            provider_id = b"%d" % (10**17 + i * 8 + h % 8)
        else:
            provider_id = b"%s%012X%08X" % (prefix, h & 0xFFFFFFFFFFFF, i)
        pick = h & 0xFF
        if pick < 4:
            text = pick if pick < 2 else 2 + (h >> 8) % _LONG_COUNT
        else:
            text = _SHORT_START + (h >> 8) % _SHORT_COUNT
        rem = ts % 3_600_000
        out = [
            b'{"object":"Message","id":%s%s,"provider_id":"%s"%s%s,"timestamp":"%s%02d:%02d.%03dZ"'
            b',"text":%s,"is_sender":%d,"attachments":%s'
            % (
                mid,
                b',"message_id":' + mid if h2 % 9 == 0 else b"",
                provider_id,
                chat.fragment,
                self._sender_fragments[s],
                _hour_bytes(ts // 3_600_000),
                rem // 60_000,
                rem // 1000 % 60,
                rem % 1000,
                _TEXT_JSON[text],
                s == chat.owner,
                _enc(self._attachments(h, i)) if (h >> 16) & 30 == 0 else b"[]",
            )
        ]
        older = None
        if (h >> 27) & 15 == 0 or (h >> 31) & 15 == 0:
            link = cols.older[i]
            older = link if link >= 0 else None
        if older is not None and (h >> 27) & 15 == 0:
            out += (b',"quoted":', _enc(self._quoted(kind, older, h2 & 1 == 1)))
        if (h2 >> 1) % 17 == 0:
            out.append(b',"is_forwarded":true' if (h2 >> 6) & 1 else b',"is_forwarded":false')
        if (h >> 35) & 15 == 0:
            out += (b',"reactions":', _enc(self._reactions(h2, chat.members)))
        else:
            out.append(b',"reactions":[]')
        seen = False
        entries = []
        for member, key, shift, delay in chat.seen_slots:
            if member == s:
                continue
            mode = (h2 >> shift) & 3
            if mode == 0:
                seen = True
                at = ts + delay
                rem = at % 3_600_000
                entries.append(
                    b'%s"%s%02d:%02d.%03dZ"'
                    % (
                        key,
                        _hour_bytes(at // 3_600_000),
                        rem // 60_000,
                        rem // 1000 % 60,
                        rem % 1000,
                    )
                )
            elif mode == 3:
                entries.append(key + b"false")
            else:
                seen = True
                entries.append(key + b"true")
        is_event = (h >> 47) % 40 == 0
        flags = (
            ((h >> 38) % 97 == 0)
            | ((h >> 41) % 89 == 0) << 1
            | ((h >> 44) % 23 == 0) << 2
            | is_event << 3
            | ((h >> 50) % 19 != 0) << 4
            | (0 if (h >> 53) % 6 == 0 else 1 + (h >> 56) % 3) << 5
        )
        out += (
            b',"seen":1,"seen_by":{' if seen else b',"seen":0,"seen_by":{',
            b",".join(entries),
            _FLAGS_JSON[flags],
        )
        if is_event:
            if quirks and quirks.event_type.hits(i):
                event_type = quirks.event_type.value
            else:
                event_type = (h2 >> 40) % 14
            out.append(b',"event_type":%d' % event_type)
        out.append(_ORIGINAL % (chat.kind_lower, provider_id, ts))
        if (h2 >> 44) % 5 == 0:
            replies = (h2 >> 48) % 12
            out.append(b',"replies":%d' % replies)
            if replies:
                members = chat.members
                out += (b',"reply_by":', _enc([cols.sender_attendee_ids[m] for m in members[1:3]]))
        if older is not None and (h2 >> 52) % 3 == 0:
            out += (b',"parent":', _enc(ids.message_id(older)))
        if kind == "LINKEDIN":
            out.append(self._linkedin_fields(i, h2, s))
        if older is not None and (h >> 31) & 15 == 0:
            out += (b',"reply_to":', _enc(self._reply_to(kind, older)))
        if quirks and quirks.message_pinned_field.hits(i):
            out.append(quirks.message_pinned_field.value)
        out.append(b"}")
        return b"".join(out)

    def _attachments(self, h: int, i: int) -> list[dict[str, Any]]:
        """One or two attachments (callers check ``(h >> 16) & 30 == 0`` first)."""
        owner_id = self._ids.message_id(i)
        kinds = len(_ATTACHMENT_TYPES) + (1 if self._quirks else 0)
        out = []
        for k in range(1 + ((h >> 16) & 1)):
            pick = (h >> (20 + 3 * k)) % kinds
            kind = (
                _ATTACHMENT_TYPES[pick]
                if pick < len(_ATTACHMENT_TYPES)
                else QUIRKS.attachment_type.value
            )
            out.append(_attachment(kind, mix(h + k), owner_id, k))
        return out

    def _quoted(self, kind: str, older: int, with_id: bool) -> dict[str, Any]:
        oh = self._ids.h(Salt.MESSAGE, older)
        quoted: dict[str, Any] = {}
        if with_id:
            quoted["message_id"] = self._ids.message_id(older)
        quoted["provider_id"] = _message_provider_id(kind, older, oh)
        quoted["sender_id"] = self._cols.sender_ids[self._cols.sender_col[older]]
        quoted["text"] = _TEXT_POOL[_text(oh)]
        quoted["attachments"] = self._attachments(oh, older) if (oh >> 16) & 30 == 0 else []
        return quoted

    def _reply_to(self, kind: str, older: int) -> dict[str, Any]:
        cols = self._cols
        oh = self._ids.h(Salt.MESSAGE, older)
        sender = cols.sender_col[older]
        return {
            "id": self._ids.message_id(older),
            "provider_id": _message_provider_id(kind, older, oh),
            "timestamp": format_ms(cols.ts[older]),
            "sender_attendee_id": cols.sender_attendee_ids[sender],
            "sender_id": cols.sender_ids[sender],
            "text": _TEXT_POOL[_text(oh)],
        }

    def _reactions(self, h2: int, members: tuple[int, ...]) -> list[dict[str, Any]]:
        quirks = self._quirks
        reactions = []
        for k in range(1 + (h2 >> 8) % 3):
            who = members[(h2 >> (10 + 2 * k)) % len(members)]
            reaction: dict[str, Any] = {
                "value": _REACTIONS[(h2 >> (16 + 3 * k)) % len(_REACTIONS)],
                "sender_id": self._cols.sender_ids[who],
                "is_sender": who == members[0],
            }
            if quirks and k == 0:
                reaction["object"] = quirks.reaction_object_field.value
            reactions.append(reaction)
        return reactions

    def _linkedin_fields(self, i: int, h2: int, sender: int) -> bytes:
        quirks = self._quirks
        key = (
            h2 >> 54,
            bool(quirks and quirks.linkedin_message_type.hits(i)),
            bool(quirks and quirks.linkedin_attendee_type.hits(i)),
        )
        fragment = self._linkedin_cache.get(key)
        if fragment is None:
            fields: dict[str, Any] = {}
            if (h2 >> 54) & 1:
                fields["subject"] = None if (h2 >> 55) & 1 else "Opportunity at Acme 🚀"
            msg_types = ("MESSAGE", "INVITATION", "INMAIL", "INMAIL_DECLINE", "INMAIL_REPLY")
            msg_type = (*msg_types, "INMAIL_ACCEPT")[(h2 >> 56) % 6]
            fields["message_type"] = QUIRKS.linkedin_message_type.value if key[1] else msg_type
            attendee = ("MEMBER", "ORGANIZATION", "OTHER")[(h2 >> 59) % 3]
            fields["attendee_type"] = QUIRKS.linkedin_attendee_type.value if key[2] else attendee
            fields["attendee_distance"] = (1, 2, 3, 4, -1)[(h2 >> 61) % 5]
            fragment = b"," + _enc(fields)[1:-1]
            self._linkedin_cache[key] = fragment
        urn = _enc(f"urn:li:fsd_profile:{self._cols.sender_ids[sender]}")
        return fragment + b',"sender_urn":' + urn
