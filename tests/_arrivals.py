"""Messages that arrive while an SDK walks a fake server's listing, between two pages.

Under ``Dataset(cursors="offset")`` each such arrival shifts the pages after it: the
next page repeats the last item of the one before. :class:`Arrivals` scripts that on a
:class:`FakePostpress` (before it starts): before a ``GET /messages`` (or ``/chats``)
that carries a cursor (a walk between two pages), one message is added, up to
``budget``; every page of that listing the server sends is recorded, so a test can
show the shift happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import msgspec
from aiohttp import web

from postpress_async.testing import FakePostpress

__all__ = ["Arrivals"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Arrivals:
    """Adds a message before each cursor request of ``GET /{listing}``, ``budget`` in all.

    ``stamp()``: the timestamp of the next one (``None``: the server's now); ``chat()``:
    the chat id it arrives in (``None``: one the dataset picks).
    """

    def __init__(
        self,
        server: FakePostpress,
        *,
        budget: int,
        stamp: Callable[[], datetime | None] = lambda: None,
        listing: str = "messages",
        chat: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.server = server
        self.budget = budget
        self.stamp = stamp
        self.listing = listing
        self.chat = chat
        self.added: list[str] = []
        #: How many pages had been sent when each arrival came (the index of the page after it).
        self.at: list[int] = []
        #: The ids of every messages page the server sent, in order.
        self.pages: list[list[str]] = []

        @web.middleware
        async def between_pages(request: web.Request, handler: _Handler) -> web.StreamResponse:
            return await self._between_pages(request, handler)

        server.app.middlewares.append(between_pages)

    @property
    def listed(self) -> list[str]:
        """Every id the server listed, a page after the other (repeats included)."""
        return [key for page in self.pages for key in page]

    @property
    def shifted(self) -> int:
        """How many pages sent right after an arrival open with the last id of the page before."""
        pages = self.pages
        return sum(1 for n in self.at if 0 < n < len(pages) and pages[n][:1] == pages[n - 1][-1:])

    async def _between_pages(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        listing = request.path.endswith("/" + self.listing)
        if listing and "cursor" in request.query and len(self.added) < self.budget:
            arrival = self.server.add_messages(1, timestamp=self.stamp(), chat_id=self.chat())
            self.added += arrival
            self.at.append(len(self.pages))
        response = await handler(request)
        if listing and response.status == 200 and isinstance(response, web.Response):
            assert isinstance(response.body, bytes)
            page = msgspec.json.decode(response.body)
            self.pages.append([item["id"] for item in page["items"]])
        return response
