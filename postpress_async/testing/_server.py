"""The fake postpress server: an aiohttp application around :class:`Api`, with faults."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections.abc import Iterable
from datetime import datetime
from email.utils import formatdate
from typing import Any, Final

from aiohttp import web

from postpress_async._tasks import running_loop
from postpress_async.testing._api import Api
from postpress_async.testing._args import check_listen, check_number, check_whole
from postpress_async.testing._dataset import Dataset
from postpress_async.testing._faults import (
    JSON_FAULTS,
    FaultKind,
    FaultPlan,
    Faults,
    FaultState,
    RouteName,
    fault_plan,
)
from postpress_async.testing._groundtruth import truth_report
from postpress_async.testing._live import LiveFeed, LiveMessages
from postpress_async.testing._loops import check_serving_loop, warn_unclosed
from postpress_async.testing._replies import BAD_GATEWAY_HTML, Reply
from postpress_async.testing._routes import PREFIXES, Answer, Handler, add_routes
from postpress_async.testing._stats import Stats

__all__ = ["DEFAULT_API_KEY", "PREFIXES", "TRUTH_PATH", "FakePostpress"]

DEFAULT_API_KEY: Final = "pp_test_key"
TRUTH_PATH: Final = "/_fake/truth"
"""The ground truth's routes, outside the API prefixes: ``TRUTH_PATH/{resource}``."""
_JSON: Final = {"Content-Type": "application/json"}
_HTML: Final = {"Content-Type": "text/html; charset=utf-8"}
_SLOW_CHUNKS: Final = 8


