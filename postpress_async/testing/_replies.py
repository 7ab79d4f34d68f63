"""The shapes of the API's replies: a status and the body bytes, as the real server words them.

A list page is an envelope around its items (:func:`list_page`); an error is the
envelope ``{"title", "detail", "instance", "type", "status"}`` (:func:`error_reply`),
with the real server's detail for each fault (:data:`FAULT_DETAILS`); a 502 from the
proxy in front of it is an HTML page (:data:`BAD_GATEWAY_HTML`).
"""

from __future__ import annotations

from typing import Final, NamedTuple

import msgspec

from postpress_async.testing._faults import FaultKind

__all__ = [
    "BAD_GATEWAY_HTML",
    "FAULT_DETAILS",
    "Reply",
    "encode",
    "error_reply",
    "list_page",
]

_TITLES: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
FAULT_DETAILS: Final = {
    FaultKind.NO_CLIENT_SESSION: "No client session is currently running.",
    FaultKind.NO_CHANNEL: "No channel to client session.",
    FaultKind.NO_HANDLER: "Handler missing for that request.",
    FaultKind.NETWORK_DOWN: "Network is down on the server side. Retry shortly.",
    FaultKind.SERVICE_UNAVAILABLE: "Service temporarily unavailable. Retry later.",
    FaultKind.REQUEST_TIMEOUT: "Request timed out. Retry, and contact support if it persists.",
    FaultKind.PROVIDER_ERROR: "The provider is experiencing operational problems. Retry later.",
    FaultKind.RATE_LIMITED: "Too many requests. Retry after the delay in Retry-After.",
}
BAD_GATEWAY_HTML: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
encode = msgspec.json.Encoder().encode


class Reply(NamedTuple):
    """A JSON answer: HTTP status and body bytes."""

    status: int
    body: bytes


def error_reply(status: int, error_type: str, detail: str, *, serial: int) -> Reply:
    """An error envelope; ``serial`` numbers its ``instance``."""
    envelope = {
        "title": _TITLES.get(status, "Error"),
        "detail": detail,
        "instance": f"req_{serial:08d}",
        "type": error_type,
        "status": status,
    }
    return Reply(status, encode(envelope))


def list_page(list_object: bytes, items: bytes, cursor: str | None, *, quirks: bool) -> bytes:
    """A list envelope around ``items`` (encoded objects joined by commas).

    The last page has ``"cursor": null``; with quirks, no ``cursor`` key at all.
    """
    if cursor is not None:
        tail = b'],"cursor":' + encode(cursor) + b"}"
    else:
        tail = b"]}" if quirks else b'],"cursor":null}'
    return b"".join((b'{"object":"', list_object, b'","items":[', items, tail))
