"""``python -m postpress_async.testing``: serve a fake postpress API until Ctrl-C.

Prints one readiness line, flushed, once the port is bound::

    postpress fake server listening on http://127.0.0.1:8080/api/v1 (api key: pp_test_key)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from postpress_async.testing._dataset import Dataset
from postpress_async.testing._faults import FaultKind, Faults, fault_kind, retryable_rates
from postpress_async.testing._live import LiveFeed
from postpress_async.testing._server import DEFAULT_API_KEY, FakePostpress

READY_PREFIX = "postpress fake server listening on "
TRUTH_HELP = """\
ground truth (to check a sync against this server from another process):
  GET http://HOST:PORT/_fake/truth/{messages|chats|accounts}, with the X-API-KEY header
  and the list endpoint's filters (messages: after, before, account_id, sender_id;
  chats: account_id (a comma list), account_type, unread, after, before), answers
    {"object": "Truth", "resource": "messages", "count": N, "ids": [...],
     "repaired": [...], "nul": [...], "unreadable": [{"position", "index", "id",
     "kind", "raw"}, ...]}
  the ids a complete listing returns right now, in listing order (late live messages
  once listed; with --bad-records: readable items in "ids", those whose lone surrogates
  become U+FFFD in "repaired", those with a NUL in "nul", the rest in "unreadable").
  It is outside /api/v1 and /v1, never delayed, faulted or counted in the stats.
"""


def _fault_option(text: str) -> tuple[FaultKind, float]:
    name, sep, rate = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("expected KIND=RATE, e.g. service_unavailable=0.1")
    try:
        return fault_kind(name), float(rate)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The command line of the standalone fake server."""
    parser = argparse.ArgumentParser(
        prog="python -m postpress_async.testing",
        description="Serve a deterministic fake postpress API on 127.0.0.1.",
        epilog=TRUTH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--accounts", type=int, default=14)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--quirks", action="store_true", help="serve the real API's oddities")
    parser.add_argument("--hostile-ids", action="store_true", help="ids needing URL escaping")
    parser.add_argument(
        "--bad-records",
        action="store_true",
        help="serve 7 messages with the real API's bad bytes (lone surrogates, a NUL, a number "
        "for timestamp or id, null and a string for an object) at fixed places: at N/8, "
        "N/8+2, N/2-1, N/2, 7N/8, 7N/8+2, 7N/8+4 of N messages (at least 40)",
    )
    parser.add_argument(
        "--chat-time",
        choices=("activity", "created"),
        default="activity",
        help="what GET /chats' before/after filter by: last activity (default) or a creation "
        "time the chats do not show",
    )
    parser.add_argument(
        "--cursors",
        choices=("keyset", "offset"),
        default="keyset",
        help="what a list cursor holds: the last item returned (default) or a count of items "
        'to skip, {"skip": N}, so arrivals between two pages repeat an item',
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--jitter", type=float, default=0.0, help="+/- seconds of latency")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="probability of a retryable JSON error (503/504/500/429), spread evenly",
    )
    parser.add_argument(
        "--fault",
        type=_fault_option,
        action="append",
        default=[],
        metavar="KIND=RATE",
        help=f"rate of one fault; kinds: {', '.join(k.value for k in FaultKind)}",
    )
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument(
        "--live-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="new messages a second while serving (current timestamps; 0: none)",
    )
    parser.add_argument(
        "--late-ms",
        type=int,
        default=0,
        metavar="L",
        help="a share of the new messages is listed up to L ms after its timestamp",
    )
    parser.add_argument(
        "--live-burst", type=int, default=3, help="up to this many new messages in one millisecond"
    )
    parser.add_argument(
        "--live-for",
        type=float,
        default=None,
        metavar="S",
        help="stop the feed after S seconds (default: while serving)",
    )
    parser.add_argument(
        "--clock-skew",
        type=float,
        default=0.0,
        metavar="S",
        help="the server's clock runs S seconds ahead of the real one (negative: behind); "
        "it stamps the live feed's messages and dates every response",
    )
    parser.add_argument(
        "--page-cache-mb",
        type=float,
        default=16.0,
        help="memory for rendered pages; make it hold a whole walk to serve it from memory",
    )
    return parser


def live_from_args(args: argparse.Namespace) -> LiveFeed | None:
    """The :class:`LiveFeed` the command line asks for, or ``None``."""
    if not args.live_rate:
        return None
    return LiveFeed(
        rate=args.live_rate,
        burst=args.live_burst,
        late_ms=args.late_ms,
        live_for=args.live_for,
        seed=args.seed,
    )


def faults_from_args(args: argparse.Namespace) -> Faults:
    """The :class:`Faults` the command line asks for."""
    rates = retryable_rates(args.fault_rate)
    for kind, rate in args.fault:
        rates[kind] = rates.get(kind, 0.0) + rate
    return Faults(latency=args.latency, jitter=args.jitter, rates=rates, seed=args.fault_seed)


def server_from_args(args: argparse.Namespace) -> FakePostpress:
    """The :class:`FakePostpress` (not started) the command line asks for."""
    dataset = Dataset(
        seed=args.seed,
        accounts=args.accounts,
        chats=args.chats,
        messages=args.messages,
        hostile_ids=args.hostile_ids,
        quirks=args.quirks,
        bad_records=args.bad_records,
        chat_time=args.chat_time,
        cursors=args.cursors,
    )
    return FakePostpress(
        dataset=dataset,
        faults=faults_from_args(args),
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        page_cache_bytes=int(args.page_cache_mb * 1024 * 1024),
        live=live_from_args(args),
        clock_skew=args.clock_skew,
    )


async def serve(server: FakePostpress) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):  # pragma: no cover - Windows
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"{READY_PREFIX}{server.url} (api key: {server.api_key})", flush=True)
        await stop.wait()
    stats = server.stats
    print(f"served {stats.requests} requests, {stats.bytes_sent} body bytes", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m postpress_async.testing``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port: must be 0..65535, got {args.port}")
    try:  # a value the dataset, faults or feed refuse: one line, exit 2
        server = server_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        with contextlib.suppress(KeyboardInterrupt):  # the signal handler normally wins
            asyncio.run(serve(server))
    except OSError as exc:  # the address is taken, or the host does not resolve
        reason = exc.strerror or str(exc)
        print(
            f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {reason}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
