"""``postpress accounts|chats|messages list``: a list endpoint, page by page, to stdout."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from postpress_async import AsyncPostpress, ListStream
from postpress_async.cli._output import Resource
from postpress_async.cli._parser import (
    CommandTable,
    filter_options,
    filters_of,
    format_option,
    paging_options,
)

if TYPE_CHECKING:
    from postpress_async.cli._context import Context

__all__ = ["list_call", "register", "run"]

_HELP: dict[Resource, str] = {
    "accounts": "list accounts",
    "chats": "list chats, most recent activity first",
    "messages": "list messages, newest first",
}


#: What each list's ``--help`` shows as examples.
_EXAMPLES: dict[Resource, tuple[str, ...]] = {
    "accounts": (
        "postpress accounts list --format table",
        "postpress --fake accounts list   # no account needed: an embedded fake server",
    ),
    "chats": (
        "postpress chats list --account-type LINKEDIN --unread --limit 50",
        "postpress chats list --after 2026-05-01T00:00:00Z --format table",
    ),
    "messages": (
        "postpress messages list --after 2026-05-01T00:00:00Z --max-items 10   # JSON lines",
        "postpress messages list --account-id acc_01HX --format table",
        "postpress --fake messages list --max-items 3   # no account needed",
    ),
}


def register(table: CommandTable) -> None:
    """``accounts list``, ``chats list``, ``messages list``."""
    for resource, help_text in _HELP.items():
        parser = table.add(f"{resource} list", run, help_text, examples=_EXAMPLES[resource])
        parser.set_defaults(resource=resource)
        filter_options(parser, resource)
        paging_options(parser)
        format_option(parser)


def list_call(resource: Resource, **kwargs: Any) -> Callable[[AsyncPostpress], ListStream[Any]]:
    """``lambda client: client.<resource>.list(**kwargs)``."""

    def call(client: AsyncPostpress) -> ListStream[Any]:
        lists: dict[Resource, Callable[..., ListStream[Any]]] = {
            "accounts": client.accounts.list,
            "chats": client.chats.list,
            "messages": client.messages.list,
        }
        return lists[resource](**kwargs)

    return call


async def run(args: argparse.Namespace, ctx: Context) -> None:
    """Write every item of the list, page by page."""
    resource: Resource = args.resource
    call = list_call(
        resource,
        **filters_of(args, resource),
        limit=args.limit,
        cursor=args.cursor,
        prefetch=args.prefetch,
        max_items=args.max_items,
    )
    await ctx.check(call)
    async with ctx.connect() as (client, _):
        writer = ctx.writer(resource)
        async with call(client) as stream:
            async for page in stream.pages():
                writer.write(page.items)
        writer.finish()
