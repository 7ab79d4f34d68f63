"""``postpress chats get ID`` and ``postpress messages get ID``: one object to stdout."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from postpress_async import AsyncPostpress
from postpress_async.cli._parser import CommandTable, format_option
from postpress_async.models import Chat, Message

if TYPE_CHECKING:
    from postpress_async.cli._context import Context

__all__ = ["register", "run_chat", "run_message"]


def register(table: CommandTable) -> None:
    """``chats get`` and ``messages get``."""
    chat = table.add(
        "chats get",
        run_chat,
        "retrieve one chat with its last message",
        examples=(
            "postpress chats get chat_01HX",
            "postpress chats get 2-NTRkZDA4 --account-id acc_01HX   # a provider chat id",
        ),
    )
    chat.add_argument("id", metavar="ID", help="postpress chat id (or provider chat id)")
    chat.add_argument(
        "--account-id", metavar="ID", help="the account that resolves a provider chat id"
    )
    format_option(chat)
    message = table.add(
        "messages get",
        run_message,
        "retrieve one message",
        examples=("postpress messages get msg_01HX --format table",),
    )
    message.add_argument("id", metavar="ID", help="postpress message id")
    format_option(message)


async def run_chat(args: argparse.Namespace, ctx: Context) -> None:
    """``client.chats.retrieve(ID, account_id=...)``."""

    async def call(client: AsyncPostpress) -> Chat:
        return await client.chats.retrieve(args.id, account_id=args.account_id)

    await ctx.check(call)
    async with ctx.connect() as (client, _):
        ctx.writer("chats").write([await call(client)])


async def run_message(args: argparse.Namespace, ctx: Context) -> None:
    """``client.messages.retrieve(ID)``."""

    async def call(client: AsyncPostpress) -> Message:
        return await client.messages.retrieve(args.id)

    await ctx.check(call)
    async with ctx.connect() as (client, _):
        ctx.writer("messages").write([await call(client)])
