"""Fault injection: what can go wrong between an SDK and postpress, on purpose.

Every request to a route first waits ``latency`` (plus or minus ``jitter``), then may be
hit by one fault. A scripted fault (:meth:`FakePostpress.inject`) always wins; otherwise
one uniform draw from the route's own seeded generator picks a fault according to
``rates`` (checked in :class:`FaultKind` order), so the same seed and the same request
sequence give the same faults. Scripted faults do not consume a draw.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import itertools
import math
import random
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

from postpress_async.testing._args import check_number, check_whole

__all__ = [
    "JSON_FAULTS",
    "ROUTES",
    "FaultKind",
    "FaultPlan",
    "Faults",
    "RouteName",
    "fault_plan",
    "retryable_rates",
]

RouteName = Literal[
    "accounts.list", "chats.list", "chats.retrieve", "messages.list", "messages.retrieve"
]
ROUTES: Final[tuple[RouteName, ...]] = (
    "accounts.list",
    "chats.list",
    "chats.retrieve",
    "messages.list",
    "messages.retrieve",
)


class FaultKind(enum.Enum):
    """One way a request can fail; the value is the name accepted in scripts and the CLI."""

    NO_CLIENT_SESSION = "no_client_session"
    """503 ``errors/no_client_session``."""
    NO_CHANNEL = "no_channel"
    """503 ``errors/no_channel``."""
    NO_HANDLER = "no_handler"
    """503 ``errors/no_handler``."""
    NETWORK_DOWN = "network_down"
    """503 ``errors/network_down``."""
    SERVICE_UNAVAILABLE = "service_unavailable"
    """503 ``errors/service_unavailable``."""
    REQUEST_TIMEOUT = "request_timeout"
    """504 ``errors/request_timeout``."""
    PROVIDER_ERROR = "provider_error"
    """500 ``errors/provider_error``."""
    RATE_LIMITED = "rate_limited"
    """429 with a ``Retry-After`` header (seconds) and an ``errors/too_many_requests`` body."""
    BAD_GATEWAY_HTML = "bad_gateway_html"
    """502 from a proxy in front of the API: a ``text/html`` page, not JSON."""
    CONNECTION_RESET = "connection_reset"
    """200 headers and part of the body, then the connection is aborted."""
    TRUNCATED_BODY = "truncated_body"
    """200 with a JSON body cut in half and a ``Content-Length`` that matches the cut."""
    SLOW_BODY = "slow_body"
    """200 with the full body, dribbled out over ``Faults.slow_body_seconds``."""

    @property
    def status(self) -> int:
        """The HTTP status the client sees."""
        return _STATUS.get(self, 200)

    @property
    def error_type(self) -> str | None:
        """The ``type`` of the JSON error envelope, if the fault sends one."""
        return _ERROR_TYPE.get(self)


_STATUS: Final = {
    FaultKind.NO_CLIENT_SESSION: 503,
    FaultKind.NO_CHANNEL: 503,
    FaultKind.NO_HANDLER: 503,
    FaultKind.NETWORK_DOWN: 503,
    FaultKind.SERVICE_UNAVAILABLE: 503,
    FaultKind.REQUEST_TIMEOUT: 504,
    FaultKind.PROVIDER_ERROR: 500,
    FaultKind.RATE_LIMITED: 429,
    FaultKind.BAD_GATEWAY_HTML: 502,
}
_ERROR_TYPE: Final = {
    FaultKind.NO_CLIENT_SESSION: "errors/no_client_session",
    FaultKind.NO_CHANNEL: "errors/no_channel",
    FaultKind.NO_HANDLER: "errors/no_handler",
    FaultKind.NETWORK_DOWN: "errors/network_down",
    FaultKind.SERVICE_UNAVAILABLE: "errors/service_unavailable",
    FaultKind.REQUEST_TIMEOUT: "errors/request_timeout",
    FaultKind.PROVIDER_ERROR: "errors/provider_error",
    FaultKind.RATE_LIMITED: "errors/too_many_requests",
}
JSON_FAULTS: Final = frozenset(_ERROR_TYPE)
"""Faults answered with a JSON error envelope and no body surprise: every one retryable
(the documented 503 types, 504 ``request_timeout``, 500 ``provider_error``, and 429)."""


def retryable_rates(fault_rate: float) -> dict[FaultKind, float]:
    """``fault_rate`` split in equal shares over :data:`JSON_FAULTS` (``{}`` for 0)."""
    if not fault_rate:
        return {}
    share = fault_rate / len(JSON_FAULTS)
    return {kind: share for kind in FaultKind if kind in JSON_FAULTS}


def fault_kind(value: FaultKind | str) -> FaultKind:
    """Coerce a fault name (``"service_unavailable"`` or ``"SERVICE_UNAVAILABLE"``)."""
    if isinstance(value, FaultKind):
        return value
    try:
        return FaultKind(value.lower())
    except ValueError:
        names = ", ".join(kind.value for kind in FaultKind)
        raise ValueError(f"unknown fault {value!r}; expected one of: {names}") from None


def check_route(route: str) -> RouteName:
    """Validate a route name."""
    for known in ROUTES:
        if route == known:
            return known
    raise ValueError(f"unknown route {route!r}; expected one of: {', '.join(ROUTES)}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """How one route misbehaves: latency and the probability of each fault.

    ``Faults(latency=0.02, jitter=0.005, rates={FaultKind.SERVICE_UNAVAILABLE: 0.1})``
    waits 15-25 ms on every request and fails one in ten with a 503. Rates are
    probabilities per request and must add up to at most 1.
    """

    latency: float = 0.0
    """Seconds every request waits before it is answered."""
    jitter: float = 0.0
    """Half-width of a uniform random spread around ``latency`` (never below zero)."""
    rates: Mapping[FaultKind, float] = dataclasses.field(default_factory=dict)
    """Probability of each fault per request (fault names as strings are accepted)."""
    seed: int = 0
    """Seed of the per-route generators for jitter and fault draws."""
    retry_after: float = 1.0
    """Seconds announced in ``Retry-After`` by :attr:`FaultKind.RATE_LIMITED`, rounded up
    to whole seconds as the header carries them (``0.3`` announces ``1``)."""
    slow_body_seconds: float = 0.2
    """How long :attr:`FaultKind.SLOW_BODY` takes to send a body."""
    max_concurrency: int | None = None
    """Throttle above this many requests in flight (all routes): a request arriving while
    more are being handled is answered :attr:`FaultKind.RATE_LIMITED`, as a provider
    that limits an account's concurrency would. ``None``: no such limit."""

    def __post_init__(self) -> None:
        rates: dict[FaultKind, float] = {}
        if not isinstance(self.rates, Mapping):
            raise TypeError(f"rates must map faults to rates, got {type(self.rates).__name__}")
        for key, rate in dict(self.rates).items():
            kind = fault_kind(key)
            check_number(f"rate of {kind.value}", rate)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"rate of {kind.value} must be within [0, 1], got {rate}")
            if rate:
                rates[kind] = rates.get(kind, 0.0) + float(rate)
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        ordered = {kind: rates[kind] for kind in FaultKind if kind in rates}
        object.__setattr__(self, "rates", MappingProxyType(ordered))
        for name in ("latency", "jitter", "retry_after", "slow_body_seconds"):
            seconds = getattr(self, name)
            check_number(name, seconds)
            if not (math.isfinite(seconds) and seconds >= 0):
                raise ValueError(f"{name} must be a finite number of seconds >= 0, got {seconds!r}")
        # A str seed would seed its generators as well as an int, with other draws than
        # the int a run's log or a test's table names.
        check_whole("seed", self.seed)
        limit = self.max_concurrency
        if limit is not None:
            check_whole("max_concurrency", limit)
        if limit is not None and limit < 1:
            raise ValueError("max_concurrency must be >= 1 (or None)")

    def replace(self, **changes: Any) -> Faults:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def __reduce__(self) -> tuple[Any, ...]:
        return _reduced(self)

    def __hash__(self) -> int:
        return hash(
            (
                self.latency,
                self.jitter,
                tuple(self.rates.items()),
                self.seed,
                self.retry_after,
                self.slow_body_seconds,
                self.max_concurrency,
            )
        )


