"""Riding out failures: an export of 50,000 messages with 10 % of requests failing.

Exports every message, 100 a page (JSON lines, as the CLI writes them), from a fake server in its
own process, once with no faults and once with 10 % of requests failing with a mix
of retryable faults (the five documented 503 types, 504 ``request_timeout``, 500
``provider_error``, 429 with ``Retry-After: 1``, an HTML 502 from a proxy and a
connection reset mid-body). Reports both wall times, the retries by type, and proves
that every message arrived exactly once (ids against the dataset's ground truth).

Run: ``nox -s bench`` or ``python benchmarks/bench_retry.py`` (about 30 s here).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import msgspec
from _fake import fake_server, verdict

from postpress_async import AsyncPostpress, RetryPolicy
from postpress_async._encoding import encode_json
from postpress_async.testing import Dataset


async def export(url: str, key: str, out: Path) -> tuple[float, dict[str, int], int]:
    start = time.perf_counter()
    policy = RetryPolicy(attempts=6, wait_initial=0.05, wait_max=1.0)
    async with AsyncPostpress(api_key=key, base_url=url, retry=policy) as client:
        with out.open("wb") as file:
            async for page in client.messages.list(limit=100, prefetch=1).pages():
                file.write(b"".join(encode_json(m) + b"\n" for m in page.items))
        stats = client.stats()
    return time.perf_counter() - start, stats.retries, stats.requests


def ids_in(path: Path) -> list[str]:
    decoder = msgspec.json.Decoder(dict)
    return [decoder.decode(line)["id"] for line in path.read_bytes().splitlines()]


async def main(messages: int, rate: float) -> int:
    expected = Dataset(messages=messages, chats=200).expected_message_ids()
    faults = [
        "--fault-rate",
        str(rate * 0.8),  # the eight JSON error types, evenly
        "--fault",
        f"bad_gateway_html={rate * 0.1}",
        "--fault",
        f"connection_reset={rate * 0.1}",
        "--fault-seed",
        "7",
    ]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("no faults", []), (f"{rate:.0%} failing", faults)):
            with fake_server("--messages", str(messages), *extra) as server:
                out = Path(tmp) / "export.jsonl"
                seconds, retries, requests = await export(server.url, server.api_key, out)
                ids = ids_in(out)
                exact = ids == expected
                results[name] = (seconds, retries, requests, exact)
                failed = sum(retries.values())  # every failed attempt was retried
                print(
                    f"{name}: {seconds:.2f}s, {requests} requests, {failed} failed and retried "
                    f"({failed / requests:.1%}), exactly once: {exact}",
                    flush=True,
                )
                for label, count in sorted(retries.items()):
                    print(f"    {label}: {count}")
    clean, faulty = results["no faults"], results[f"{rate:.0%} failing"]
    print(
        "\n| export of",
        f"{messages:,} messages | wall | requests | failed and retried | exactly once |",
    )
    print("|---|---|---|---|---|")
    for name, (seconds, retries, requests, exact) in results.items():
        failed = sum(retries.values())
        print(
            f"| {name} | {seconds:.2f}s | {requests} | {failed} ({failed / requests:.1%}) "
            f"| {verdict(exact)} |"
        )
    print(f"\nslowdown with faults: {faulty[0] / clean[0]:.2f}x")
    return 0 if clean[3] and faulty[3] and sum(faulty[1].values()) > 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=0.10)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.messages, args.rate)))
