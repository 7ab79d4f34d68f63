"""Measures how many 250-message pages per second the fake postpress server serves.

The server runs in its own process (``python -m postpress_async.testing``) so its CPU is
not shared with the client's event loop; the client is a single keep-alive
``aiohttp.ClientSession`` on loopback that walks ``/messages?limit=250`` page after page
by cursor (reading every body, extracting the cursor with msgspec) and reports pages/s
and MB/s, first as rendered on demand, then for the same pages served again from the
server's page cache. Run: ``python benchmarks/bench_fake_server.py --messages 1000000 --pages 2000``.

The client reads the cursor from the end of each body (``--decode-pages`` decodes the
whole page with msgspec instead, as the first version did: about 0.2 ms a page of client
time that the server then waits for). The server renders the page after the one it
sends while the client reads (see ``Api.render_ahead``), so client time hides rendering.

Checks: >= 1,000 rendered (uncached) pages/s; the dataset of 1,000,000 messages built in
this process in <= 2 s and holding <= 64 MB of columns and indexes (``Dataset.nbytes``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time

import aiohttp
import msgspec
from _fake import verdict

from postpress_async.testing import Dataset


class _Page(msgspec.Struct):
    cursor: str | None = None


_CURSOR_KEY = b'"cursor":'
_cursor_value = msgspec.json.Decoder(str | None).decode


def _tail_cursor(body: bytes) -> str | None:
    """The cursor a page ends with, read from its tail (no cursor key on a last page)."""
    at = body.rfind(_CURSOR_KEY, max(0, len(body) - 4096))
    return None if at < 0 else _cursor_value(body[at + len(_CURSOR_KEY) : -1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _walk(
    url: str, api_key: str, pages: int, limit: int, *, decode_pages: bool = False
) -> tuple[int, int, float]:
    decoder = msgspec.json.Decoder(_Page)
    done = 0
    size = 0
    cursor: str | None = None
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, headers={"X-API-KEY": api_key}) as http:
        start = time.perf_counter()
        while done < pages:
            params = {"limit": str(limit)}
            if cursor is not None:
                params["cursor"] = cursor
            async with http.get(f"{url}/messages", params=params) as response:
                body = await response.read()
                response.raise_for_status()
            size += len(body)
            done += 1
            # At the end of the listing the cursor is None: the walk starts over.
            cursor = decoder.decode(body).cursor if decode_pages else _tail_cursor(body)
        elapsed = time.perf_counter() - start
    return done, size, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--chats", type=int, default=2_000)
    parser.add_argument("--pages", type=int, default=2_000)
    parser.add_argument("--limit", type=int, default=250)
    parser.add_argument(
        "--decode-pages", action="store_true", help="decode whole pages to find the cursor"
    )
    args = parser.parse_args()
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "postpress_async.testing",
        "--port",
        str(port),
        "--messages",
        str(args.messages),
        "--chats",
        str(args.chats),
        "--page-cache-mb",
        str(args.pages * args.limit * 1.2 / 1000 + 16),  # room to serve the second walk
    ]
    started = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"server did not start: {line!r}")
        ready = time.perf_counter() - started
        url = line.split("listening on ")[1].split(" ")[0]
        walk = _walk(url, "pp_test_key", args.pages, args.limit, decode_pages=args.decode_pages)
        done, size, elapsed = asyncio.run(walk)
        walk = _walk(url, "pp_test_key", args.pages, args.limit, decode_pages=args.decode_pages)
        again = asyncio.run(walk)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"dataset of {args.messages:,} messages ready in {ready:.2f} s (process start included)")
    print(
        f"rendered: {done} pages of {args.limit} in {elapsed:.2f} s: {done / elapsed:.0f} pages/s, "
        f"{size / elapsed / 1e6:.1f} MB/s, {size / done / 1024:.0f} KiB/page"
    )
    rendered = done / elapsed
    done, size, elapsed = again
    print(
        f"cached (the same pages again): {done / elapsed:.0f} pages/s, "
        f"{size / elapsed / 1e6:.1f} MB/s"
    )
    start = time.perf_counter()
    dataset = Dataset(messages=args.messages, chats=args.chats)
    build = time.perf_counter() - start
    megabytes = dataset.nbytes() / 1e6
    rows = [
        ("uncached 250-message pages/s", f"{rendered:,.0f}", ">= 1,000", rendered >= 1000),
        (f"dataset build, {args.messages:,} messages", f"{build:.2f} s", "<= 2 s", build <= 2),
        (
            f"dataset memory, {args.messages:,} messages",
            f"{megabytes:.1f} MB",
            "<= 64 MB",
            megabytes <= 64,
        ),
    ]
    print("\n| benchmark | measured | target | |\n|---|---|---|---|")
    for name, measured, target, ok in rows:
        print(f"| {name} | {measured} | {target} | {verdict(ok)} |")
    print("(load {:.2f} {:.2f} {:.2f})".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
