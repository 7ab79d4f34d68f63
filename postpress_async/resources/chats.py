"""``client.chats``: chats visible to the connected accounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from postpress_async._decoding import UnreadableItem
from postpress_async._filters import encode_filters
from postpress_async._pagination import ListStream
from postpress_async._params import (
    AccountTypeParam,
    encode_id,
    path_segment,
)
from postpress_async._poll import PollPolicy
from postpress_async._positions import Checkpoint, WatchState
from postpress_async._time import DateTimeParam, to_ms
from postpress_async._watch import WatchStream
from postpress_async.models import Chat, ChatList

from ._base import Item, Resource, time_bounds

__all__ = ["Chats"]


class Chats(Resource[Item]):
    """``GET /chats`` and ``GET /chats/{chat_id}``."""

    __slots__ = ()
    _name = "chats"
    _path = "/chats"

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
    ) -> ListStream[Item]:
        """List chats, newest activity first as the server orders them.

        ``account_id`` takes one id or a sequence (sent comma-joined); ``account_type``
        one of the seven providers; ``unread`` True/False; ``before``/``after`` an aware
        datetime or ISO 8601 string (strict bounds). The rest as in ``accounts.list``.

        What ``before``/``after`` bound, the API docs leave contradictory: they say the
        chats' creation, which a Chat does not show; the SDK reads them as bounding the
        last activity (``timestamp``) unless the client says ``chat_time="created"``. The
        bounds are sent as given either way; the reading matters to what follows chats
        (``watch``, a watch continuing this listing, ingest's catch-up and follow).
        """
        filters = encode_filters(
            "chats", {"account_id": account_id, "account_type": account_type, "unread": unread}
        )
        after_at, after_text, before_text = time_bounds(after, before)
        query = {**filters, "before": before_text, "after": after_text}
        return self._list(
            "/chats",
            query,
            ChatList,
            limit=limit,
            cursor=cursor,
            resume=resume,
            prefetch=prefetch,
            max_items=max_items,
            follower=self._follower("chats", filters, after_at, _stamp, typed=True),
        )

    def watch(
        self,
        *,
        account_id: str | Sequence[str] | None = None,
        account_type: AccountTypeParam | None = None,
        since: DateTimeParam
        | WatchState
        | Checkpoint
        | ListStream[Chat]
        | ListStream[Chat | UnreadableItem]
        | Literal["now"] = "now",
        policy: PollPolicy | None = None,
        limit: int | None = None,
        max_items: int | None = None,
    ) -> WatchStream[Chat]:
        """Follow chats whose last activity (``timestamp``) moves: one item a new activity.

        A chat is handed out each time its ``timestamp`` moves past what was handed out
        (a new message in it), oldest activity first. It cannot see changes that leave
        the timestamp alone (a chat read, archived, muted or renamed; ``unread_count``
        changes without a new message) nor chats without any activity (``timestamp:
        null``). ``since``, ``policy``, ``limit`` and ``max_items`` as in ``messages.watch``.

        How it finds them depends on the client's ``chat_time`` (what ``GET /chats``'
        ``after`` bounds; the API docs contradict themselves). ``"activity"`` (default):
        each poll lists ``after=`` the last activity handed out, less the overlap.
        ``"created"``: such a bound would only find new chats, so each poll lists every
        chat of the filters, with no time bound, and hands out those whose ``(id,
        timestamp)`` is new. That costs a listing of every chat of the filters a poll, and
        the ids of the chats active within the overlap; of a poll's news the oldest
        :attr:`~WatchStream.cap` are handed out (at most twice that held while listing),
        a larger backlog costing one more whole listing a ``cap``.
        """
        return self._watch(
            "chats",
            "/chats",
            encode_filters(
                "chats", {"account_id": account_id, "account_type": account_type}, watched=True
            ),
            ChatList,
            _stamp,
            since=since,
            policy=policy,
            limit=limit,
            max_items=max_items,
            timed=self._client.chat_time == "activity",
        )

    async def retrieve(self, chat_id: str, *, account_id: str | None = None) -> Chat:
        """Retrieve a chat with its last message.

        ``chat_id`` is a postpress chat id, or a provider chat id together with the
        ``account_id`` that should resolve it.
        """
        path = "/chats/" + path_segment("chat_id", chat_id)
        query = {"account_id": None if account_id is None else encode_id("account_id", account_id)}
        return await self._client.get(path, query, Chat, endpoint="GET /chats/{chat_id}")


def _stamp(chat: Chat) -> tuple[int, str] | None:
    if chat.timestamp is None:  # no activity: nothing a watch of activity can report
        return None
    at = to_ms(chat.timestamp)
    return at, f"{chat.id}@{at}"
