"""The values of a sharded export: a time window, a shard, and a plan of shards.

A :class:`Shard` describes itself completely (endpoint, encoded filters, time window,
label): with its :class:`~postpress_async.Checkpoint` it is all a worker on another
machine needs, and both are msgspec Structs (JSON in, JSON out). Nothing here does I/O.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar, TypeVar

import msgspec

from postpress_async._exceptions import InvalidParameterError
from postpress_async._filters import ResourceName
from postpress_async._time import parse_datetime, strict_windows

__all__ = ["Endpoint", "Shard", "ShardPlan", "Window", "window_queries"]

#: The endpoint an export lists (the resource's name).
Endpoint = ResourceName


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """A strict-bounds time window: items with ``after < timestamp < before``.

    ``None`` leaves that side open. In JSON the bounds are RFC 3339 times.
    """

    after: datetime | None = None
    before: datetime | None = None


class _AsJson(msgspec.Struct, frozen=True, kw_only=True):
    """A value that travels as JSON (to a worker, into a store): ``to_json``, ``from_json``."""

    #: ``from_json``'s error: the parameter, and what the JSON is not.
    _NOT: ClassVar[tuple[str, str]]

    def to_json(self) -> bytes:
        """The value as JSON."""
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls: type[_J], data: bytes | str) -> _J:
        """A value from :meth:`to_json`'s output (a clear error for anything else)."""
        try:
            return msgspec.json.decode(data, type=cls)
        except msgspec.DecodeError as exc:
            param, what = cls._NOT
            raise InvalidParameterError(param, f"not {what}: {exc}") from None


_J = TypeVar("_J", bound=_AsJson)


class Shard(_AsJson, frozen=True, kw_only=True):
    """One independent slice of an export: everything a worker needs, as plain values.

    ``filters`` are the endpoint's query filters as the API's strings (``account_id``,
    ``sender_id``; for chats also ``account_type`` and ``unread``); ``window`` the time
    bounds; ``label`` names the shard uniquely within its plan (its position is stored
    under it); ``estimate`` is the planner's guess of its items (``None``: unknown).
    """

    _NOT: ClassVar[tuple[str, str]] = ("shard", "a shard")

    endpoint: Endpoint
    label: str
    filters: dict[str, str] = msgspec.field(default_factory=dict)
    window: Window = Window()
    estimate: int | None = None


class ShardPlan(_AsJson, frozen=True, kw_only=True):
    """The shards of one export, and what was asked for (a re-run must ask the same)."""

    _NOT: ClassVar[tuple[str, str]] = ("plan", "a shard plan")

    endpoint: Endpoint
    #: The export's filters and outer window, as asked (encoded).
    filters: dict[str, str]
    window: Window
    #: How the shards were asked to be cut: ``"auto"``, ``"time"`` or ``"account"``.
    by: str
    requested: int
    shards: list[Shard]
    #: Requests the planner spent probing.
    probes: int = 0

    @property
    def balance(self) -> float | None:
        """Largest estimated shard over the median one (``None`` without estimates)."""
        sizes = [s.estimate for s in self.shards if s.estimate is not None]
        if len(sizes) != len(self.shards) or not sizes:
            return None
        median = statistics.median(sizes)
        return max(sizes) / median if median else None


def window_queries(
    cuts: Sequence[datetime | str],
    *,
    after: datetime | str | None = None,
    before: datetime | str | None = None,
) -> list[Window]:
    """The strict-bounds windows that cover ``(after, before)`` once, cut at ``cuts``.

    Window ``k`` holds the items stamped in ``[cuts[k-1], cuts[k])`` (it asks
    ``after = cuts[k-1] - 1 ms``); the first starts at ``after``, the last ends at
    ``before`` (``None``: open). This is :func:`postpress_async._time.strict_windows`,
    the SDK's one strict-bounds rule.
    """
    windows = strict_windows(
        [parse_datetime("cuts", cut) for cut in cuts],
        after=None if after is None else parse_datetime("after", after),
        before=None if before is None else parse_datetime("before", before, upper=True),
    )
    return [Window(after=low, before=high) for low, high in windows]
