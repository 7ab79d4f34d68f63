"""What a watch is told, checked before it polls: how to poll, and where to start.

:class:`PollPolicy` is the polling policy (a frozen value, like the client's config);
:func:`poll_delay` the pure wait between two polls; :func:`start_state` turns a watch's
``since`` (``"now"``, a moment, a saved :class:`~._positions.WatchState`, or a finished
listing's checkpoint) into the state it starts from, checked against its endpoint and
filters; :func:`warn_clock_behind` words what a watch says when the server's clock is
behind its floor. No I/O, no clock: the stream that polls is :mod:`._watch`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Literal

from ._config import _positive, _replace
from ._exceptions import InvalidParameterError, StateMismatchError
from ._follow import DEFAULT_OVERLAP
from ._lazy import logging
from ._positions import STATE_VERSION, Checkpoint, WatchState
from ._time import format_datetime, from_ms, parse_datetime, to_ms

__all__ = ["PollPolicy", "WatchKind", "poll_delay", "start_state", "warn_clock_behind"]

WatchKind = Literal["messages", "chats"]


# -- the policy value ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PollPolicy:
    """How a watch polls, in seconds.

    * ``interval``: the wait between polls while items keep arriving;
    * ``jitter``: each wait is scaled by ``uniform(1 - jitter, 1 + jitter)`` (0 <= jitter < 1), so
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
    try:
        base = policy.interval * policy.idle_backoff ** min(max(0, idle_polls - 1), 64)
    except OverflowError:  # a steep back-off, long idle: far past the maximum
        base = policy.max_interval
    base = min(policy.max_interval, base)
    return max(0.0, base * (1.0 + policy.jitter * (2.0 * random() - 1.0)))


# -- where a watch starts -----------------------------------------------------------------


def start_state(since: object, *, kind: WatchKind, fingerprint: str) -> WatchState:
    """The state a watch starts from, checked against its endpoint and filters.

    ``"now"`` is not read from the local clock: provider timestamps lag the server's, and
    a client clock ahead of the server would skip what arrives. It gives a state marked
    ``now``, which the watch's first poll resolves from what the server lists (its newest
    item and the ids around it; see :func:`~._watch_now.resolve_now`).
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
    # The fields of a state read from a damaged store (or built by hand) are not
    # validated: a time outside the datetimes the watch lists by would fail its first poll.
    for name, ms in (("watermark_ms", state.watermark_ms), ("floor_ms", state.floor_ms)):
        if ms is not None and (
            isinstance(ms, bool) or not isinstance(ms, int) or not _FIRST_MS <= ms <= _LAST_MS
        ):
            raise InvalidParameterError(
                "since", f"this watch state's {name} is not a time in years 1 to 9999: {ms!r}"
            )
    return state


#: The times a watch state may hold: those of an aware UTC datetime, in milliseconds.
_FIRST_MS = to_ms(datetime.min.replace(tzinfo=timezone.utc))
_LAST_MS = to_ms(datetime.max.replace(tzinfo=timezone.utc))


def warn_clock_behind(server_ms: int, floor_ms: int, overlap: float) -> None:
    """One WARNING record: the server's clock is behind the watch's floor (see ``WatchStream._saw``)."""
    logging.getLogger("postpress_async").warning(
        "the server's clock (its Date: %s) is %.1f s behind this watch's floor (%s): what "
        "it stamps before its clock passes the floor is not listed after the floor and is "
        "missed (PollPolicy.overlap is %g s). Its clock went back, or the watch started "
        "ahead of it. A watch started again from since= a time before the step lists them "
        "(and hands out again what came after that time); a store's verify() counts them "
        "missing, and force=True stores them",
        format_datetime(from_ms(server_ms - server_ms % 1000)),
        (floor_ms - server_ms) / 1000,
        format_datetime(from_ms(floor_ms)),
        overlap,
        extra={"postpress_server_ms": server_ms, "postpress_floor_ms": floor_ms},
    )
