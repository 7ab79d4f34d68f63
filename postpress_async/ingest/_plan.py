"""Shard plans: cut an export into shards of similar size by probing where the data is.

A :class:`Shard` describes itself completely (endpoint, encoded filters, time window,
label): with its :class:`~postpress_async.Checkpoint` it is all a worker on another
machine needs, and both are msgspec Structs (JSON in, JSON out).

How :func:`plan_shards` finds the data (the API has no count endpoint):

* ``messages`` by time: one ``limit=1`` request finds the newest message; a galloping
  then bisecting search of ``limit=1, before=t`` requests finds the oldest; then
  ``limit=250, before=p`` pages at evenly spaced points ``p`` measure the local density
  (250 items over the time they span, or an exact count when the page is the last).
  Integrating the density gives an estimated cumulative count, and the cuts are its
  quantiles, so every window holds about ``total / shards`` messages wherever the data
  sits in time;
* ``messages`` by account: the first page of each account (exact when it is the whole
  account), the same time profile for the larger accounts, which are then cut into
  windows no larger than the median account;
* ``chats``: by account (a chat's time is its last activity, and chats without one
  never match a time bound, so windows would lose them): accounts packed into
  ``shards`` comma-joined groups of similar chat counts;
* ``accounts``: one shard.

Windows follow the API's strict bounds (:func:`window_queries`): the outer bounds are
the caller's ``after``/``before`` (open when not given), so the shards together cover
the listing exactly once, including messages that arrive after the plan was made.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Final, Literal

import anyio
import msgspec

from postpress_async._client import AsyncPostpress
from postpress_async._exceptions import InvalidParameterError
from postpress_async._params import MAX_LIMIT, check_int
from postpress_async._time import format_datetime, from_ms, parse_datetime, strict_windows, to_ms

__all__ = [
    "Endpoint",
    "Shard",
    "ShardPlan",
    "Window",
    "plan_shards",
    "shard_stream",
    "window_queries",
]

Endpoint = Literal["messages", "chats", "accounts"]
_ENDPOINTS: Final = ("messages", "chats", "accounts")
_PAGE: Final = MAX_LIMIT
_HOUR_MS: Final = 3_600_000
_MAX_SPAN_MS: Final = 100 * 365 * 24 * _HOUR_MS
#: The filters each endpoint's shards may carry (already encoded as the API's strings).
_FILTERS: Final[dict[str, frozenset[str]]] = {
    "messages": frozenset({"account_id", "sender_id"}),
    "chats": frozenset({"account_id", "account_type", "unread"}),
    "accounts": frozenset(),
}


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """A strict-bounds time window: items with ``after < timestamp < before``.

    ``None`` leaves that side open. Values are the API's ``YYYY-MM-DDTHH:MM:SS.sssZ``.
    """

    after: str | None = None
    before: str | None = None


class Shard(msgspec.Struct, frozen=True, kw_only=True):
    """One independent slice of an export: everything a worker needs, as plain values.

    ``filters`` are the endpoint's query filters as the API's strings (``account_id``,
    ``sender_id``; for chats also ``account_type`` and ``unread``); ``window`` the time
    bounds; ``label`` names the shard uniquely within its plan (checkpoints are stored
    under it); ``estimate`` is the planner's guess of its items (``None``: unknown).
    """

    endpoint: Endpoint
    label: str
    filters: dict[str, str] = msgspec.field(default_factory=dict)
    window: Window = Window()
    estimate: int | None = None

    def to_json(self) -> bytes:
        """The shard as JSON."""
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> Shard:
        """A shard from :meth:`to_json`'s output (a clear error for anything else)."""
        try:
            return msgspec.json.decode(data, type=cls)
        except msgspec.DecodeError as exc:
            raise InvalidParameterError("shard", f"not a shard: {exc}") from None


class ShardPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The shards of one export, and what was asked for (a resume must ask the same)."""

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

    def to_json(self) -> bytes:
        """The plan as JSON."""
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> ShardPlan:
        """A plan from :meth:`to_json`'s output."""
        try:
            return msgspec.json.decode(data, type=cls)
        except msgspec.DecodeError as exc:
            raise InvalidParameterError("plan", f"not a shard plan: {exc}") from None


# -- the strict-bounds rule ---------------------------------------------------------------


def _ms(name: str, value: datetime | str) -> int:
    return to_ms(parse_datetime(name, value))


def _text(ms: int) -> str:
    return format_datetime(from_ms(ms))


def window_queries(
    cuts: Sequence[datetime | str],
    *,
    after: datetime | str | None = None,
    before: datetime | str | None = None,
) -> list[Window]:
    """The strict-bounds windows that cover ``(after, before)`` once, cut at ``cuts``.

    Window ``k`` holds the items stamped in ``[cuts[k-1], cuts[k])`` (it asks
    ``after = cuts[k-1] - 1 ms``); the first starts at ``after``, the last ends at
    ``before`` (``None``: open). This is :func:`postpress_async.strict_windows`, the
    SDK's one strict-bounds rule, with the bounds as the API's strings.
    """
    windows = strict_windows(
        [parse_datetime("cuts", cut) for cut in cuts],
        after=None if after is None else parse_datetime("after", after),
        before=None if before is None else parse_datetime("before", before),
    )
    return [
        Window(
            after=None if low is None else format_datetime(low),
            before=None if high is None else format_datetime(high),
        )
        for low, high in windows
    ]


# -- streams ------------------------------------------------------------------------------


def shard_stream(
    client: AsyncPostpress,
    shard: Shard,
    *,
    resume: Any = None,
    limit: int | None = None,
    prefetch: int | None = None,
) -> Any:
    """The client's list stream for ``shard`` (resumed from ``resume``, a Checkpoint)."""
    paging: dict[str, Any] = {"limit": limit, "prefetch": prefetch, "resume": resume}
    if shard.endpoint == "accounts":
        return client.accounts.list(**paging)
    window: dict[str, Any] = {"after": shard.window.after, "before": shard.window.before}
    if shard.endpoint == "chats":
        filters: dict[str, Any] = dict(shard.filters)
        if "unread" in filters:
            filters["unread"] = filters["unread"] == "true"
        if "account_id" in filters:
            filters["account_id"] = filters["account_id"].split(",")
        return client.chats.list(**filters, **window, **paging)
    filters = dict(shard.filters)
    return client.messages.list(**filters, **window, **paging)


# -- probing ------------------------------------------------------------------------------


class _Probe:
    """The planner's requests: cheap first pages, counted."""

    def __init__(self, client: AsyncPostpress, endpoint: Endpoint, filters: dict[str, str]):
        self.client = client
        self.endpoint = endpoint
        self.filters = filters
        self.requests = 0

    async def page(
        self, *, limit: int, after: int | None, before: int | None, **extra: str
    ) -> tuple[list[int], bool]:
        """Timestamps (ms) of the first page, and whether it is the last page."""
        self.requests += 1
        shard = Shard(
            endpoint=self.endpoint,
            label="probe",
            filters={**self.filters, **extra},
            window=Window(
                after=None if after is None else _text(after),
                before=None if before is None else _text(before),
            ),
        )
        page = await shard_stream(self.client, shard, limit=limit, prefetch=0)
        stamps = [
            to_ms(item.timestamp)
            for item in page.items
            if getattr(item, "timestamp", None) is not None
        ]
        return stamps, page.cursor is None

    async def count_page(self, **extra: str) -> tuple[int, bool]:
        """Items on the first full page, and whether that was all of them."""
        self.requests += 1
        shard = Shard(endpoint=self.endpoint, label="probe", filters={**self.filters, **extra})
        page = await shard_stream(self.client, shard, limit=_PAGE, prefetch=0)
        return len(page.items), page.cursor is None


