"""``postpress export messages|chats|accounts``: everything matching, resumable.

``--out FILE`` alone is the single-stream export (:mod:`.._export`); ``--to URL``,
``--out DIR/``, ``--shards``, ``--engine``... run a sharded export through
``postpress_async.ingest`` (:mod:`.._ingest`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from postpress_async.cli._checkpoint import checkpoint_path, load_state
from postpress_async.cli._errors import UsageError
from postpress_async.cli._parser import (
    CommandTable,
    filter_options,
    filters_of,
    paging_options,
    positive,
)
from postpress_async.cli.commands.list import list_call

if TYPE_CHECKING:
    from postpress_async.cli._context import Context

__all__ = ["register", "resume_hint", "run", "without_key"]


def register(table: CommandTable) -> None:
    """``export messages``, ``export chats`` and ``export accounts``."""
    for resource in ("messages", "chats", "accounts"):
        parser = table.add(
            f"export {resource}",
            run,
            f"export {resource} to JSON lines, SQLite or PostgreSQL",
            stopped=resume_hint,
        )
        parser.set_defaults(resource=resource)
        filter_options(parser, resource)
        paging_options(parser, cursor=False, prefetch=4)
        _export_options(parser)
        _shard_options(parser)
        if resource == "messages":
            parser.add_argument(
                "--windows",
                type=positive,
                metavar="N",
                help="fetch (--after, --before) as N time windows at once (needs both)",
            )


def _export_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", metavar="FILE|DIR/", help="a JSON lines file, or DIR/ for one part file a shard"
    )
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="continue an interrupted export of FILE"
    )
    again.add_argument(
        "--force", action="store_true", help="overwrite FILE and start from the beginning"
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        help="show the progress line even when stderr is not a terminal",
    )
    shown.add_argument(
        "--quiet",
        dest="progress",
        action="store_const",
        const=False,
        help="no progress line and no summary",
    )


def _shard_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sharded export (postpress_async.ingest)")
    group.add_argument(
        "--to",
        metavar="URL",
        help="store rows and checkpoints in sqlite:///path.db or postgresql://user@host/db",
    )
    group.add_argument(
        "--shards",
        type=positive,
        metavar="N",
        help="cut the export into N probed shards (default: 8)",
    )
    group.add_argument(
        "--by",
        choices=("auto", "time", "account"),
        default="auto",
        help="messages: cut by time (auto) or one shard an account, large ones cut by time",
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


def sharded(args: argparse.Namespace) -> bool:
    """Whether the command asks for a sharded export (anything beyond ``--out FILE``)."""
    out: str | None = args.out
    return bool(
        args.to
        or args.shards
        or args.engine
        or args.workers
        or args.scheduler
        or args.resource == "accounts"
        or (out is not None and (out.endswith("/") or Path(out).is_dir()))
    )


async def _run_sharded(args: argparse.Namespace, ctx: Context, filters: dict[str, object]) -> None:
    from postpress_async.cli._ingest import IngestOptions, run_ingest

    if args.to and args.out:
        raise UsageError("give --to URL or --out FILE|DIR/, not both")
    target = args.to or args.out
    if not target:
        raise UsageError(
            "say where to export: --to sqlite:///FILE.db, --to postgresql://..., or --out"
        )
    if args.max_items is not None or getattr(args, "windows", None) is not None:
        raise UsageError(
            "--max-items and --windows belong to the single-stream export: use --shards"
        )
    if args.engine != "dask" and (args.workers or args.scheduler):
        raise UsageError("--workers and --scheduler need --engine dask")
    if args.workers and args.scheduler:
        raise UsageError("--workers starts a local Dask cluster; --scheduler uses an existing one")
    options = IngestOptions(
        resource=args.resource,
        to=target,
        filters=filters,
        shards=args.shards or 8,
        by=args.by,
        engine=args.engine or "local",
        workers=args.workers or 2,
        scheduler=args.scheduler,
        limit=args.limit,
        prefetch=args.prefetch,
        force=args.force,
        progress=args.progress,
    )
    async with ctx.connect() as (client, _source):
        await run_ingest(client, options, ctx.stderr)


async def run(args: argparse.Namespace, ctx: Context) -> None:
    """Export to ``--out`` (one stream) or, sharded, to ``--to``/``--out DIR/``."""
    filters = filters_of(args, args.resource)
    paging = {"limit": args.limit, "prefetch": args.prefetch, "max_items": args.max_items}
    await ctx.check(list_call(args.resource, **filters, **paging))
    if sharded(args):
        await _run_sharded(args, ctx, filters)
        return
    if args.out is None:
        raise UsageError("say where to export: --out FILE, --out DIR/, or --to URL")
    # The export engine (and asyncio/anyio with it) loads only when an export runs,
    # not for `postpress --help`.
    from postpress_async.cli._export import ExportOptions, run_export

    async with ctx.connect() as (client, source):
        options = ExportOptions(
            resource=args.resource,
            out=Path(args.out),
            filters=filters,
            source=source,
            windows=getattr(args, "windows", None),
            resume=args.resume,
            force=args.force,
            progress=args.progress,
            **paging,
        )
        await run_export(client, options, ctx.stderr)


def resume_hint(args: argparse.Namespace, argv: Sequence[str], what: str) -> None:
    """After a stop: how many items are saved, and the command that continues the export."""
    if sharded(args):
        print(
            f"{what}; every page stored so far is kept with its shard's checkpoint: "
            "run the same command again to continue (--force starts over)",
            file=sys.stderr,
        )
        return
    out = Path(args.out)
    try:
        state = load_state(checkpoint_path(out))
    except (UsageError, OSError):  # no hint is better than a traceback after the error
        return
    if state is None or state.done:
        return
    kept, had_key = without_key([arg for arg in argv if arg not in {"--force", "--resume"}])
    command = shlex.join(["postpress", *kept, "--resume"])
    key = (
        "\n(the API key is not repeated here: set POSTPRESS_API_KEY or add --api-key again)"
        if had_key
        else ""
    )
    print(
        f"{what} with {state.items:,} {args.resource} saved in {out}; "
        f"the checkpoint is kept. Continue with:\n  {command}{key}",
        file=sys.stderr,
    )


def without_key(argv: Sequence[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--api-key K`` / ``--api-key=K``, and whether it had one."""
    kept: list[str] = []
    had_key = skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--api-key":
            had_key = skip = True
        elif arg.startswith("--api-key="):
            had_key = True
        else:
            kept.append(arg)
    return kept, had_key
