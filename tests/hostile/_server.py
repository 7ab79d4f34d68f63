"""A misbehaving postpress server, in process: each test says how it misbehaves.

``hostile_server(handler)`` runs a real ``aiohttp.web`` app on a loopback port whose
every request goes to ``handler``; the helpers below build the handlers the tests
need (endless bodies, lying ``Content-Length``, cursor loops, broken UTF-8, redirects).
The server counts the body bytes it managed to send, so a test can show that the
client hung up early instead of reading without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

from aiohttp import web

from postpress_async import AsyncPostpress, RetryPolicy

Handler = Callable[[web.Request, "Hostile"], Awaitable[web.StreamResponse]]

CHUNK = 64 * 1024
KEY = "pp_hostile_key_0123456789"


class Hostile:
    """What the test can see of the server: its URL, the requests, the bytes sent."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[web.Request] = []
        #: Body bytes the handlers wrote before they finished or the client hung up.
        self.sent = 0

    @property
    def queries(self) -> list[dict[str, str]]:
        """The query of every request, in order."""
        return [dict(request.query) for request in self.requests]


@contextlib.asynccontextmanager
async def hostile_server(handler: Handler) -> AsyncIterator[Hostile]:
    """Serve ``handler`` at ``http://127.0.0.1:PORT/api/v1`` until the block ends."""
    hostile = Hostile()

    async def serve(request: web.Request) -> web.StreamResponse:
        hostile.requests.append(request)
        return await handler(request, hostile)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", serve)
    runner = web.AppRunner(app, shutdown_timeout=0.1, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hostile.url = f"http://127.0.0.1:{port}/api/v1"
    try:
        yield hostile
    finally:
        await runner.cleanup()


def client_for(server: Hostile, **kwargs: Any) -> AsyncPostpress:
    """A client of ``server`` that does not retry unless ``retry=`` says otherwise."""
    kwargs.setdefault("retry", RetryPolicy.disabled())
    kwargs.setdefault("api_key", KEY)
    return AsyncPostpress(base_url=server.url, **kwargs)


def message(id: str) -> dict[str, Any]:
    """The smallest message the SDK accepts in a listing (a watch needs its timestamp)."""
    return {"object": "Message", "id": id, "text": "hi", "timestamp": "2026-01-01T00:00:00.000Z"}


def page_body(ids: Sequence[str], cursor: str | None) -> bytes:
    """A ``MessageList`` page."""
    return json.dumps(
        {"object": "MessageList", "items": [message(i) for i in ids], "cursor": cursor}
    ).encode()


def raw(status: int, body: bytes, headers: dict[str, str] | None = None) -> Handler:
    """Answer every request with these exact bytes."""

    async def handler(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        hostile.sent += len(body)
        return web.Response(
            status=status,
            body=body,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    return handler


def endless(status: int = 200, *, give_up_after: int = 256 * 1024 * 1024) -> Handler:
    """A chunked body that never ends (well: ``give_up_after`` bytes, so a broken client
    fails its test instead of hanging it)."""

    async def handler(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b'{"items": [' + b" " * (CHUNK - 11)
        try:
            while hostile.sent < give_up_after:
                await response.write(chunk)
                hostile.sent += len(chunk)
                chunk = b" " * CHUNK
        except (ConnectionResetError, OSError):
            pass  # the client hung up: what a careful client does
        return response

    return handler


def lying_length(claimed: int, *, actual: int = 4 * 1024 * 1024) -> Handler:
    """Claim a ``Content-Length`` of ``claimed`` bytes, then send ``actual`` and stall."""

    async def handler(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/json", "Content-Length": str(claimed)},
        )
        await response.prepare(request)
        try:
            for _ in range(actual // CHUNK):
                await response.write(b" " * CHUNK)
                hostile.sent += CHUNK
        except (ConnectionResetError, OSError):
            pass
        return response

    return handler


def cursor_walk(next_cursor: dict[str | None, str | None]) -> Handler:
    """Pages that follow ``next_cursor``: the page asked for with cursor ``c`` holds one
    item named after ``c`` and points to ``next_cursor[c]``."""

    async def handler(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        cursor = request.query.get("cursor")
        body = page_body([f"msg_{cursor or 'start'}"], next_cursor[cursor])
        hostile.sent += len(body)
        return web.Response(body=body, content_type="application/json")

    return handler


def redirect(status: int, location: str) -> Handler:
    """Answer with a redirect to ``location``."""

    async def handler(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handler


@contextlib.contextmanager
def hostile_server_in_thread(handler: Handler) -> Iterator[Hostile]:
    """:func:`hostile_server` on its own event loop in a thread, for code that runs its
    own loop (the CLI's ``main(argv)``)."""
    ready = threading.Event()
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    box: list[Hostile] = []

    async def serve() -> None:
        nonlocal stop, loop
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        async with hostile_server(handler) as hostile:
            box.append(hostile)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        if not ready.wait(timeout=30):
            raise RuntimeError("the hostile server did not start")
        yield box[0]
    finally:
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