async def _gather(calls: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run ``calls`` concurrently (the client's in-flight limit applies); results in order."""
    results: list[Any] = [None] * len(calls)

    async def one(index: int) -> None:
        results[index] = await calls[index]()

    async with anyio.create_task_group() as group:
        for index in range(len(calls)):
            group.start_soon(one, index)
    return results


class _Profile(msgspec.Struct, frozen=True):
    """An estimated cumulative count over time: ``counts[k]`` items before ``points[k]``."""

    points: list[int]
    counts: list[float]

    @property
    def total(self) -> float:
        return self.counts[-1] if self.counts else 0.0

    def cuts(self, pieces: int) -> list[int]:
        """Instants (ms) that cut the profile into ``pieces`` of equal estimated count."""
        out: list[int] = []
        total = self.total
        k = 1
        for q in range(1, pieces):
            goal = total * q / pieces
            while k < len(self.counts) - 1 and self.counts[k] < goal:
                k += 1
            c0, c1 = self.counts[k - 1], self.counts[k]
            p0, p1 = self.points[k - 1], self.points[k]
            share = 0.0 if c1 <= c0 else (goal - c0) / (c1 - c0)
            cut = p0 + round((p1 - p0) * min(1.0, max(0.0, share)))
            if cut > (out[-1] if out else self.points[0]) and cut < self.points[-1]:
                out.append(cut)
        return out

    def between(self, low: int | None, high: int | None) -> float:
        """Estimated items stamped in ``[low, high)`` (``None``: open)."""
        top = self.total if high is None else self._at(high)
        return top - (0.0 if low is None else self._at(low))

    def _at(self, moment: int) -> float:
        if moment >= self.points[-1]:
            return self.total
        if moment <= self.points[0]:
            return 0.0
        k = 1
        while self.points[k] < moment:
            k += 1
        p0, p1 = self.points[k - 1], self.points[k]
        c0, c1 = self.counts[k - 1], self.counts[k]
        return c0 + (c1 - c0) * (moment - p0) / max(1, p1 - p0)


async def _profile(
    probe: _Probe, *, after: int | None, before: int | None, samples: int, **extra: str
) -> _Profile | None:
    """Where the items of one listing sit in time (``None``: it is empty)."""
    newest, _ = await probe.page(limit=1, after=after, before=before, **extra)
    if not newest:
        return None
    high = newest[0] + 1  # every item is stamped before `high`

    async def empty_before(moment: int) -> bool:
        stamps, _ = await probe.page(limit=1, after=after, before=moment, **extra)
        return not stamps

    # The oldest item: gallop back until nothing is older, then bisect to a fine grain.
    if after is not None:
        low = after + 1
    else:
        step = _HOUR_MS
        while not await empty_before(high - step):
            if step > _MAX_SPAN_MS:
                break
            step *= 8
        low = high - step
    top = high
    grain = max(1, (high - low) // 1024)
    while top - low > grain:
        middle = (low + top) // 2
        if await empty_before(middle):
            low = middle
        else:
            top = middle
    # Density: a full page just before each sample point spans some time.
    points = [low + (high - low) * k // samples for k in range(samples + 1)]
    pages = await _gather(
        [
            lambda p=p: probe.page(limit=_PAGE, after=after, before=p, **extra)  # type: ignore[misc]
            for p in points[1:]
        ]
    )
    counts = [0.0]
    for k, (stamps, last) in enumerate(pages, start=1):
        if last:  # the whole listing before this point: an exact count
            counts.append(float(len(stamps)))
            continue
        span = max(1, points[k] - stamps[-1])
        density = len(stamps) / span
        counts.append(max(counts[-1], counts[-1] + density * (points[k] - points[k - 1])))
    return _Profile(points=points, counts=counts)


def _windowed(
    profile: _Profile,
    pieces: int,
    *,
    endpoint: Endpoint,
    filters: dict[str, str],
    after: int | None,
    before: int | None,
    label: str,
) -> list[Shard]:
    cuts = profile.cuts(pieces)
    if after is not None:
        cuts = [c for c in cuts if c > after + 1]
    windows = window_queries(
        [_text(c) for c in cuts],
        after=None if after is None else _text(after),
        before=None if before is None else _text(before),
    )
    bounds: list[int | None] = [None, *cuts, None]
    shards = []
    for k, window in enumerate(windows):
        estimate = profile.between(bounds[k], bounds[k + 1])
        name = label if len(windows) == 1 else f"{label}w{k:03d}"
        shards.append(
            Shard(
                endpoint=endpoint,
                label=name,
                filters=filters,
                window=window,
                estimate=round(estimate),
            )
        )
    return shards


async def _accounts(client: AsyncPostpress) -> list[str]:
    async with client.accounts.list(limit=_PAGE) as stream:
        return [account.id async for account in stream]


def _encode_filters(endpoint: Endpoint, filters: dict[str, Any]) -> dict[str, str]:
    allowed = _FILTERS[endpoint]
    out: dict[str, str] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if key not in allowed:
            raise InvalidParameterError(
                key, f"is not a filter of {endpoint} shards (allowed: {', '.join(sorted(allowed))})"
            )
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            out[key] = ",".join(value)
        else:
            out[key] = str(value)
    return out


async def plan_shards(
    client: AsyncPostpress,
    endpoint: Endpoint,
    *,
    shards: int = 8,
    by: Literal["auto", "time", "account"] = "auto",
    after: datetime | str | None = None,
    before: datetime | str | None = None,
    samples: int | None = None,
    **filters: Any,
) -> ShardPlan:
    """Probe the data and cut ``endpoint``'s listing into about ``shards`` similar shards.

    ``by="auto"`` cuts messages by time, chats by account, and keeps accounts whole;
    ``by="account"`` gives messages one shard per account with data (large accounts
    cut into windows). ``filters`` are the endpoint's list filters (``account_id``,
    ``sender_id``; for chats ``account_id``, ``account_type``, ``unread``). ``samples``
    is the number of density probes a time profile takes (default ``4 * shards``, at
    least 16). See the module docstring for how the data is found.
    """
    if endpoint not in _ENDPOINTS:
        raise InvalidParameterError("endpoint", f"must be one of {', '.join(_ENDPOINTS)}")
    check_int("shards", shards, minimum=1)
    if by not in {"auto", "time", "account"}:
        raise InvalidParameterError("by", f"must be 'auto', 'time' or 'account', got {by!r}")
    encoded = _encode_filters(endpoint, filters)
    low = None if after is None else _ms("after", after)
    high = None if before is None else _ms("before", before)
    if low is not None and high is not None and high <= low + 1:
        raise InvalidParameterError("before", "must be later than after (by more than 1 ms)")
    outer = Window(
        after=None if low is None else _text(low), before=None if high is None else _text(high)
    )
    if endpoint != "messages" and by == "time":
        raise InvalidParameterError("by", f"{endpoint} cannot be cut by time; use 'account'")
    samples = (
        check_int("samples", samples, minimum=2) if samples is not None else max(16, 4 * shards)
    )
    probe = _Probe(client, endpoint, encoded)
    mode = "single" if endpoint == "accounts" else "account" if endpoint == "chats" else by
    if mode == "auto":
        mode = "time"
    if mode == "single" or shards == 1:
        planned = [Shard(endpoint=endpoint, label="all", filters=encoded, window=outer)]
        mode = "single"
    elif mode == "time":
        profile = await _profile(probe, after=low, before=high, samples=samples)
        if profile is None:
            planned = [
                Shard(endpoint=endpoint, label="all", filters=encoded, window=outer, estimate=0)
            ]
        else:
            planned = _windowed(
                profile,
                shards,
                endpoint=endpoint,
                filters=encoded,
                after=low,
                before=high,
                label="t",
            )
    elif endpoint == "chats":
        planned = await _plan_chats(probe, client, shards, encoded, outer)
    else:
        planned = await _plan_message_accounts(probe, client, shards, encoded, low, high, samples)
    return ShardPlan(
        endpoint=endpoint,
        filters=encoded,
        window=outer,
        by=by,
        requested=shards,
        shards=planned,
        probes=probe.requests,
    )


async def _plan_chats(
    probe: _Probe, client: AsyncPostpress, shards: int, filters: dict[str, str], outer: Window
) -> list[Shard]:
    given = filters.get("account_id")
    ids = given.split(",") if given else await _accounts(client)
    probe.requests += 1 if not given else 0
    rest = {k: v for k, v in filters.items() if k != "account_id"}
    window = {"after": outer.after, "before": outer.before}
    sizes = await _gather(
        [lambda a=a: _chat_count(probe, a, rest, window) for a in ids]  # type: ignore[misc]
    )
    # Largest first into the lightest group: groups of similar estimated size.
    groups: list[tuple[int, list[str]]] = [(0, []) for _ in range(min(shards, len(ids)) or 1)]
    for size, account in sorted(zip(sizes, ids, strict=True), key=lambda pair: -pair[0]):
        groups.sort(key=lambda group: group[0])
        total, members = groups[0]
        groups[0] = (total + size, [*members, account])
    return [
        Shard(
            endpoint="chats",
            label=f"a{k:03d}",
            filters={**rest, "account_id": ",".join(sorted(members))},
            window=outer,
            estimate=total,
        )
        for k, (total, members) in enumerate(sorted(groups, key=lambda g: sorted(g[1])))
        if members
    ]


async def _chat_count(
    probe: _Probe, account: str, filters: dict[str, str], window: dict[str, str | None]
) -> int:
    probe.requests += 1
    shard = Shard(
        endpoint="chats",
        label="probe",
        filters={**filters, "account_id": account},
        window=Window(**window),
    )
    page = await shard_stream(probe.client, shard, limit=_PAGE, prefetch=0)
    # A full page says "at least this many": enough to spread the large accounts.
    return len(page.items) if page.cursor is None else 2 * len(page.items)


async def _plan_message_accounts(
    probe: _Probe,
    client: AsyncPostpress,
    shards: int,
    filters: dict[str, str],
    low: int | None,
    high: int | None,
    samples: int,
) -> list[Shard]:
    if "account_id" in filters:
        ids = [filters["account_id"]]
    else:
        ids = await _accounts(client)
        probe.requests += 1

    async def volume(account: str) -> tuple[str, int, _Profile | None]:
        stamps, last = await probe.page(limit=_PAGE, after=low, before=high, account_id=account)
        if last:
            return account, len(stamps), None
        profile = await _profile(
            probe, after=low, before=high, samples=max(8, samples // 4), account_id=account
        )
        return account, round(profile.total) if profile else 0, profile

    found = await _gather([lambda a=a: volume(a) for a in ids])  # type: ignore[misc]
    found = [entry for entry in found if entry[1] > 0]
    if not found:
        return [
            Shard(endpoint="messages", label="all", filters=filters, window=Window(), estimate=0)
        ]
    total = sum(size for _, size, _ in found)
    # No shard larger than the median account (nor than total/shards): then at least
    # half the shards are between half that size and that size.
    target = max(1, min(total / shards, statistics.median(size for _, size, _ in found)))
    planned: list[Shard] = []
    for index, (account, size, profile) in enumerate(sorted(found)):
        label = f"a{index:03d}"
        scoped = {**filters, "account_id": account}
        pieces = max(1, -(-size // round(target)))
        if profile is None or pieces == 1:
            planned.append(
                Shard(
                    endpoint="messages",
                    label=label,
                    filters=scoped,
                    window=Window(
                        after=None if low is None else _text(low),
                        before=None if high is None else _text(high),
                    ),
                    estimate=size,
                )
            )
            continue
        planned.extend(
            _windowed(
                profile,
                pieces,
                endpoint="messages",
                filters=scoped,
                after=low,
                before=high,
                label=label,
            )
        )
    return planned
