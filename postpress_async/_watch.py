"""Watch streams: follow a list endpoint as new items arrive, exactly once.

The API has no change feed, only listings with strict ``after``/``before`` bounds on a
millisecond timestamp. A watch polls ``list(after=floor)`` and keeps a small state:

* ``watermark``: the newest timestamp handed out;
* ``floor``: nothing at or before it is handed out any more; it trails the watermark by
  the policy's ``overlap``, so a message the server lists late (its timestamp older than
  the newest already seen, as providers sync late) is still found if it is listed
  within ``overlap`` seconds of the watermark;
* ``seen``: the ids handed out with a timestamp after the floor, so the overlap and the
  strict ``after`` re-listing them (several messages in one millisecond, a message
  listed in the millisecond of the watermark after it moved) never hands one out twice.

The invariant: *every listed item with a timestamp after the floor that is not in
``seen`` is new.* So a poll hands out ``(found - seen)`` oldest first, then raises the
floor to ``watermark - overlap`` and forgets the ids at or below it: memory is bounded
by the items of one overlap window. These decisions are the pure functions below
(:func:`fresh`, :func:`settle`, :func:`poll_delay`); :class:`WatchStream` only runs them.

``WatchState`` is the one token a caller stores (in the manner of Gmail's ``historyId``
or a Graph ``deltaLink``); ``watch(since=state)`` continues with nothing lost or repeated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random as _random
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar

import anyio
import msgspec

from ._config import _positive, _replace
from ._exceptions import InvalidParameterError, StateMismatchError
from ._lazy import hashlib
from ._params import check_int
from ._tasks import AsyncClosing
from ._time import from_ms, parse_datetime, to_ms

if TYPE_CHECKING:
    from ._pagination import ListStream

__all__ = [
    "DEFAULT_FOLLOW_OVERLAP",
    "STATE_VERSION",
    "Entry",
    "FollowTracker",
    "ListAfter",
    "ListFollower",
    "PollPolicy",
    "Stamp",
    "WatchKind",
    "WatchState",
    "WatchStream",
    "filters_fingerprint",
    "fresh",
    "from_ms",
    "poll_delay",
    "settle",
    "start_state",
    "to_ms",
]

T = TypeVar("T")
WatchKind = Literal["messages", "chats"]
#: ``(timestamp in ms, key)`` of an item, or ``None`` for an item that cannot be placed.
Stamp = Callable[[Any], "tuple[int, str] | None"]
#: ``(timestamp in ms, key, item)``: what a poll found, ready to sort.
Entry = tuple[int, str, T]

STATE_VERSION: Final = 1


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
    overlap: float = 10.0

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


#: The overlap a finished ``list()`` remembers ids for, so a watch continuing it can
#: re-scan that far behind the newest item the listing saw.
DEFAULT_FOLLOW_OVERLAP: Final = PollPolicy().overlap


def poll_delay(policy: PollPolicy, idle_polls: int, random: Callable[[], float]) -> float:
    """Seconds to wait before the next poll, after ``idle_polls`` polls in a row found nothing.

    ``interval`` after a poll that found something and after the first idle one, then
    ``interval * idle_backoff ** (idle_polls - 1)`` up to ``max_interval``, jittered.
    """
    base = policy.interval * policy.idle_backoff ** min(max(0, idle_polls - 1), 64)
    base = min(policy.max_interval, base)
    return max(0.0, base * (1.0 + policy.jitter * (2.0 * random() - 1.0)))


# -- the state ----------------------------------------------------------------------------


def filters_fingerprint(kind: WatchKind, filters: Mapping[str, str | None]) -> str:
    """A short, stable hash of what a watch lists: the endpoint and its filters."""
    present = {key: value for key, value in sorted(filters.items()) if value is not None}
    raw = msgspec.json.encode({"kind": kind, "filters": present})
    return hashlib.sha256(raw).hexdigest()[:16]


class WatchState(msgspec.Struct, frozen=True, kw_only=True):
    """Where a watch stands: resume with ``watch(since=state)``, nothing lost or repeated.

    Encode it with ``msgspec.json.encode(state)`` (a few hundred bytes plus the ids of one
    overlap window) and decode it with ``msgspec.json.decode(data, type=WatchState)``.
    ``watermark_ms`` is the newest timestamp handed out, ``floor_ms`` the moment at or
    before which nothing more is handed out (``None``: no bound), ``seen`` the
    ``(timestamp_ms, id)`` pairs handed out after the floor, ``fingerprint`` a hash of
    the endpoint and filters it belongs to.
    """

    version: int = STATE_VERSION
    kind: str
    fingerprint: str
    watermark_ms: int | None = None
    floor_ms: int | None = None
    seen: tuple[tuple[int, str], ...] = ()

    @property
    def watermark(self) -> datetime | None:
        """The newest timestamp handed out, as an aware datetime."""
        return None if self.watermark_ms is None else from_ms(self.watermark_ms)

    @property
    def floor(self) -> datetime | None:
        """Nothing at or before this moment is handed out any more."""
        return None if self.floor_ms is None else from_ms(self.floor_ms)


def fresh(
    floor_ms: int | None, seen: Mapping[str, int], found: Iterable[Entry[T]]
) -> list[Entry[T]]:
    """What a poll hands out: the entries after the floor not handed out before, oldest first.

    Ties in one millisecond are ordered by key; an entry listed twice in one poll (a
    page boundary moving under new arrivals) counts once.
    """
    picked: dict[str, Entry[T]] = {}
    for entry in found:
        stamp, key, _ = entry
        if (floor_ms is None or stamp > floor_ms) and key not in seen:
            picked.setdefault(key, entry)
    return sorted(picked.values(), key=lambda entry: (entry[0], entry[1]))


def settle(
    watermark_ms: int | None, floor_ms: int | None, seen: Mapping[str, int], overlap_ms: int
) -> tuple[int | None, dict[str, int]]:
    """The floor after a poll, and the ids still worth remembering.

    The floor rises to ``watermark - overlap - 1 ms`` (never falls), so the next poll's
    strict ``after=floor`` still lists the whole overlap window, its first millisecond
    included; ids at or below the new floor can never be listed again and are dropped.
    """
    if watermark_ms is not None:
        trailing = watermark_ms - overlap_ms - 1
        floor_ms = trailing if floor_ms is None else max(floor_ms, trailing)
    if floor_ms is None:
        return None, dict(seen)
    return floor_ms, {key: stamp for key, stamp in seen.items() if stamp > floor_ms}


class FollowTracker:
    """The mutable side of a :class:`WatchState`: what has been handed out so far."""

    __slots__ = ("fingerprint", "floor_ms", "kind", "seen", "watermark_ms")

    def __init__(self, state: WatchState) -> None:
        self.kind = state.kind
        self.fingerprint = state.fingerprint
        self.watermark_ms = state.watermark_ms
        self.floor_ms = state.floor_ms
        self.seen = {key: stamp for stamp, key in state.seen}

    def mark(self, stamp: int, key: str) -> None:
        """Record one item as handed out."""
        self.seen[key] = stamp
        if self.watermark_ms is None or stamp > self.watermark_ms:
            self.watermark_ms = stamp

    def settle(self, overlap_ms: int) -> None:
        """Raise the floor behind the watermark and forget the ids below it."""
        self.floor_ms, self.seen = settle(self.watermark_ms, self.floor_ms, self.seen, overlap_ms)

    def state(self) -> WatchState:
        """A frozen snapshot."""
        seen = tuple(sorted((stamp, key) for key, stamp in self.seen.items()))
        return WatchState(
            kind=self.kind,
            fingerprint=self.fingerprint,
            watermark_ms=self.watermark_ms,
            floor_ms=self.floor_ms,
            seen=seen,
        )


class ListFollower:
    """Follows a ``list()`` as it is walked, so its end can start a watch.

    Every page fetched is noted (before its items are handed out: the state is only
    read once the listing is done). Only what lies within ``overlap`` of the newest
    timestamp is kept, whatever order the server pages in.
    """

    __slots__ = ("_overlap_ms", "_stamp", "_tracker")

    def __init__(self, state: WatchState, stamp: Stamp, *, overlap: float) -> None:
        self._tracker = FollowTracker(state)
        self._stamp = stamp
        self._overlap_ms = math.ceil(overlap * 1000)

    def note(self, items: Sequence[Any]) -> None:
        """Record a page's items as handed out.

        Pages are ordered by timestamp (the API says so, in either direction), so a page
        whose two ends lie at or below the floor holds nothing worth remembering: a long
        backfill costs two look-ups a page, not one an item.
        """
        tracker = self._tracker
        stamp = self._stamp
        if items and tracker.floor_ms is not None:
            lowest = tracker.floor_ms
            ends = (stamp(items[0]), stamp(items[-1]))
            if all(end is None or end[0] <= lowest for end in ends):
                return
        for item in items:
            placed = stamp(item)
            if placed is None:
                continue
            at, key = placed
            floor = tracker.floor_ms
            if floor is None or at > floor:
                tracker.mark(at, key)
        tracker.settle(self._overlap_ms)

    def state(self) -> WatchState:
        """The state a watch continuing this listing starts from."""
        return self._tracker.state()


# -- where a watch starts -----------------------------------------------------------------


def start_state(
    since: object,
    *,
    kind: WatchKind,
    fingerprint: str,
    clock: Callable[[], float],
) -> WatchState:
    """The state a watch starts from, checked against its endpoint and filters."""
    from ._pagination import Checkpoint, ListStream

    if isinstance(since, ListStream):
        since = since.checkpoint
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
        moment = int(clock() * 1000)
        return WatchState(kind=kind, fingerprint=fingerprint, watermark_ms=moment, floor_ms=moment)
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

#: Lists everything after a floor (``None``: no bound): one poll.
ListAfter = Callable[["datetime | None"], "ListStream[T]"]


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
            tracker.settle(policy.overlap_ms)
            floor = tracker.floor_ms
            listing = self._list_after(None if floor is None else from_ms(floor))
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
