"""``client.messages``: messages across all chats and accounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from postpress_async._decoding import UnreadableItem
from postpress_async._exceptions import InvalidParameterError, ResponseDecodeError
from postpress_async._fanout import MergedStream, merge
from postpress_async._filters import encode_filters
from postpress_async._pagination import ListStream
from postpress_async._params import path_segment
from postpress_async._poll import PollPolicy
from postpress_async._positions import Checkpoint, WatchState
from postpress_async._time import DateTimeParam, split_window, to_ms
from postpress_async._watch import WatchStream
from postpress_async.models import Message, MessageList

from ._base import Item, Resource, time_bounds

__all__ = ["Messages"]


class Messages(Resource[Item]):
    """``GET /messages`` and ``GET /messages/{message_id}``."""

    __slots__ = ()
    _name = "messages"
    _path = "/messages"

    def list(
        self,
        *,
        before: DateTimeParam | None = None,
        after: DateTimeParam | None = None,
        sender_id: str | None = None,
        account_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        resume: Checkpoint | None = None,
        prefetch: int | None = None,
        max_items: int | None = None,
    ) -> ListStream[Item]:
        """List messages, in the server's timestamp order.

        ``before``/``after``: an aware datetime or ISO 8601 string (strict bounds);
        ``sender_id``/``account_id`` filter by sender or linked account. The rest as in
        ``accounts.list``.
        """
        filters = encode_filters("messages", {"sender_id": sender_id, "account_id": account_id})
        after_at, after_text, before_text = time_bounds(after, before)
        query = {"before": before_text, "after": after_text, **filters}
        return self._list(
            "/messages",
            query,
            MessageList,
            limit=limit,
            cursor=cursor,
            resume=resume,
            prefetch=prefetch,
            max_items=max_items,
            follower=self._follower("messages", filters, after_at, _place, typed=True),
        )

    def watch(
        self,
        *,
        sender_id: str | None = None,
        account_id: str | None = None,
        since: DateTimeParam
        | WatchState
        | Checkpoint
        | ListStream[Message]
        | ListStream[Message | UnreadableItem]
        | Literal["now"] = "now",
        policy: PollPolicy | None = None,
        limit: int | None = None,
        max_items: int | None = None,
    ) -> WatchStream[Message]:
        """Follow new messages as they arrive: each is handed out once, oldest first.

        ``since``: ``"now"`` (what the server lists now, never the local clock), an aware
        datetime or ISO 8601 string
        (messages strictly after it), a saved ``stream.state``, or a finished
        ``list(...)`` stream or its checkpoint (continue a backfill with no gap and no
        duplicate). ``policy`` is a :class:`PollPolicy` (interval, idle back-off,
        overlap); ``limit`` the page size of each poll; ``max_items`` ends the stream after
        that many messages. ``sender_id``/``account_id``
        filter as in :meth:`list`; a saved state only resumes with the same filters.
        """
        return self._watch(
            "messages",
            "/messages",
            encode_filters(
                "messages", {"sender_id": sender_id, "account_id": account_id}, watched=True
            ),
            MessageList,
            _stamp,
            since=since,
            policy=policy,
            limit=limit,
            max_items=max_items,
            placed_by="timestamp",
        )

    def list_windows(
        self,
        *,
        after: DateTimeParam,
        before: DateTimeParam,
        windows: int = 8,
        sender_id: str | None = None,
        account_id: str | None = None,
        limit: int | None = None,
        prefetch: int | None = None,
        concurrency: int | None = None,
        resume: Sequence[Checkpoint] | None = None,
    ) -> MergedStream[Item]:
        """Every message in ``(after, before)``, fetched as ``windows`` concurrent streams.

        The range is cut into equal time windows (``windows``: 1 to 1,000) that cover it
        exactly once. Items of one window keep the server's order; windows interleave page
        by page as their pages arrive. For bulk export where order does not matter, this
        is the fast way.

        ``resume`` takes one checkpoint a window, as ``MergedStream.pages()`` reports them
        in ``SourcePage.checkpoint``, and continues each window from its own; call with
        the same range and ``windows`` as the run it resumes.
        """
        ranges = split_window(after, before, windows)
        given: object = resume  # typed a Sequence; a caller's may be anything
        if given is not None and (isinstance(given, str) or not isinstance(given, Sequence)):
            raise InvalidParameterError(
                "resume", f"must be a list of Checkpoint, one a window, got {type(resume).__name__}"
            )
        if resume is not None and len(resume) != len(ranges):
            raise InvalidParameterError(
                "resume", f"needs one checkpoint a window: {len(ranges)}, got {len(resume)}"
            )
        streams = [
            self.list(
                after=low,
                before=high,
                sender_id=sender_id,
                account_id=account_id,
                limit=limit,
                prefetch=prefetch,
                resume=None if resume is None else resume[index],
            )
            for index, (low, high) in enumerate(ranges)
        ]
        return merge(*streams, concurrency=concurrency)

    async def retrieve(self, message_id: str) -> Message:
        """Retrieve one message by its postpress id."""
        path = "/messages/" + path_segment("message_id", message_id)
        return await self._client.get(path, {}, Message, endpoint="GET /messages/{message_id}")


def _place(message: Message) -> tuple[int, str] | None:
    """Where a listing's message sits in time (one without a timestamp is left out)."""
    if message.timestamp is None:
        return None
    return to_ms(message.timestamp), message.id


def _stamp(message: Message) -> tuple[int, str]:
    """Where a watched message sits in time (one without a timestamp never gets here: the
    watch's reader sets it aside as an unreadable item, ``placed_by="timestamp"``)."""
    if message.timestamp is None:
        raise ResponseDecodeError(
            f"message {message.id!r} has no timestamp, so a watch cannot place it",
            endpoint="GET /messages",
            path="$.items[].timestamp",
        )
    return to_ms(message.timestamp), message.id
