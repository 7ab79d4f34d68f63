"""``postpress watch messages|chats``: print (or append) JSON lines as they arrive."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from postpress_async import AsyncPostpress, PollPolicy
from postpress_async._params import MAX_LIMIT
from postpress_async.cli._errors import UsageError
from postpress_async.cli._output import Resource
from postpress_async.cli._parser import (
    CommandTable,
    count,
    filter_options,
    filters_of,
    positive,
    seconds,
    time_option,
)
from postpress_async.cli._watching import WatchOptions, load_watch_file, run_watch

if TYPE_CHECKING:
    from postpress_async.cli._context import Context

__all__ = ["register", "run", "stopped_hint"]

_DESCRIPTION = """\
Poll for new {resource} and print each once, oldest first, as one JSON object a line.

To stdout delivery is at-least-once: after a crash (kill -9) between printing a batch and
saving --state, that batch is printed again on restart. With --out FILE --state STATE it
is exactly once: each batch is appended to FILE and fsynced before STATE (the position in
FILE and the watch state) is replaced atomically; a restart with the same command cuts
FILE back to what STATE vouches for and continues from there. Ctrl-C stops cleanly (exit
130) with STATE saved.
"""


def register(table: CommandTable) -> None:
    """``watch messages`` and ``watch chats``."""
    table.group("watch", "follow new messages or chat activity as it arrives")
    for resource in ("messages", "chats"):
        parser = table.add(
            f"watch {resource}",
            run,
            f"print new {resource} as they arrive"
            if resource == "messages"
            else "print chats as their activity moves",
            stopped=stopped_hint,
        )
        parser.description = _DESCRIPTION.format(resource=resource)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.set_defaults(resource=resource)
        filter_options(parser, resource, watched=True)
        _watch_options(parser)
        parser.set_defaults(format="json")


def _watch_options(parser: argparse.ArgumentParser) -> None:
    defaults = PollPolicy()
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="start after this moment (ISO 8601 with Z or an offset, or 'now': the default); "
        "ignored when --state already holds a position",
    )
    parser.add_argument(
        "--poll-interval",
        type=_interval,
        default=defaults.interval,
        metavar="S",
        help=f"seconds between polls while items arrive (default: {defaults.interval})",
    )
    parser.add_argument(
        "--max-interval",
        type=_interval,
        default=defaults.max_interval,
        metavar="S",
        help=f"idle polls back off up to this (default: {defaults.max_interval})",
    )
    parser.add_argument(
        "--overlap",
        type=seconds,
        default=defaults.overlap,
        metavar="S",
        help="re-scan this far behind the newest item, for items listed late "
        f"(default: {defaults.overlap})",
    )
    parser.add_argument("--limit", type=int, metavar="N", help=f"page size, 1..{MAX_LIMIT}")
    parser.add_argument("--max-items", type=positive, metavar="N", help="stop after N items")
    parser.add_argument("--out", metavar="FILE", help="append to FILE (needs --state)")
    parser.add_argument("--state", metavar="STATE", help="save the position here, resume from it")
    parser.add_argument(
        "--fake-live-rate",
        type=_interval,
        default=5.0,
        metavar="R",
        help="with --fake: new messages a second (default: 5)",
    )
    parser.add_argument(
        "--fake-late-ms",
        type=count,
        default=500,
        metavar="L",
        help="with --fake: a share of them is listed up to L ms late (default: 500)",
    )


def _interval(text: str) -> float:
    """A number > 0 (seconds, or messages a second)."""
    value = seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _options(args: argparse.Namespace, source: str) -> WatchOptions:
    if args.out is not None and args.state is None:
        raise UsageError("--out needs --state: the state is what makes the file exactly once")
    filters = filters_of(args, args.resource, watched=True)
    since: Any = None
    if args.since is not None and args.since != "now":
        since = time_option("since", args.since)
    elif args.since == "now":
        since = "now"
    policy = PollPolicy(
        interval=args.poll_interval,
        max_interval=max(args.max_interval, args.poll_interval),
        overlap=args.overlap,
    )
    return WatchOptions(
        resource=args.resource,
        filters={key: value for key, value in filters.items() if value is not None},
        source=source,
        since=since,
        policy=policy,
        limit=args.limit,
        out=None if args.out is None else Path(args.out),
        state=None if args.state is None else Path(args.state),
        max_items=args.max_items,
    )


async def run(args: argparse.Namespace, ctx: Context) -> None:
    """Watch until stopped (or ``--max-items``)."""
    options = _options(args, "validation")

    def call(client: AsyncPostpress) -> object:
        resource = client.messages if options.resource == "messages" else client.chats
        return resource.watch(**options.filters, policy=options.policy, limit=options.limit)

    await ctx.check(call)
    if args.fake:
        from postpress_async.testing import LiveFeed  # only --fake pays for the fake server

        args.fake_live = LiveFeed(
            rate=args.fake_live_rate, late_ms=args.fake_late_ms, seed=args.fake_seed
        )
    async with ctx.connect() as (client, source):
        options = _options(args, source)
        resource: Resource = "messages" if options.resource == "messages" else "chats"
        await run_watch(client, options, lambda: ctx.writer(resource), ctx.stderr)


def stopped_hint(args: argparse.Namespace, argv: Sequence[str], what: str) -> None:
    """After a stop: where the state is, and that the same command continues."""
    if args.state is None:
        return
    try:
        saved = load_watch_file(Path(args.state))
    except (UsageError, OSError):  # no hint is better than a traceback after the error
        return
    if saved is None:
        return
    where = f" ({saved.items:,} in {args.out})" if args.out else ""
    print(
        f"{what}; the position is saved in {args.state}{where}. Run the same command to continue.",
        file=sys.stderr,
    )
