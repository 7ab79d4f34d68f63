"""``postpress export messages|chats --out FILE``: everything matching, to JSON lines, resumable."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from postpress_async.cli._checkpoint import checkpoint_path, load_state
from postpress_async.cli._errors import UsageError
from postpress_async.cli._export import ExportOptions, run_export
from postpress_async.cli._parser import (
    CommandTable,
    chat_filters,
    message_filters,
    paging_options,
    positive,
)
from postpress_async.cli.commands.list import filters_of, list_call

if TYPE_CHECKING:
    from postpress_async.cli._context import Context

__all__ = ["register", "resume_hint", "run", "without_key"]


def register(table: CommandTable) -> None:
    """``export messages`` and ``export chats``."""
    for resource, filters in (("messages", message_filters), ("chats", chat_filters)):
        parser = table.add(
            f"export {resource}",
            run,
            f"export {resource} to a JSON lines file",
            stopped=resume_hint,
        )
        parser.set_defaults(resource=resource)
        filters(parser)
        paging_options(parser, cursor=False, prefetch=4)
        _export_options(parser)
        if resource == "messages":
            parser.add_argument(
                "--windows",
                type=positive,
                metavar="N",
                help="fetch (--after, --before) as N time windows at once (needs both)",
            )


def _export_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="FILE", help="the JSON lines file")
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


async def run(args: argparse.Namespace, ctx: Context) -> None:
    """Export to ``--out``; see :mod:`.._export`."""
    filters = filters_of(args, args.resource)
    paging = {"limit": args.limit, "prefetch": args.prefetch, "max_items": args.max_items}
    await ctx.check(list_call(args.resource, **filters, **paging))
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
