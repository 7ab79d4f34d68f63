"""Watch streams: follow a list endpoint as new items arrive, exactly once.

A watch polls ``list(after=floor)`` and hands out what it had not handed out before,
oldest first; the state it keeps, and the decisions about what is new and what to
forget, are :mod:`._follow`'s (the invariant is drawn there). This module holds the
policy value (:class:`PollPolicy`), where a watch starts (:func:`start_state`) and the
stream that runs the polls (:class:`WatchStream`).

``WatchState`` is the one token a caller stores (in the manner of Gmail's ``historyId``
or a Graph ``deltaLink``); ``watch(since=state)`` continues with nothing lost or repeated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random as _random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

import anyio

from ._config import _positive, _replace
from ._exceptions import InvalidParameterError, StateMismatchError
from ._follow import DEFAULT_OVERLAP, Entry, FollowTracker, Stamp, fresh
from ._params import check_int
from ._positions import STATE_VERSION, Checkpoint, WatchState
from ._tasks import AsyncClosing
from ._time import from_ms, parse_datetime, to_ms

if TYPE_CHECKING:
    from ._pagination import ListStream

__all__ = [
    "ListAfter",
    "PollPolicy",
    "WatchKind",
    "WatchStream",
    "poll_delay",
    "start_state",
]

T = TypeVar("T")
WatchKind = Literal["messages", "chats"]


# -- the policy value ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PollPolicy:
    """How a watch polls, in seconds.

    * ``interval``: the wait between polls while items keep arriving;
    * ``jitter``: each wait is scaled by ``uniform(1 - jitter, 1 + jitter)`` (0..1), so
      many watchers do not poll in step;
    * ``idle_backoff``: after each poll that found nothing the wait is multiplied by this
      (1 keeps it constant), up to ``max_interval``; a poll that finds something returns
      to ``interval``;
    * ``overlap``: how far behind the watermark each poll re-scans, to catch items the
      server lists late. An item listed more than ``overlap`` after a newer one was
      handed out is missed; a larger overlap costs re-listing that window every poll.
    """

    interval: float = 2.0
    jitter: float = 0.1
    idle_backoff: float = 2.0
    max_interval: float = 30.0
    overlap: float = DEFAULT_OVERLAP

    def __post_init__(self) -> None:
        for field in ("interval", "jitter", "idle_backoff", "max_interval", "overlap"):
            _positive(f"policy.{field}", getattr(self, field), allow_none=False)
        if self.interval == 0:
            raise InvalidParameterError("policy.interval", "must be > 0 seconds")
        if self.jitter >= 1:
            raise InvalidParameterError("policy.jitter", f"must be < 1, got {self.jitter!r}")
        if self.idle_backoff < 1:
            raise InvalidParameterError(
                "policy.idle_backoff", f"must be >= 1 (1: no back-off), got {self.idle_backoff!r}"
            )
        if self.max_interval < self.interval:
            raise InvalidParameterError(
                "policy.max_interval",
                f"must be >= interval ({self.interval!r}), got {self.max_interval!r}",
            )

    def replace(self, **changes: float) -> PollPolicy:
        """Return a copy with the given fields changed (checked like the constructor)."""
        return _replace(self, "policy", changes)

    @property
    def overlap_ms(self) -> int:
        """``overlap`` in whole milliseconds (rounded up)."""
        return math.ceil(self.overlap * 1000)


def poll_delay(policy: PollPolicy, idle_polls: int, random: Callable[[], float]) -> float:
    """Seconds to wait before the next poll, after ``idle_polls`` polls in a row found nothing.

    ``interval`` after a poll that found something and after the first idle one, then
    ``interval * idle_backoff ** (idle_polls - 1)`` up to ``max_interval``, jittered.
    """
    base = policy.interval * policy.idle_backoff ** min(max(0, idle_polls - 1), 64)
    base = min(policy.max_interval, base)
    return max(0.0, base * (1.0 + policy.jitter * (2.0 * random() - 1.0)))


# -- where a watch starts -----------------------------------------------------------------


def start_state(since: object, *, kind: WatchKind, fingerprint: str) -> WatchState:
    """The state a watch starts from, checked against its endpoint and filters.

    ``"now"`` is not read from the local clock: provider timestamps lag the server's, and
    a client clock ahead of the server would skip what arrives. It gives a state marked
    ``now``, which the watch's first poll resolves from what the server lists (its newest
    item and the ids around it; see :meth:`WatchStream._resolve_now`).
    """
    if isinstance(since, Checkpoint):
        if not since.done:
            raise InvalidParameterError(
                "since",
                "this listing has not finished: walk it to the end (or resume it) first, "
                "so the watch starts exactly where it ended",
            )
        if since.follow is None:
            raise InvalidParameterError(
                "since",
                f"this checkpoint cannot start a watch of {kind}: it comes from another "
                "listing (only messages.list() and chats.list() record where they ended)",
            )
        since = since.follow
    if isinstance(since, WatchState):
        return _checked(since, kind=kind, fingerprint=fingerprint)
    if since == "now":
        return WatchState(kind=kind, fingerprint=fingerprint, now=True)
    if isinstance(since, (datetime, str)):
        moment = to_ms(parse_datetime("since", since))
        return WatchState(kind=kind, fingerprint=fingerprint, watermark_ms=moment, floor_ms=moment)
    raise InvalidParameterError(
        "since",
        "must be 'now', an aware datetime, an ISO 8601 string, a WatchState, "
        f"or a finished list stream or its checkpoint; got {type(since).__name__}",
    )


def _checked(state: WatchState, *, kind: WatchKind, fingerprint: str) -> WatchState:
    if state.version != STATE_VERSION:
        raise StateMismatchError(
            f"this watch state has version {state.version}; this SDK reads version {STATE_VERSION}"
        )
    if state.kind != kind:
        raise StateMismatchError(f"this state was saved by a watch of {state.kind}, not of {kind}")
    if state.fingerprint != fingerprint:
        raise StateMismatchError(
            f"this state was saved by a watch of {kind} with other filters "
            f"(fingerprint {state.fingerprint}, these filters give {fingerprint}); "
            "resume with the filters it was saved with, or start a new watch"
        )
    return state


# -- the stream ---------------------------------------------------------------------------


class ListAfter(Protocol[T]):
    """Lists the watched endpoint (with the watch's filters) between strict bounds.

    ``limit`` overrides the watch's page size for one listing (``limit=1``: the newest
    item only). Each call is one listing, walked with no prefetch.
    """

    def __call__(
        self,
        *,
        after: datetime | None,
        before: datetime | None = None,
        limit: int | None = None,
    ) -> ListStream[T]: ...


class WatchStream(AsyncClosing, Generic[T]):
    """An async stream of items as they arrive; what ``messages.watch(...)`` returns.

    ``async for item in stream`` hands out every new item once, oldest first within
    what each poll finds; ``async for batch in stream.batches()`` hands out each poll's
    new items as one list; ``max_items`` ends the stream after that many. ``stream.state``
    resumes exactly after what was handed out, also after an error: a failure that survives the client's retries is raised, and
    ``watch(since=stream.state)`` continues. The stream polls until the caller stops
    (``break``, cancellation, or :meth:`aclose` / ``async with`` exit); nothing runs in
    the background between items, so stopping leaves no task and no request behind.
    """

    def __init__(
        self,
        list_after: ListAfter[T],
        stamp: Stamp,
        state: WatchState,
        *,
        policy: PollPolicy,
        max_items: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if not isinstance(policy, PollPolicy):
            raise InvalidParameterError(
                "policy", f"must be a PollPolicy, got {type(policy).__name__}"
            )
        if max_items is not None:
            check_int("max_items", max_items, minimum=1)
        self._max_items = max_items
        self._list_after = list_after
        self._stamp = stamp
        self._tracker = FollowTracker(state)
        self._policy = policy
        self._sleep = sleep
        self._random = random
        self._started = False
        self._closed = False
        self.polls = 0
        self.idle_polls = 0
        self.items_handed_out = 0

    @property
    def policy(self) -> PollPolicy:
        """The polling policy in force."""
        return self._policy

    @property
    def state(self) -> WatchState:
        """Resumes exactly after the last item (or batch) handed out."""
        self._tracker.settle(self._policy.overlap_ms)  # idempotent; keeps the state small
        return self._tracker.state()

    def _claim(self) -> None:
        if self._started:
            raise RuntimeError("a WatchStream can be iterated only once; call watch(...) again")
        self._started = True

    def __aiter__(self) -> AsyncIterator[T]:
        self._claim()
        return self._items()

    def batches(self) -> AsyncIterator[list[T]]:
        """Iterate each poll's new items as one list (polls that found nothing are skipped)."""
        self._claim()
        return self._batches()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called: the stream polls no more."""
        return self._closed

    def _stopped(self) -> bool:
        return self._closed  # a call, so a check after an await is not narrowed away

    async def aclose(self) -> None:
        """Stop: the stream polls no more (a poll in progress ends with its caller)."""
        self._closed = True

    async def _found(self) -> AsyncGenerator[list[Entry[T]], None]:
        """Poll after poll, the new entries each found (empty when nothing was new)."""
        policy = self._policy
        tracker = self._tracker
        stamp = self._stamp
        while True:
            if self.polls:
                await self._sleep(poll_delay(policy, self.idle_polls, self._random))
            if self._stopped():
                return
            if tracker.now:
                await self._resolve_now()
            tracker.settle(policy.overlap_ms)
            floor = tracker.floor_ms
            listing = self._list_after(after=None if floor is None else from_ms(floor))
            entries: list[Entry[T]] = []
            async with listing:
                async for item in listing:
                    placed = stamp(item)
                    if placed is not None:
                        entries.append((placed[0], placed[1], item))
            self.polls += 1
            if self._stopped():  # closed from elsewhere while the poll was in flight
                return
            new = fresh(tracker.floor_ms, tracker.seen, entries)
            self.idle_polls = 0 if new else self.idle_polls + 1
            yield new

    async def _resolve_now(self) -> None:
        """Turn a state marked ``now`` into where the server is now (never the local clock).

        The newest item the server lists (one ``limit=1`` request) is "now"; the ids
        stamped within ``overlap`` of it and no later are marked seen, and the floor is
        set ``overlap`` behind it, so the first poll hands out exactly what the server
        lists after that moment, late listings within the overlap included. An empty
        listing makes everything that ever appears new.
        """
        tracker = self._tracker
        newest = None
        for item in (await self._list_after(after=None, limit=1)).items:
            placed = self._stamp(item)
            if placed is not None and (newest is None or placed[0] > newest):
                newest = placed[0]
        if newest is not None:
            floor = newest - self._policy.overlap_ms - 1
            listing = self._list_after(after=from_ms(floor))
            async with listing:
                async for item in listing:
                    placed = self._stamp(item)
                    if placed is not None and floor < placed[0] <= newest:
                        tracker.seen[placed[1]] = placed[0]
            tracker.watermark_ms, tracker.floor_ms = newest, floor
        tracker.now = False

    def _room(self) -> int | None:
        """How many more items may be handed out (``None``: no limit)."""
        return None if self._max_items is None else self._max_items - self.items_handed_out

    async def _batches(self) -> AsyncGenerator[list[T], None]:
        tracker = self._tracker
        async with contextlib.aclosing(self._found()) as polls:
            async for found in polls:
                room = self._room()
                new = found if room is None else found[:room]  # oldest first: a prefix
                if not new:
                    continue
                for stamp, key, _ in new:
                    tracker.mark(stamp, key)
                self.items_handed_out += len(new)
                yield [item for _, _, item in new]
                if self._room() == 0:
                    return

    async def _items(self) -> AsyncGenerator[T, None]:
        tracker = self._tracker
        async with contextlib.aclosing(self._found()) as polls:
            async for new in polls:
                for stamp, key, item in new:
                    if self._room() == 0:
                        return
                    tracker.mark(stamp, key)
                    self.items_handed_out += 1
                    yield item
                if self._room() == 0:
                    return
