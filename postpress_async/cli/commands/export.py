"""``postpress export messages|chats|accounts``: everything matching into one store, resumable.

Every form (``--out FILE``, ``--out DIR/``, ``--to sqlite:///...``, ``--to
postgresql://...``, ``--to duckdb:///...``) is one call of
:func:`postpress_async.ingest.ingest`: the store holds the rows with the positions
that cover them, so running the same command again continues where the last run
stopped (after Ctrl-C, ``kill -9`` or an error), and after a finished export it
fetches only what is new. ``--force`` starts over. ``--follow`` (messages and chats)
keeps going: after the backfill it polls for new items into the same store until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from postpress_async import PollPolicy
from postpress_async._filters import RESOURCES, TIMED, ResourceName
from postpress_async._params import MAX_LIMIT, MAX_SHARDS
from postpress_async._words import counted
from postpress_async.cli._errors import OutputError, UsageError
from postpress_async.cli._parser import CommandTable, filter_options, filters_of
from postpress_async.cli._progress import format_duration, format_rate
from postpress_async.cli._values import count, interval, positive, seconds
from postpress_async.cli.commands.list import list_call

if TYPE_CHECKING:
    from postpress_async.cli._context import Context
    from postpress_async.ingest import IngestResult
    from postpress_async.ingest._run import IngestProgress

__all__ = [
    "fake_live_options",
    "follow_options",
    "interval",
    "live_feed",
    "register",
    "run",
    "stopped_hint",
    "store_options",
    "summary",
]

_DESCRIPTION = """\
Export all the {resource} matching the filters into one store: a JSON lines file
(--out FILE), a directory of part files (--out DIR/), or a database (--to
sqlite:///m.db, --to postgresql://user@host/db, --to duckdb:///m.duckdb; an
absolute SQLite path has four slashes: sqlite:////var/data/m.db).

The store keeps the rows together with the position that covers them, committed
as one step. Run the same command again and it continues: after Ctrl-C (exit 130),
kill -9 or an error it resumes where the last commit ended, and after a finished
export it fetches only what is new; every item is stored once. --force starts over.
"""
#: The last line of the description of a resource that can be followed (messages, chats).
_FOLLOW = "--follow goes on polling for new {resource} into the same store until Ctrl-C.\n"

#: What each export's ``--help`` shows as examples.
_EXAMPLES: dict[str, tuple[str, ...]] = {
    "messages": (
        "postpress export messages --to sqlite:///messages.db   # again (cron): only what is new",
        "postpress export messages --out messages.jsonl --after 2026-05-01T00:00:00Z",
        "postpress export messages --to postgresql://etl@db/pp --follow --poll-interval 5",
        "postpress export messages --fake --to sqlite:///m.db   # no account needed",
    ),
    "chats": (
        "postpress export chats --account-type LINKEDIN --unread --out chats.jsonl",
        "postpress export chats --to duckdb:///chats.duckdb --follow",
    ),
    "accounts": ("postpress export accounts --to sqlite:///accounts.db",),
}


def register(table: CommandTable) -> None:
    """``export messages``, ``export chats`` and ``export accounts``."""
    for resource in RESOURCES:
        parser = table.add(
            f"export {resource}",
            run,
            f"export {resource} to JSON lines, SQLite, PostgreSQL or DuckDB; "
            "run again to continue or catch up",
            stopped=stopped_hint,
            examples=_EXAMPLES[resource],
        )
        described = _DESCRIPTION + (_FOLLOW if resource in TIMED else "")
        parser.description = described.format(resource=resource)
        parser.set_defaults(resource=resource)
        filter_options(parser, resource)
        store_options(parser, out_help="a JSON lines file, or DIR/ for one part file a shard")
        _paging_options(parser)
        _again_options(parser)
        _shard_options(parser, resource)
        if resource in TIMED:
            follow_options(parser, flag=True)
            fake_live_options(parser)
        _shown_options(parser)


def store_options(parser: argparse.ArgumentParser, *, out_help: str) -> None:
    """``--to URL`` and ``--out PATH``: the store."""
    parser.add_argument(
        "--to",
        metavar="URL",
        help="a database: sqlite:///m.db (absolute: sqlite:////abs/m.db), "
        "postgresql://user@host/db, duckdb:///m.duckdb; or a path as with --out",
    )
    parser.add_argument("--out", metavar="FILE|DIR/", help=out_help)


def _paging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit", type=int, metavar="N", help=f"page size, 1..{MAX_LIMIT} (default: {MAX_LIMIT})"
    )
    parser.add_argument(
        "--prefetch", type=count, default=2, metavar="N", help="pages fetched ahead (default: 2)"
    )
    parser.add_argument(
        "--max-items",
        type=count,
        metavar="N",
        help=argparse.SUPPRESS,  # refused with a reason: an export stores whole pages
    )


def _again_options(parser: argparse.ArgumentParser) -> None:
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="accepted for old scripts and does nothing: running the same command again "
        "always continues",
    )
    again.add_argument(
        "--force",
        action="store_true",
        help="start over: a new plan, every position forgotten (a file is rewritten)",
    )


def _shard_options(parser: argparse.ArgumentParser, resource: ResourceName) -> None:
    group = parser.add_argument_group("shards and engines (postpress_async.ingest)")
    group.add_argument(
        "--shards",
        type=positive,
        metavar="N",
        help="cut the export into N probed shards fetched at once, N at most "
        f"{MAX_SHARDS:,} (default: 1 for --out FILE, a plain stream; 8 otherwise)",
    )
    group.add_argument(
        "--by",
        choices=("auto", "time", "account"),
        help="how a new plan cuts: messages by time (auto), or one shard an account (large "
        "ones cut by time); a re-run keeps its stored plan",
    )
    if resource == "messages":
        group.add_argument(
            "--windows",
            type=positive,
            metavar="N",
            help="old name of --shards N --by time (kept for old scripts)",
        )
    group.add_argument(
        "--max-in-flight",
        type=positive,
        metavar="N",
        help="requests in flight at once, at most (default: the client's 16); with "
        "--engine dask, the budget of the whole cluster",
    )
    group.add_argument(
        "--engine",
        choices=("local", "dask"),
        help="run the shards in this process (local, default) or on Dask (the dask extra)",
    )
    group.add_argument(
        "--workers", type=positive, metavar="N", help="Dask worker processes (default: 2)"
    )
    group.add_argument(
        "--scheduler", metavar="ADDR", help="an existing Dask scheduler, e.g. tcp://host:8786"
    )


def follow_options(parser: argparse.ArgumentParser, *, flag: bool) -> None:
    """``--poll-interval``, ``--max-interval``, ``--overlap`` (and ``--follow`` if ``flag``)."""
    defaults = PollPolicy()
    group = parser.add_argument_group("following new items")
    if flag:
        group.add_argument(
            "--follow",
            action="store_true",
            help="after the backfill, keep polling for new items into the same store "
            "until Ctrl-C (exit 130, the position committed)",
        )
    group.add_argument(
        "--poll-interval",
        type=interval,
        metavar="S",
        help=f"seconds between polls while items arrive (default: {defaults.interval})",
    )
    group.add_argument(
        "--max-interval",
        type=interval,
        metavar="S",
        help=f"idle polls back off up to this (default: {defaults.max_interval})",
    )
    group.add_argument(
        "--overlap",
        type=seconds,
        metavar="S",
        help="re-scan this far behind the newest item, for items listed late "
        f"(default: {defaults.overlap})",
    )


#: The fake's live feed unless ``--fake-live-rate`` / ``--fake-late-ms`` say otherwise
#: (their parsers default to None, so that given without ``--fake`` they are refused).
_LIVE_RATE = 5.0
_LATE_MS = 500


def fake_live_options(parser: argparse.ArgumentParser) -> None:
    """``--fake-live-rate``, ``--fake-late-ms``: messages arriving at the fake, to follow."""
    parser.add_argument(
        "--fake-live-rate",
        type=interval,
        metavar="R",
        help=f"with --fake: new messages a second while it follows (default: {_LIVE_RATE:g})",
    )
    parser.add_argument(
        "--fake-late-ms",
        type=count,
        metavar="L",
        help=f"with --fake: a share of them is listed up to L ms late (default: {_LATE_MS})",
    )


def live_feed(args: argparse.Namespace) -> object:
    """The fake's live feed the ``--fake-live-*`` options describe."""
    from postpress_async.testing import LiveFeed  # only --fake pays for the fake server

    rate = _LIVE_RATE if args.fake_live_rate is None else args.fake_live_rate
    late_ms = _LATE_MS if args.fake_late_ms is None else args.fake_late_ms
    return LiveFeed(rate=rate, late_ms=late_ms, seed=args.fake_seed)


def _shown_options(parser: argparse.ArgumentParser) -> None:
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        help="show progress even when stderr is not a terminal (a log gets a whole line "
        "every 10 s, never a carriage return)",
    )
    shown.add_argument(
        "--quiet",
        dest="progress",
        action="store_const",
        const=False,
        help="no progress line and no summary",
    )


