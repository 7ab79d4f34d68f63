"""``postpress verify messages|chats|accounts``: does a store hold what the API lists?

Calls :func:`postpress_async.ingest.verify`: the ids the store holds are compared with
those the API lists (messages window by window over the span the store holds; chats
and accounts whole). It prints the counts and the first ids missing or extra, and
exits 0 only when they agree and the store's backfill is finished (1 otherwise). The store is only read: a verify may run
beside the export or follow that writes it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from postpress_async._filters import RESOURCES, ResourceName
from postpress_async.cli._errors import CommandError
from postpress_async.cli._parser import CommandTable, filter_options, filters_of
from postpress_async.cli._values import positive
from postpress_async.cli.commands.export import store_options
from postpress_async.cli.commands.list import list_call

if TYPE_CHECKING:
    from postpress_async.cli._context import Context

__all__ = ["register", "run"]


#: What each verify's ``--help`` shows as examples.
_EXAMPLES = {
    "messages": (
        "postpress verify messages --to sqlite:///messages.db",
        "postpress verify messages --to postgresql://etl@db/pp --sample 8   # 8 random windows",
    ),
    "chats": ("postpress verify chats --out chats.jsonl",),
    "accounts": ("postpress verify accounts --to sqlite:///accounts.db",),
}


def register(table: CommandTable) -> None:
    """``verify messages``, ``verify chats`` and ``verify accounts``."""
    table.group("verify", "compare a store with what the API lists")
    for resource in RESOURCES:
        parser = table.add(
            f"verify {resource}",
            run,
            f"compare the {resource} a store holds with what the API lists "
            "(exit 0 only when they agree and the backfill is finished)",
            examples=_EXAMPLES[resource],
        )
        parser.set_defaults(resource=resource)
        store_options(parser, out_help="a JSON lines file, or DIR/ of part files")
        parser.add_argument(
            "--state",
            metavar="STATE",
            help="with --out FILE: its sidecar, where `watch --out FILE --state STATE` keeps "
            "it (default FILE.checkpoint)",
        )
        if resource == "messages":  # chats and accounts are compared whole
            parser.add_argument(
                "--sample",
                type=positive,
                metavar="N",
                help="compare N time windows picked at random, not all",
            )
        filter_options(parser, resource, times=False)


async def run(args: argparse.Namespace, ctx: Context) -> None:
    """Compare, print the report; a difference is exit 1."""
    from postpress_async.cli import _sync
    from postpress_async.ingest import verify

    resource: ResourceName = args.resource
    filters = {
        key: value
        for key, value in filters_of(args, resource, times=False).items()
        if value is not None
    }
    await ctx.check(list_call(resource, **filters))
    # exit 2 before any start; a store that is not there is refused when verify opens it
    sink = _sync.open_store(_sync.store_of(args), state=args.state)
    async with ctx.connect() as (client, _):
        report = await verify(
            _sync.client_config(client, args),
            resource,
            sink,
            sample=getattr(args, "sample", None),
            **filters,
        )
    print(f"{report.text()} ({report.url})", flush=True)
    if not report.ok:
        twice = f", {report.repeated:,} stored twice" if report.repeated else ""
        raise CommandError(
            f"{report.url} and the API differ ({report.missing:,} missing, {report.extra:,} "
            f"extra{twice}): the same export run again stores what is new since its last run; "
            "rows lost from inside the store come back with --force (everything again)"
        )