class FakePostpress:
    """A real HTTP server on 127.0.0.1 that speaks the postpress API from a :class:`Dataset`.

    ::

        async with FakePostpress(dataset=Dataset(messages=500)) as server:
            async with aiohttp.ClientSession() as http:
                await http.get(f"{server.url}/messages", headers={"X-API-KEY": server.api_key})

    Close it in the loop it runs in (``async with``, or :meth:`aclose`); one left running
    warns ``ResourceWarning: FakePostpress at <host>:<port> was never closed`` when
    collected.

    ``faults`` is a :class:`Faults` for every route or a :class:`FaultPlan` per route;
    :meth:`inject` scripts exact faults for the next requests to one route.

    Messages can arrive while it runs: :meth:`add_messages`, or ``live=LiveFeed(...)``
    for a steady feed with bursts and late listings. A server that grows works on its
    own copy of the dataset (a dataset shared between tests stays as built):
    :attr:`dataset` is that copy, and its ground truth includes the new messages.

    ``clock_skew`` (seconds, default 0) shifts the server's clock from the real one:
    every timestamp it makes while running (:meth:`add_messages`' default "now", the
    live feed's messages, when a late message gets listed), and the ``Date`` header of
    every response, is ``time.time() + clock_skew``. Negative: the server runs behind,
    as providers whose timestamps lag. Set it while serving and the clock leaps.
    """

    def __init__(
        self,
        *,
        dataset: Dataset | None = None,
        faults: Faults | FaultPlan | None = None,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        page_cache_bytes: int = 16 * 1024 * 1024,
        live: LiveFeed | None = None,
        clock_skew: float = 0.0,
    ) -> None:
        check_listen(host, port)
        check_whole("page_cache_bytes", page_cache_bytes)
        if live is not None and not isinstance(live, LiveFeed):
            raise TypeError(f"live must be a LiveFeed or None, got {type(live).__name__}")
        self.clock_skew = clock_skew  # checked by its setter
        if dataset is not None and not isinstance(dataset, Dataset):
            raise TypeError(f"dataset must be a Dataset or None, got {type(dataset).__name__}")
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty str (the X-API-KEY clients send)")
        self.dataset: Dataset = dataset if dataset is not None else Dataset()
        if live is not None and not self.dataset.chat_count:
            raise ValueError("a live feed needs a dataset with at least one chat")
        self.live_feed = live
        self._feed: asyncio.Task[int] | None = None
        self._own_dataset = False
        self.api_key = api_key
        self.host = host
        self.stats: Stats = Stats()
        self._port = port
        self._api = Api(
            self.dataset,
            api_key=api_key,
            page_cache_bytes=page_cache_bytes,
            clock=self.now,
        )
        self._faults = FaultState(fault_plan(faults))
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = asyncio.Event()
        self.app: web.Application = self._build_app()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start serving (``async with`` does this for you); on asyncio only."""
        loop = running_loop()  # under trio: say so, rather than aiohttp's own confusion
        if self._runner is not None:
            raise RuntimeError("the fake server is already running")
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        self._closing = asyncio.Event()
        try:
            site = web.TCPSite(runner, self.host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = runner.addresses[0][1]
        self._runner = runner
        self._loop = loop
        if self.live_feed is not None:
            live = self._growing()
            self._feed = loop.create_task(live.run(self.live_feed))

    async def aclose(self) -> None:
        """Stop serving and close every connection.

        A request a fault holds (its latency, a slow body) is answered at once: a client
        that gave up on it leaves nothing running, and closing does not wait for it.
        """
        self._closing.set()
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def __del__(self) -> None:
        if getattr(self, "_runner", None) is not None:
            warn_unclosed(self, f"{self.host}:{self._port}")

    async def __aenter__(self) -> FakePostpress:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def port(self) -> int:
        """The TCP port (known once started)."""
        if self._runner is None and not self._port:
            raise RuntimeError("the fake server is not running")
        return self._port

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:<port>``, without an API prefix (an IPv6 host in brackets).

        Raises :class:`~postpress_async.EventLoopError` when read in a running event loop
        while the server is open and the loop it was started in is not running (a
        session-scoped fixture's loop, read from a test in a loop of its own): nothing
        would answer a request.
        """
        check_serving_loop(self._loop if self._runner is not None else None)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL to give an SDK: ``http://127.0.0.1:<port>/api/v1``."""
        return self.root_url + PREFIXES[0]

    @property
    def clock_skew(self) -> float:
        """Seconds the server's clock is off the real one; set it while serving to make
        the clock leap (an NTP step, a deploy onto a host whose clock is off)."""
        return self._skew

    @clock_skew.setter
    def clock_skew(self, seconds: float) -> None:
        check_number("clock_skew", seconds)  # math.isfinite("1") names nothing
        if not math.isfinite(seconds):
            raise ValueError(f"clock_skew must be a finite number of seconds, got {seconds!r}")
        self._skew = float(seconds)

    # -- messages arriving ----------------------------------------------------------------

    @property
    def live(self) -> LiveMessages:
        """The messages added while serving, and how listings see them."""
        return self._api.live

    def now(self) -> float:
        """The server's clock: ``time.time() + clock_skew``."""
        return time.time() + self._skew

    def add_messages(
        self,
        count: int = 1,
        *,
        timestamp: datetime | None = None,
        listed_after: float = 0.0,
        chat_id: str | None = None,
        listed_now: bool = False,
    ) -> list[str]:
        """Add ``count`` messages stamped ``timestamp`` (default: the server's now, see
        :meth:`now`; all in one millisecond).

        They are listed ``listed_after`` seconds after their timestamp (0: at once), in
        ``chat_id`` (default: chats picked by the dataset). ``listed_now``: listed at
        once however they are dated (a provider whose clock is wrong dated them in the
        future: the server lists what arrives). Returns their ids.
        """
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count!r}")
        chat = None
        if chat_id is not None:
            chat = self.dataset.find_chat(chat_id)
            if chat is None:
                raise ValueError(f"no chat {chat_id!r} in the dataset")
        if timestamp is not None and timestamp.tzinfo is None:
            raise ValueError("timestamp must be an aware datetime")
        at = None if timestamp is None else int(timestamp.timestamp() * 1000)
        if at is None:
            at = self.live.now_ms()
        late = round(listed_after * 1000)
        live = self._growing()
        indexes = [
            live.add(timestamp_ms=at, listed_after_ms=late, chat=chat, listed_now=listed_now)
            for _ in range(count)
        ]
        return [self.dataset.message_id(index) for index in indexes]

    def _growing(self) -> LiveMessages:
        """The live messages, on a dataset of this server's own (copied on first growth)."""
        if not self._own_dataset:
            self._own_dataset = True
            self.dataset = Dataset(**dataclasses.asdict(self.dataset.config))
            self._api.serve(self.dataset)
        return self._api.live

    @property
    def live_running(self) -> bool:
        """Whether the live feed is still adding messages."""
        return self._feed is not None and not self._feed.done()

    async def live_finished(self) -> int:
        """Wait until the live feed has ended (``live_for`` ran out); how many it added."""
        if self._feed is None:
            raise RuntimeError("no live feed is running (pass live=LiveFeed(...) and start)")
        return await asyncio.shield(self._feed)

    # -- ground truth ---------------------------------------------------------------------

    @property
    def truth_url(self) -> str:
        """``http://127.0.0.1:<port>/_fake/truth``: add ``/messages``, ``/chats`` or ``/accounts``."""
        return self.root_url + TRUTH_PATH

    def truth(self, resource: str, **filters: Any) -> list[str]:
        """The ids a complete listing of ``resource`` returns right now, in listing order.

        What a walk started now sees if nothing arrives: live messages once listed, not
        the ones listed late whose time has not come; readable items only (see
        :meth:`truth_report` for the bad records). ``filters`` are the list endpoint's
        (``before``/``after`` as ISO strings or aware datetimes, chats' ``account_id`` a
        comma list or an iterable of ids, ``unread`` a bool). The same list as
        ``GET {root_url}/_fake/truth/{resource}`` answers.
        """
        ids: list[str] = self.truth_report(resource, **filters)["ids"]
        return ids

    def truth_report(self, resource: str, **filters: Any) -> dict[str, Any]:
        """The whole truth document (``ids``, ``repaired``, ``nul``, ``unreadable``), as
        ``GET {root_url}/_fake/truth/{resource}`` sends it."""
        return truth_report(self._api.dataset, self._api.live, resource, **filters)

    # -- faults and counters --------------------------------------------------------------

    @property
    def faults(self) -> FaultPlan:
        """The random faults in force."""
        return self._faults.plan

    def set_faults(self, faults: Faults | FaultPlan | None) -> None:
        """Replace the random faults (generators restart from their seeds; scripts stay)."""
        old = self._faults
        self._faults = FaultState(fault_plan(faults))
        self._faults.adopt_scripts(old)

    def inject(self, route: RouteName | str, faults: Iterable[FaultKind | str | None]) -> None:
        """Fail the next requests to ``route`` with ``faults``, in order, then serve normally.

        ``None`` in the sequence lets one request through untouched. At most 100,000
        faults a call (an endless iterator is refused with a ``ValueError``; to fail every
        request, use ``Faults(rates={kind: 1.0})``).
        """
        self._faults.inject(route, faults)

    def pending_faults(self, route: RouteName | str) -> int:
        """Scripted faults not yet served on ``route``."""
        return self._faults.pending(route)

    def reset_stats(self) -> None:
        """Zero the counters in :attr:`stats`."""
        self.stats.reset()

    # -- HTTP -----------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        api = self._api

        def unknown(request: web.Request) -> Reply:
            return api.not_found(request.path)

        app = web.Application()
        add_routes(app.router, api, self._handler)
        app.router.add_get(TRUTH_PATH + "/{resource}", self._truth)
        app.router.add_route("*", "/{tail:.*}", self._handler(None, unknown))
        app.on_response_prepare.append(self._dated)
        return app

    async def _dated(self, request: web.Request, response: web.StreamResponse) -> None:
        """Every response's ``Date`` is the server's own clock (:meth:`now`, skew and all),
        the one it stamps new messages by: a client bounds its positions by it, and
        aiohttp's default (the machine's clock) would make a skewed server's messages
        look dated in the future, or the past."""
        response.headers["Date"] = formatdate(self._api.clock(), usegmt=True)

    async def _truth(self, request: web.Request) -> web.StreamResponse:
        """The ground truth: authenticated, but no latency, no fault and no counting."""
        api = self._api
        key = request.headers.get("X-API-KEY")
        reply = api.authenticate(key) or api.truth(request.match_info["resource"], request.query)
        return web.Response(body=reply.body, status=reply.status, headers=_JSON)

    def _handler(self, route: RouteName | None, answer: Answer) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            response = await self._serve(route, request, answer)
            if self._api.ahead_pending and response.status == 200 and not response.prepared:
                await self._send_then_render_ahead(request, response)
            return response

        return handle

    async def _serve(
        self, route: RouteName | None, request: web.Request, answer: Answer
    ) -> web.StreamResponse:
        stats = self.stats
        name = route or "unknown"
        stats.requests += 1
        stats.by_route[name] += 1
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        try:
            fault: FaultKind | None = None
            if route is not None:
                limit = self._faults.plan.for_route(route).max_concurrency
                throttled = limit is not None and stats.in_flight > limit
                delay = self._faults.delay(route)
                if delay > 0:
                    await self._hold(delay)
                fault = FaultKind.RATE_LIMITED if throttled else self._faults.next_fault(route)
            if fault is not None:
                stats.faults[fault] += 1
                stats.faults_by_route[name, fault] += 1
            if fault is FaultKind.BAD_GATEWAY_HTML:
                return self._respond(name, 502, BAD_GATEWAY_HTML, _HTML)
            if fault in JSON_FAULTS:
                reply = self._api.fault(fault)
                headers = _JSON
                if fault is FaultKind.RATE_LIMITED:
                    retry_after = math.ceil(self._faults.plan.for_route(name).retry_after)
                    headers = {**_JSON, "Retry-After": str(retry_after)}
                return self._respond(name, reply.status, reply.body, headers)
            reply = self._api.authenticate(request.headers.get("X-API-KEY")) or answer(request)
            if fault is None:
                return self._respond(name, reply.status, reply.body, _JSON)
            return await self._send_broken(name, request, reply, fault)  # a fault in the body
        finally:
            stats.in_flight -= 1

    async def _send_then_render_ahead(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        """Send a listing page, then render the next one while the client reads it.

        Rendering waits until the whole body is in the kernel's hands (a body still
        buffered would wait for the rendering); aiohttp sends nothing twice for a
        response that is already prepared and ended.
        """
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:
            # The client went away (a Ctrl-C'd export): nothing to read ahead for, and
            # aiohttp answers a closed connection quietly once the handler returns.
            return
        transport = request.transport
        if transport is not None and not transport.get_write_buffer_size():
            self._api.render_ahead()

    async def _hold(self, seconds: float) -> None:
        """Wait ``seconds`` (a fault's delay), or less if the server is closing."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _count(self, route: str, status: int, sent: int) -> None:
        stats = self.stats
        stats.by_status[status] += 1
        stats.by_route_status[route, status] += 1
        stats.bytes_sent += sent

    def _respond(
        self, route: str, status: int, body: bytes, headers: dict[str, str]
    ) -> web.Response:
        self._count(route, status, len(body))
        return web.Response(body=body, status=status, headers=headers)

    async def _send_broken(
        self, route: str, request: web.Request, reply: Reply, fault: FaultKind
    ) -> web.StreamResponse:
        body = reply.body
        if fault is FaultKind.TRUNCATED_BODY:
            return self._respond(route, reply.status, body[: max(1, len(body) // 2)], _JSON)
        response = web.StreamResponse(status=reply.status, headers=_JSON)
        response.content_length = len(body)
        await response.prepare(request)
        if fault is FaultKind.CONNECTION_RESET:
            part = body[: len(body) // 2]
            await response.write(part)
            self._count(route, reply.status, len(part))
            transport = request.transport
            if transport is not None:
                transport.abort()
            return response
        pause = self._faults.plan.for_route(route).slow_body_seconds / _SLOW_CHUNKS
        step = max(1, math.ceil(len(body) / _SLOW_CHUNKS))
        self._count(route, reply.status, 0)
        try:
            for offset in range(0, len(body), step):
                await self._hold(pause)
                chunk = body[offset : offset + step]
                await response.write(chunk)
                self.stats.bytes_sent += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up (its read timeout, say): a normal end for a slow body
        return response