def _checked(args: argparse.Namespace, err: TextIO) -> tuple[int | None, str | None]:
    """Refuse what an export cannot do as asked; the ``--shards`` given (if any) and ``--by``."""
    if args.max_items is not None:
        raise UsageError(
            "--max-items cannot be honoured by an export: it stores whole pages, and running "
            "it again continues; narrow it with --after/--before, or print N items with "
            f"`postpress {args.resource} list --max-items N`"
        )
    shards: int | None = args.shards
    by: str | None = args.by
    windows: int | None = getattr(args, "windows", None)
    if windows is not None:
        if shards is not None:
            raise UsageError("--windows is the old name of --shards: give one of them")
        shards, by = windows, "time"
        print(
            f"note: --windows {windows} is now --shards {windows} --by time "
            "(shards of similar size, found by probing; --after/--before are optional)",
            file=err,
        )
    following = bool(getattr(args, "follow", False))
    if not following:
        for name in ("poll_interval", "max_interval", "overlap"):
            if getattr(args, name, None) is not None:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} does nothing without --follow")
    elif getattr(args, "before", None) is not None:
        raise UsageError(
            "--follow with --before: a window that ends has nothing new to follow; "
            "drop --before, or --follow"
        )
    return shards, by


async def run(args: argparse.Namespace, ctx: Context) -> None:
    """Export (then follow, with ``--follow``) into the store; a summary line on stderr."""
    from postpress_async.cli import _sync  # the ingest package: only when an export runs
    from postpress_async.ingest import ingest
    from postpress_async.ingest._run import IngestProgress

    resource: ResourceName = args.resource
    filters = filters_of(args, resource)
    shards, by = _checked(args, ctx.stderr)
    await ctx.check(list_call(resource, **filters, limit=args.limit, prefetch=args.prefetch))
    target = _sync.store_of(args)
    # A store that cannot be is exit 2 here, before anything starts.
    sink = _sync.open_store(target, force=args.force)
    engine = _sync.engine_of(args)
    if shards is None and _sync.is_one_file(sink):
        shards = 1  # a plain stream; elsewhere ingest's default (8) for a new plan
    following = bool(getattr(args, "follow", False))
    if following and args.fake:
        args.fake_live = live_feed(args)  # a fake whose messages arrive, to follow
    after, before = filters.pop("after", None), filters.pop("before", None)
    options: dict[str, Any] = {}
    if following:
        options["follow"] = True
        options["policy"] = _sync.policy_of(args)
    progress = IngestProgress(noun=resource)
    line = _sync.progress_line(args, ctx.stderr, progress.text)
    async with _sync.kept_if_used(args, sink, resource), ctx.connect() as (client, _):
        config = _sync.client_config(client, args)
        async with _sync.ticking(line):
            result = await ingest(
                config,
                resource,
                sink,
                shards=shards,
                by=by,  # type: ignore[arg-type]  # argparse's choices
                engine=engine,
                force=args.force,
                progress=progress,
                after=after,
                before=before,
                **options,
                **{key: value for key, value in filters.items() if value is not None},
            )
    if args.progress is not False:
        try:
            _sync.print_notes(ctx.stderr, sink, result.notes, force=True)
            print(summary(resource, result, progress), file=ctx.stderr, flush=True)
        except OSError as exc:  # 2>/dev/full: the export is done, its summary is lost
            raise OutputError(
                f"cannot write the summary to standard error ({exc.strerror or exc}); "
                f"the export itself finished: every item is stored in {result.url}"
            ) from None


