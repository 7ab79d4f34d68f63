"""The floor of a walk: what the machine allows, and how close the SDK's own path gets.

One run, one process layout: the fake server in its own process serving every page from
its page cache (so the fake's rendering is not measured), this process as the client.
Per 250-message page, over the same pages:

* bytes: raw bodies over aiohttp (one keep-alive session, the page URLs known up front);
* decode: a bare ``msgspec`` decode of the same bodies into the SDK's models, each page
  dropped after use as a stream drops it;
* hand: the hand-written aiohttp + msgspec loop (read, decode, follow the cursor);
* the SDK: ``async for`` over items and over ``pages()``, prefetch 0 and 1.

Checks, with CPU as process CPU time (``time.process_time``) of this process only:

1. SDK CPU a page / (bytes CPU + decode CPU a page) <= 1.05 (items and pages, prefetch 1);
2. SDK items/s >= the hand-written loop's;
3. the SDK's decode inside a stream <= 1.1x the bare decode of the same bodies;
4. a page decoded with the SDK's models >= 1.25x faster than with the 0.1 models
   (``_models_0_1.py``, a frozen copy) on the same bytes;
5. the SDK's ``async for`` at zero latency <= 0.8x the hand-written loop's wall time.

Every figure is the best of ``--rounds`` interleaved rounds (noise only ever slows a
round down). Run: ``python benchmarks/bench_floor.py`` (about a minute here).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import bench_stream
import msgspec
from _fake import RunningServer, fake_server, verdict
from _models_0_1 import MessageList as OldMessageList
from yarl import URL

import postpress_async._decoding
from postpress_async import AsyncPostpress, Timeout
from postpress_async.models import MessageList
from postpress_async.transports import AiohttpTransport, Request

LIMIT = 250
ROWS: list[tuple[str, str, str, str]] = []


def row(name: str, measured: str, target: str, ok: bool | None) -> None:
    mark = "" if ok is None else verdict(ok)
    ROWS.append((name, measured, target, mark))
    print(f"  {name}: {measured}  [{target}] {mark}", flush=True)


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


@dataclass
class Figure:
    """The best CPU and wall seconds seen for one way of walking the pages."""

    cpu: float = float("inf")
    wall: float = float("inf")

    def add(self, cpu: float, wall: float) -> None:
        self.cpu = min(self.cpu, cpu)
        self.wall = min(self.wall, wall)


class _Cursor(msgspec.Struct):
    cursor: str | None = None


async def measure(run: Callable[[], Awaitable[int]], expected: int) -> tuple[float, float]:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    count = await run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if count != expected:
        raise SystemExit(f"walked {count}, expected {expected}")
    return cpu, wall


async def discover(server: RunningServer) -> tuple[list[str], list[bytes]]:
    """Walk once by cursor: the page URLs and bodies (and the fake's cache filled)."""
    decoder = msgspec.json.Decoder(_Cursor)
    urls: list[str] = []
    bodies: list[bytes] = []
    cursor: str | None = None
    async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
        while True:
            url = str(
                URL(f"{server.url}/messages").with_query(
                    {"limit": str(LIMIT)} | ({} if cursor is None else {"cursor": cursor})
                )
            )
            async with http.get(URL(url, encoded=True)) as response:
                response.raise_for_status()
                bodies.append(await response.read())
            urls.append(url)
            cursor = decoder.decode(bodies[-1]).cursor
            if cursor is None:
                return urls, bodies


def bytes_walk(server: RunningServer, urls: list[str]) -> Callable[[], Awaitable[int]]:
    async def run() -> int:
        pages = 0
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
            for url in urls:
                async with http.get(URL(url, encoded=True)) as response:
                    await response.read()
                pages += 1
        return pages

    return run


def transport_walk(
    server: RunningServer, urls: list[str], *, default_session: bool
) -> Callable[[], Awaitable[int]]:
    """The same bodies through the SDK's seam, ``AiohttpTransport.send``.

    ``default_session``: over a caller's plain ``aiohttp.ClientSession`` instead of the
    one the transport builds and tunes for itself.
    """
    headers = {"X-API-KEY": server.api_key, "accept": "application/json"}
    timeout = Timeout()

    async def run() -> int:
        pages = 0
        session = aiohttp.ClientSession() if default_session else None
        transport = AiohttpTransport(session=session)
        try:
            for url in urls:
                request = Request(method="GET", url=url, headers=headers)
                response = await transport.send(request, timeout=timeout)
                assert response.status == 200
                pages += 1
        finally:
            await transport.aclose()
            if session is not None:
                await session.close()
        return pages

    return run


def bare_decode(bodies: list[bytes], model: Any) -> Callable[[], Awaitable[int]]:
    decoder = msgspec.json.Decoder(model)

    async def run() -> int:
        pages = 0
        for body in bodies:
            page = decoder.decode(body)
            del page
            pages += 1
        return pages

    return run


def hand_written(server: RunningServer) -> Callable[[], Awaitable[int]]:
    return lambda: bench_stream.hand_written(server)


def sdk_items(server: RunningServer, prefetch: int) -> Callable[[], Awaitable[int]]:
    async def run() -> int:
        count = 0
        async with AsyncPostpress(api_key=server.api_key, base_url=server.url) as client:
            async for _message in client.messages.list(limit=LIMIT, prefetch=prefetch):
                count += 1
        return count

    return run


def sdk_pages(server: RunningServer, prefetch: int) -> Callable[[], Awaitable[int]]:
    async def run() -> int:
        count = 0
        async with AsyncPostpress(api_key=server.api_key, base_url=server.url) as client:
            stream = client.messages.list(limit=LIMIT, prefetch=prefetch)
            async for page in stream.pages():
                count += len(page.items)
        return count

    return run


class DecodeClock:
    """Process CPU spent in the SDK's decode of list pages, measured inside a stream.

    A list page is decoded by ``_decoding.decode_page`` (the one typed decode, item by
    item only when an item does not fit); every module holding that function is patched.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._patched: list[Any] = []
        self._decode_page = postpress_async._decoding.decode_page

    def __enter__(self) -> DecodeClock:
        def timed(body: bytes, model: Any, *, endpoint: str) -> Any:
            start = time.process_time()
            try:
                return self._decode_page(body, model, endpoint=endpoint)
            finally:
                self.seconds += time.process_time() - start
                self.calls += 1

        self._patched = _decode_page_users(self._decode_page)
        for module in self._patched:
            module.decode_page = timed
        return self

    def __exit__(self, *exc: object) -> None:
        for module in self._patched:
            module.decode_page = self._decode_page


def _decode_page_users(function: Any) -> list[Any]:
    return [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("postpress_async.")
        and name != "postpress_async._decoding"
        and getattr(module, "decode_page", None) is function
    ]


async def main(args: argparse.Namespace) -> int:
    messages = args.messages
    print(
        f"the floor of a walk: {messages:,} messages, {LIMIT} a page, cached pages ({load()})",
        flush=True,
    )
    with fake_server("--messages", str(messages), "--page-cache-mb", "512") as server:
        urls, bodies = await discover(server)
        pages = len(urls)
        ways: dict[str, tuple[Callable[[], Awaitable[int]], int]] = {
            "bytes": (bytes_walk(server, urls), pages),
            "transport": (transport_walk(server, urls, default_session=False), pages),
            "transport, plain session": (transport_walk(server, urls, default_session=True), pages),
            "decode": (bare_decode(bodies, MessageList), pages),
            "decode 0.1 models": (bare_decode(bodies, OldMessageList), pages),
            "hand": (hand_written(server), messages),
            "sdk items prefetch 0": (sdk_items(server, 0), messages),
            "sdk items prefetch 1": (sdk_items(server, 1), messages),
            "sdk pages prefetch 0": (sdk_pages(server, 0), messages),
            "sdk pages prefetch 1": (sdk_pages(server, 1), messages),
        }
        figures = {name: Figure() for name in ways}
        # The decode inside a stream, by prefetch: with 1 the page is decoded while the
        # next one arrives (the fake sending it on the other core), with 0 it is not.
        in_stream = {prefetch: Figure() for prefetch in (1, 0)}
        for _ in range(args.rounds):
            for name, (run, expected) in ways.items():
                figures[name].add(*await measure(run, expected))
            for prefetch, figure in in_stream.items():
                with DecodeClock() as clock:
                    await measure(sdk_items(server, prefetch), messages)
                if clock.calls < pages:
                    raise SystemExit(f"the decode clock saw {clock.calls} calls for {pages} pages")
                figure.add(clock.seconds, clock.seconds)

    def ms(seconds: float) -> str:
        return f"{seconds / pages * 1000:.3f} ms"

    print(f"\nper page, best of {args.rounds} rounds ({load()}):", flush=True)
    for name, figure in figures.items():
        print(f"  {name:24} cpu {ms(figure.cpu)}  wall {ms(figure.wall)}")
    for prefetch, figure in in_stream.items():
        print(f"  {f'decode in stream, pf {prefetch}':24} cpu {ms(figure.cpu)}")
    floor = figures["bytes"].cpu + figures["decode"].cpu
    print(f"  floor = bytes cpu + decode cpu = {ms(floor)}\n", flush=True)

    for name in ("transport", "transport, plain session"):
        ratio = figures[name].cpu / figures["bytes"].cpu
        row(f"CPU a page, {name} / aiohttp bytes", f"{ratio:.2f}", "(information)", None)
    for name in ("sdk items prefetch 1", "sdk pages prefetch 1"):
        ratio = figures[name].cpu / floor
        row(
            f"CPU a page, {name[4:]} / floor",
            f"{ms(figures[name].cpu)} / {ms(floor)} = {ratio:.2f}",
            "<= 1.05",
            ratio <= 1.05,
        )
    for name in ("hand", "sdk items prefetch 0", "sdk pages prefetch 0"):
        ratio = figures[name].cpu / floor
        label = "hand-written loop" if name == "hand" else name[4:]
        row(f"CPU a page, {label} / floor", f"{ratio:.2f}", "(information)", None)
    hand_rate = messages / figures["hand"].wall
    sdk_rate = messages / figures["sdk items prefetch 1"].wall
    row(
        "SDK items/s / hand-written items/s",
        f"{sdk_rate:,.0f} / {hand_rate:,.0f} = {sdk_rate / hand_rate:.2f}",
        ">= 1.00",
        sdk_rate >= hand_rate,
    )
    bare = figures["decode"].cpu
    ratio = in_stream[1].cpu / bare
    row(
        "decode inside a stream / bare decode",
        f"{ms(in_stream[1].cpu)} / {ms(bare)} = {ratio:.2f}",
        "<= 1.10",
        ratio <= 1.1,
    )
    ratio = in_stream[0].cpu / bare
    row("decode inside a stream, prefetch 0 / bare decode", f"{ratio:.2f}", "(information)", None)
    speedup = figures["decode 0.1 models"].cpu / figures["decode"].cpu
    row(
        "page decode, 0.1 models / today's models",
        f"{ms(figures['decode 0.1 models'].cpu)} / {ms(figures['decode'].cpu)} = {speedup:.2f}x",
        ">= 1.25x",
        speedup >= 1.25,
    )
    ratio = figures["sdk items prefetch 1"].wall / figures["hand"].wall
    row(
        "SDK async for wall / hand-written wall",
        f"{ms(figures['sdk items prefetch 1'].wall)} / {ms(figures['hand'].wall)} = {ratio:.2f}",
        "<= 0.80",
        ratio <= 0.8,
    )
    print("\n| benchmark | measured | target | |\n|---|---|---|---|")
    for name, measured, target, ok in ROWS:
        print(f"| {name} | {measured} | {target} | {ok} |")
    print(f"({load()})")
    return 0 if all(r[3] != "FAIL" for r in ROWS) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    sys.exit(asyncio.run(main(parser.parse_args())))
