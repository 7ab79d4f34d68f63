"""Attachments on the wire: one or two a message that has any, drawn from its hash.

Images, videos, audio, files, LinkedIn posts and video meetings, each with the fields its
type has (sizes, durations, file names, meeting times); with quirks, also a location (a
type the SDK does not know, see :mod:`._quirks`).
"""

from __future__ import annotations

from typing import Final

import msgspec

from postpress_async.testing._dataset._ids import b32, mix
from postpress_async.testing._dataset._quirks import QUIRKS

__all__ = ["attachments_json"]

_enc = msgspec.json.Encoder().encode
_ATTACHMENT_TYPES: Final = ("img", "video", "audio", "file", "linkedin_post", "video_meeting")
_ATTACHMENT_KINDS_QUIRKS: Final = (*_ATTACHMENT_TYPES, QUIRKS.attachment_type.value)
_MIMES: Final = {
    "img": ("image/jpeg", "image/png", "image/webp"),
    "video": ("video/mp4", "video/quicktime"),
    "audio": ("audio/ogg", "audio/mpeg"),
    "file": ("application/pdf", "text/csv", "application/zip"),
    "linkedin_post": ("text/html",),
    "video_meeting": ("text/calendar",),
}
_FILE_NAMES: Final = (
    "Q3 report.pdf",
    "données_clients.csv",
    "契約書 (final).pdf",
    "archive.tar.gz",
)
_FILE_NAMES_JSON: Final = tuple(_enc(name) for name in _FILE_NAMES)
_LOCATION: Final = b',"latitude":%s,"longitude":%s}' % (_enc(48.8566), _enc(2.3522))


def _attachment(kind: str, h: int, owner: bytes, k: int) -> bytes:
    """One attachment's JSON; ``owner`` is its message's id as JSON string content."""
    out = [b'{"id":"%s-att%d","type":"%s"' % (owner, k, kind.encode())]
    if h & 1:
        out.append(b',"file_size":%d' % (1024 + h % 5_000_000))
    out.append(b',"unavailable":false' if (h >> 1) % 11 else b',"unavailable":true')
    if kind == QUIRKS.attachment_type.value:
        out.append(_LOCATION)
        return b"".join(out)
    if (h >> 2) & 3:
        mimes = _MIMES[kind]
        out.append(
            b',"mimetype":"%s","url":"https://files.example.com/%s/%d?sig=%s","url_expires_at":%d'
            % (
                mimes[(h >> 4) % len(mimes)].encode(),
                owner,
                k,
                b32(h, 8).encode(),
                1_779_100_000_000 + h % 10**6,
            )
        )
    if kind in ("img", "video"):
        out.append(
            b',"size":{"width":%d,"height":%d},"%s":%s'
            % (
                320 + (h >> 8) % 1600,
                240 + (h >> 12) % 1200,
                b"sticker" if kind == "img" else b"gif",
                b"false" if (h >> 16) % 5 else b"true",
            )
        )
    elif kind == "audio":
        if (h >> 8) & 1:
            out.append(b',"duration":%d' % (1 + (h >> 9) % 600))
        out.append(b',"voice_note":true' if (h >> 18) & 1 else b',"voice_note":false')
    elif kind == "file":
        out.append(b',"file_name":' + _FILE_NAMES_JSON[(h >> 8) % len(_FILE_NAMES_JSON)])
    elif kind == "video_meeting":
        if (h >> 8) % 4 == 0:
            out.append(b',"starts_at":null,"expires_at":null,"time_range":null')
        else:
            out.append(
                b',"starts_at":%d,"expires_at":%d,"time_range":%d'
                % (
                    1_779_200_000 + (h >> 10) % 10**6,
                    1_779_203_600 + (h >> 10) % 10**6,
                    1800 + (h >> 12) % 5400,
                )
            )
    out.append(b"}")
    return b"".join(out)


def attachments_json(h: int, owner: bytes, *, quirks: bool) -> bytes:
    """One or two attachments (callers check ``(h >> 16) & 30 == 0`` first).

    ``owner`` is the message's id as JSON string content.
    """
    kinds = _ATTACHMENT_KINDS_QUIRKS if quirks else _ATTACHMENT_TYPES
    parts = [
        _attachment(kinds[(h >> (20 + 3 * k)) % len(kinds)], mix(h + k), owner, k)
        for k in range(1 + ((h >> 16) & 1))
    ]
    return b"[" + b",".join(parts) + b"]"