def summary(resource: str, result: IngestResult, progress: IngestProgress) -> str:
    """``exported 250 new messages to sqlite:///m.db in 0.4 s (625/s; plan: 4 shards,
    complete); 0 rejects; 12 requests, 0 retries``."""
    stored, new = result.items, result.new
    one = resource.removesuffix("s")  # messages, chats, accounts
    if new is None:
        what = counted(stored, one)
    else:
        what = counted(new, f"new {one}") + (f" ({stored - new:,} updated)" if stored > new else "")
    shards = ""
    if result.plan is not None:
        shards = f"plan: {counted(len(result.plan.shards), 'shard')}, "
    state = "complete" if result.backfill_done else "not complete: run it again to continue"
    return (
        f"exported {what} to {result.url} in {format_duration(result.elapsed)} "
        f"({format_rate(stored, result.elapsed)}; {shards}{state}); "
        f"{counted(result.rejects, 'reject')}; {counted(progress.requests, 'request')}, "
        f"{counted(progress.retries, 'retry', 'retries')}"
    )


def stopped_hint(args: argparse.Namespace, argv: Sequence[str], what: str) -> bool:
    """After a stop: what is kept, and that the same command continues."""
    store = getattr(args, "to", None) or getattr(args, "out", None)
    if not store or getattr(args, "store_removed", False):  # nothing kept to continue from
        return False
    from postpress_async.ingest.sinks import shown_url

    store = shown_url(store)
    print(
        f"{what}; every page stored so far is kept in {store} with its position: run the "
        "same command again to continue (--force starts over)",
        file=sys.stderr,
    )
    return True
