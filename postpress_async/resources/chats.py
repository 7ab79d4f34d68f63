"""``client.chats``: chats visible to the connected accounts."""

from __future__ import annotations

from collections.abc import Sequence

from postpress_async._pagination import Checkpoint, ListStream
from postpress_async._params import (
    AccountTypeParam,
    encode_account_ids,
    encode_account_type,
    encode_bool,
    encode_id,
    path_segment,
)
from postpress_async._time import DateTimeParam, encode_datetime
from postpress_async.models import Chat, ChatList

from ._base import Resource

__all__ = ["Chats"]


class Chats(Resource):
    """``GET /chats`` and ``GET /chats/{chat_id}``."""

    __slots__ = ()

    def list(
        self,
        *,
        account_id: str | Sequence[str] | None = None,
        account_type: AccountTypeParam | None = None,
        unread: bool | None = None,
        before: DateTimeParam | None = None,
        after: DateTimeParam | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        resume: Checkpoint | None = None,
        prefetch: int | None = None,
        max_items: int | None = None,
    ) -> ListStream[Chat]:
        """List chats, newest activity first as the server orders them.

        ``account_id`` takes one id or a sequence (sent comma-joined); ``account_type``
        one of the seven providers; ``unread`` True/False; ``before``/``after`` an aware
        datetime or ISO 8601 string (strict bounds). The rest as in ``accounts.list``.
        """
        query = {
            "account_id": None
            if account_id is None
            else encode_account_ids("account_id", account_id),
            "account_type": None if account_type is None else encode_account_type(account_type),
            "unread": None if unread is None else encode_bool("unread", unread),
            "before": None if before is None else encode_datetime("before", before),
            "after": None if after is None else encode_datetime("after", after),
        }
        return self._list(
            "/chats",
            query,
            ChatList,
            limit=limit,
            cursor=cursor,
            resume=resume,
            prefetch=prefetch,
            max_items=max_items,
        )

    async def retrieve(self, chat_id: str, *, account_id: str | None = None) -> Chat:
        """Retrieve a chat with its last message.

        ``chat_id`` is a postpress chat id, or a provider chat id together with the
        ``account_id`` that should resolve it.
        """
        path = "/chats/" + path_segment("chat_id", chat_id)
        query = {"account_id": None if account_id is None else encode_id("account_id", account_id)}
        return await self._client.get(path, query, Chat, endpoint="GET /chats/{chat_id}")
