"""``postpress accounts|chats|messages list``: a list endpoint, page by page, to stdout."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from postpress_async import AsyncPostpress, ListStream, parse_datetime
from postpress_async.cli._output import Resource
from postpress_async.cli._parser import (
    CommandTable,
    chat_filters,
    format_option,
    message_filters,
    paging_options,
)

if TYPE_CHECKING:
    from postpress_async.cli._context import Context

__all__ = ["chat_filters_of", "list_call", "message_filters_of", "register", "run"]

_HELP: dict[Resource, str] = {
    "accounts": "list accounts",
    "chats": "list chats, most recent activity first",
    "messages": "list messages, newest first",
}


def register(table: CommandTable) -> None:
    """``accounts list``, ``chats list``, ``messages list``."""
    for resource, help_text in _HELP.items():
        parser = table.add(f"{resource} list", run, help_text)
        parser.set_defaults(resource=resource)
        if resource == "chats":
            chat_filters(parser)
        elif resource == "messages":
            message_filters(parser)
        paging_options(parser)
        format_option(parser)


def time_option(name: str, text: str | None) -> datetime | None:
    """``--after``/``--before``: as the SDK reads them, but a zone is required."""
    return None if text is None else parse_datetime(name, text, naive="refuse")


def chat_filters_of(args: argparse.Namespace) -> dict[str, Any]:
    """The ``chats.list`` filters the options ask for."""
    ids = args.account_id
    return {
        "account_id": None
        if ids is None
        else [part.strip() for value in ids for part in value.split(",")],
        "account_type": args.account_type,
        "unread": args.unread,
        "after": time_option("after", args.after),
        "before": time_option("before", args.before),
    }


def message_filters_of(args: argparse.Namespace) -> dict[str, Any]:
    """The ``messages.list`` filters the options ask for."""
    return {
        "account_id": args.account_id,
        "sender_id": args.sender_id,
        "after": time_option("after", args.after),
        "before": time_option("before", args.before),
    }


def filters_of(args: argparse.Namespace, resource: Resource) -> dict[str, Any]:
    """The filters of ``resource``'s list call."""
    if resource == "chats":
        return chat_filters_of(args)
    if resource == "messages":
        return message_filters_of(args)
    return {}


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