NO_FAULTS: Final = Faults()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """Faults per route, with a default for routes not named.

    ``FaultPlan(default=Faults(latency=0.01), routes={"messages.list": Faults(...)})``.
    """

    default: Faults = NO_FAULTS
    routes: Mapping[str, Faults] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, faults in {"default": self.default, **dict(self.routes)}.items():
            if not isinstance(faults, Faults):
                raise TypeError(f"{name}: must be a Faults, got {type(faults).__name__}")
        routes = {check_route(name): faults for name, faults in dict(self.routes).items()}
        object.__setattr__(self, "routes", MappingProxyType(routes))

    def for_route(self, route: str) -> Faults:
        """The faults that apply to ``route``."""
        return self.routes.get(route, self.default)

    def __hash__(self) -> int:
        return hash((self.default, tuple(sorted(self.routes.items()))))

    def __reduce__(self) -> tuple[Any, ...]:
        return _reduced(self)


def _reduced(value: Faults | FaultPlan) -> tuple[Any, ...]:
    """How ``value`` pickles: its fields, a read-only mapping (which does not pickle) as a
    dict, built again (and checked) by its class on arrival."""
    fields = {
        field.name: dict(item) if isinstance(item := getattr(value, field.name), Mapping) else item
        for field in dataclasses.fields(value)
    }
    return (_built, (type(value), fields))


