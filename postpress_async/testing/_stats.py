"""Counters the fake server keeps so tests can assert on traffic."""

from __future__ import annotations

import collections
import dataclasses

from postpress_async.testing._faults import FaultKind

__all__ = ["Stats"]


@dataclasses.dataclass(slots=True, kw_only=True)
class Stats:
    """Live traffic counters of one :class:`FakePostpress` (mutated as requests arrive).

    A request is counted when it arrives; its status when it is answered. Faults that
    send a 200 status line (``connection_reset``, ``truncated_body``, ``slow_body``) count
    as 200. Paths that match no route are counted under the route ``"unknown"``.
    """

    requests: int = 0
    """Requests received."""
    in_flight: int = 0
    """Requests being handled right now."""
    peak_in_flight: int = 0
    """The most requests handled at once since the last reset."""
    bytes_sent: int = 0
    """Response body bytes written (partial bodies count what was actually written)."""
    by_route: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    """Requests per route name."""
    by_status: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    """Responses per HTTP status."""
    by_route_status: collections.Counter[tuple[str, int]] = dataclasses.field(
        default_factory=collections.Counter
    )
    """Responses per ``(route, status)``."""
    faults: collections.Counter[FaultKind] = dataclasses.field(default_factory=collections.Counter)
    """Faults injected, per kind."""
    faults_by_route: collections.Counter[tuple[str, FaultKind]] = dataclasses.field(
        default_factory=collections.Counter
    )
    """Faults injected, per ``(route, kind)``."""

    def reset(self) -> None:
        """Zero every counter (requests in flight stay counted, and set the new peak)."""
        self.requests = 0
        self.bytes_sent = 0
        self.peak_in_flight = self.in_flight
        for counter in (
            self.by_route,
            self.by_status,
            self.by_route_status,
            self.faults,
            self.faults_by_route,
        ):
            counter.clear()
