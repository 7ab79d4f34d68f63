"""Topping up a backfill's open shards before its follow position is derived.

A plan cut by account has one open-ended shard an account (a large account's newest
window): each lists its own accounts up to where its listing ended, and the shards end
at different moments. A message of an account whose shard had ended while the others
still ran (a long backfill, a run killed then run again) is newer than what that shard
stored, yet may be older than the newest message of the other accounts by more than the
follow's overlap: the follow position merged from the shards (:func:`~._sync.merge_follow`,
whose floor trails the newest message of all) would never list it.

So, once every shard is done and before the follow position is derived, each open-ended
shard lists its own filters again from where its listing ended (its checkpoint's
``follow`` state, the same exactly-once rule as a follow) until caught up, committing what
it finds with the shard's checkpoint moved (a kill here loses nothing: the next run tops
up from the moved checkpoints). The shards are topped up at once (:data:`AT_ONCE` at a
time, each holding a watch's few pages), so they end within a few requests of each other,
far less than the overlap. A plan with one open-ended shard
(cut by time: only its newest window is open) needs none: its follow continues it.

Chats are cut by account groups, and found by their last activity: a chat of a group
whose shard had ended that moved (or was created) meanwhile is found the same way; its
shard's state knows chats by id, read by ``id@time`` as the chats' follow does (see
:mod:`._sync`, and there ``chat_time="created"``, which lists the group's every chat).
"""

from __future__ import annotations

import random
from typing import Final

import anyio
import msgspec

from postpress_async._client import AsyncPostpress
from postpress_async._filters import WATCHED
from postpress_async._poll import PollPolicy, WatchKind, start_state
from postpress_async._positions import Checkpoint, WatchState, filters_fingerprint
from postpress_async._rows import Row, row_stamp
from postpress_async._tasks import gather
from postpress_async._watch import WatchStream

from ._commit import Committer
from ._lister import follow_stamp, lister
from ._run import IngestProgress
from ._shards import Shard, ShardPlan
from ._sync import Counter, Pace, SyncResult, chat_keys
from .sinks._base import Sink, Stored, shard_checkpoint

__all__ = ["AT_ONCE", "open_shards", "top_up"]

#: Shards topped up at once: each lists like a watch, holding up to its few pages.
AT_ONCE: Final = 32


def open_shards(plan: ShardPlan, positions: dict[str, Stored]) -> list[tuple[Shard, Stored]]:
    """The shards to top up: ``plan``'s open-ended shards with a stored follow state, when
    it has more than one (messages and chats)."""
    if plan.endpoint not in WATCHED:
        return []
    shards = [shard for shard in plan.shards if shard.window.before is None]
    if len(shards) < 2:
        return []
    found = []
    for shard in shards:
        stored = positions.get(shard.label)
        if stored is not None and shard_checkpoint(stored).follow is not None:
            found.append((shard, stored))
    return found


async def top_up(
    client: AsyncPostpress,
    sink: Sink,
    shards: list[tuple[Shard, Stored]],
    *,
    policy: PollPolicy,
    limit: int,
    progress: IngestProgress | None = None,
    max_pages: int = 16,
) -> SyncResult:
    """List each of ``shards`` (from :func:`open_shards`) from where it ended until caught
    up, into ``sink``, moving its checkpoint; what was stored."""
    result = SyncResult()
    if not shards:
        return result
    endpoint = shards[0][0].endpoint
    counter = Counter(result, progress, client)
    limiter = anyio.CapacityLimiter(AT_ONCE)
    try:
        async with Committer(sink, endpoint, on_commit=counter, max_pages=max_pages) as committer:
            await gather(
                [
                    lambda shard=shard, stored=stored: _list_again(  # type: ignore[misc]
                        client,
                        sink,
                        committer,
                        shard,
                        stored,
                        policy=policy,
                        limit=limit,
                        limiter=limiter,
                    )
                    for shard, stored in shards
                ]
            )
    finally:
        counter.retried()
    return result


async def _list_again(
    client: AsyncPostpress,
    sink: Sink,
    committer: Committer,
    shard: Shard,
    stored: Stored,
    *,
    policy: PollPolicy,
    limit: int,
    limiter: anyio.CapacityLimiter,
) -> None:
    """List ``shard`` again from where it ended until caught up (``limiter``: the shards
    listing at once)."""
    endpoint: WatchKind = "chats" if shard.endpoint == "chats" else "messages"
    checkpoint = shard_checkpoint(stored)
    start = start_state(
        checkpoint, kind=endpoint, fingerprint=filters_fingerprint(endpoint, shard.filters)
    )
    timed = endpoint != "chats" or client.chat_time == "activity"
    if endpoint == "chats":
        start = chat_keys(start)

    def encode(state: WatchState) -> bytes:
        moved: Checkpoint = msgspec.structs.replace(checkpoint, follow=state)
        return msgspec.json.encode(moved)

    pace = Pace(
        committer,
        stored.position,
        follow=False,
        limit=limit,
        sleep=anyio.sleep,
        progress=None,
        name=shard.label,
        encode=encode,
    )
    base = row_stamp(endpoint, sink.columns)
    stream: WatchStream[Row] = WatchStream(
        lister(
            client,
            endpoint,
            shard.filters,
            columns=sink.columns,
            limit=limit,
            after=None if timed else shard.window.after,
            timed=timed,
        ),
        follow_stamp(endpoint, base),
        start,
        policy=policy,
        limit=limit,
        sleep=pace.between_polls,
        random=random.random,
        timed=timed,
    )
    async with limiter:
        await pace.drain(stream)
