"""A messages listing the test writes item by item, served through a ``MockTransport``.

:class:`Feed` holds ``(epoch ms, exact bytes)`` items, the bytes anything (an item no
reader can take, too), and lists them as the API does: newest first, strictly between
``after`` and ``before``, ``limit`` a page, the cursor an offset (so pages shift as items
arrive between two requests). :class:`FeedConfig` is a :class:`ClientConfig` whose
clients talk to the feed registered under its ``base_url``, so ``ingest`` runs on it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

import msgspec

from postpress_async import AsyncPostpress
from postpress_async._transport import Transport
from postpress_async.ingest import ClientConfig
from postpress_async.transports import MockTransport, Request, Response

__all__ = ["Feed", "FeedConfig", "message"]


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def message(id_: str, ms: int) -> bytes:
    """A readable message stamped ``ms``."""
    return msgspec.json.encode(
        {
            "object": "Message",
            "id": id_,
            "account_id": "acc",
            "chat_id": "chat",
            "sender_id": "s",
            "timestamp": iso(ms),
            "text": "hi",
            "is_sender": 0,
        }
    )


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class Feed:
    """The items of a messages listing; see the module docstring."""

    def __init__(self) -> None:
        self.items: list[tuple[int, bytes]] = []

    def add(self, ms: int, data: bytes) -> None:
        self.items.append((ms, data))

    def respond(self, request: Request) -> Response:
        parts = urlsplit(request.url)
        if not parts.path.endswith("/messages"):
            raise AssertionError(f"the feed lists messages only, not {parts.path}")
        query = dict(parse_qsl(parts.query))
        after = _ms(query["after"]) if "after" in query else None
        before = _ms(query["before"]) if "before" in query else None
        limit = int(query.get("limit", "100"))
        start = int(query.get("cursor", "0"))
        listed = sorted(
            (
                item
                for item in self.items
                if (after is None or item[0] > after) and (before is None or item[0] < before)
            ),
            key=lambda item: -item[0],
        )
        page = listed[start : start + limit]
        cursor = b"null" if start + limit >= len(listed) else b'"%d"' % (start + limit)
        body = b'{"object":"MessageList","items":[%b],"cursor":%b}' % (
            b",".join(data for _, data in page),
            cursor,
        )
        return Response(status=200, headers={"content-type": "application/json"}, content=body)


class FeedConfig(ClientConfig, frozen=True, kw_only=True):
    """A client configuration whose clients list the feed registered for its ``base_url``."""

    feeds: ClassVar[dict[str, Feed]] = {}

    def client(self, *, transport: Transport | None = None) -> AsyncPostpress:
        return super().client(transport=MockTransport(self.feeds[self.base_url].respond))