def _built(cls: type[Faults] | type[FaultPlan], fields: dict[str, Any]) -> Faults | FaultPlan:
    return cls(**fields)


MAX_SCRIPT: Final = 100_000
"""The most faults one :meth:`FakePostpress.inject` call scripts."""


class FaultState:
    """The mutable side of fault injection: per-route generators and scripts."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._fault_rng = {r: random.Random(f"{plan.for_route(r).seed}:{r}:faults") for r in ROUTES}
        self._delay_rng = {
            r: random.Random(f"{plan.for_route(r).seed}:{r}:latency") for r in ROUTES
        }
        self._scripts: dict[str, collections.deque[FaultKind | None]] = {
            r: collections.deque() for r in ROUTES
        }

    def inject(self, route: str, faults: Iterable[FaultKind | str | None]) -> None:
        """Queue faults for the next requests to ``route`` (``None`` = a normal answer)."""
        queue = self._scripts[check_route(route)]
        if isinstance(faults, (str, FaultKind)):
            value = faults.value if isinstance(faults, FaultKind) else faults
            raise TypeError(f"faults must be a sequence of faults, e.g. [{value!r}]")
        scripted = [
            None if f is None else fault_kind(f) for f in itertools.islice(faults, MAX_SCRIPT + 1)
        ]
        if len(scripted) > MAX_SCRIPT:
            raise ValueError(
                f"a script of more than {MAX_SCRIPT:,} faults (an endless iterator, such as "
                "itertools.repeat, would never be read to its end); to fail every request, "
                "use faults=Faults(rates={kind: 1.0})"
            )
        queue.extend(scripted)

    def pending(self, route: str) -> int:
        """Scripted faults not yet served."""
        return len(self._scripts[check_route(route)])

    def adopt_scripts(self, other: FaultState) -> None:
        """Carry over the scripted faults another state had not served yet."""
        for route, queue in other._scripts.items():
            self._scripts[route].extend(queue)

    def clear(self) -> None:
        """Drop every scripted fault."""
        for queue in self._scripts.values():
            queue.clear()

    def delay(self, route: RouteName) -> float:
        """Seconds to wait before answering this request."""
        faults = self.plan.for_route(route)
        if not faults.jitter:
            return faults.latency
        spread = self._delay_rng[route].uniform(-faults.jitter, faults.jitter)
        return max(0.0, faults.latency + spread)

    def next_fault(self, route: RouteName) -> FaultKind | None:
        """The fault for this request, if any."""
        script = self._scripts[route]
        if script:
            return script.popleft()
        rates = self.plan.for_route(route).rates
        if not rates:
            return None
        draw = self._fault_rng[route].random()
        for kind, rate in rates.items():
            if draw < rate:
                return kind
            draw -= rate
        return None


def fault_plan(faults: Faults | FaultPlan | None) -> FaultPlan:
    """What a fake serves by: ``faults`` for every route, a plan as it is, or none."""
    if faults is None:
        return FaultPlan()
    if isinstance(faults, Faults):
        return FaultPlan(default=faults)
    if not isinstance(faults, FaultPlan):
        raise TypeError(
            f"faults must be a Faults, a FaultPlan or None, got {type(faults).__name__} "
            "(rates go in Faults(rates={FaultKind.SERVICE_UNAVAILABLE: 0.1}))"
        )
    return faults
