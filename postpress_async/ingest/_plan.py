"""Shard plans: cut an export into shards of similar size by probing where the data is.

How :func:`plan_shards` finds the data (:mod:`._probe` makes the requests):

* ``messages`` by time: a first full page (the whole listing, one shard, when it is
  the last); then one ``limit=1`` request finds the newest message; a galloping
  then bisecting search of ``limit=1, before=t`` requests finds the oldest; then
  ``limit=250, before=p`` pages at evenly spaced points ``p`` measure the local density
  (250 items over the time they span, or an exact count when the page is the last).
  Integrating the density gives an estimated cumulative count, and the cuts are its
  quantiles, so every window holds about ``total / shards`` messages wherever the data
  sits in time;
* ``messages`` by account: the first page of each account (exact when it is the whole
  account), the same time profile for the larger accounts, which are then cut into
  windows no larger than the median account, nor smaller than ``total / (2 * shards)``
  (at most one shard an account and ``2 * shards`` windows more);
* ``chats``: by account (a chat's time is its last activity, and chats without one
  never match a time bound, so windows would lose them): accounts packed into
  ``shards`` comma-joined groups of similar chat counts;
* ``accounts``: one shard.

Windows follow the API's strict bounds (:func:`~._shards.window_queries`): the outer
bounds are the caller's ``after``/``before`` (open when not given), so the shards
together cover the listing exactly once, including messages that arrive after the
plan was made.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any, Literal

from postpress_async._client import AsyncPostpress
from postpress_async._exceptions import InvalidParameterError
from postpress_async._filters import check_resource, encode_filters
from postpress_async._params import MAX_SHARDS, check_count, check_int
from postpress_async._tasks import gather
from postpress_async._time import from_ms, parse_datetime, to_ms

from ._probe import PAGE, Probe, Profile, probe_profile
from ._shards import Endpoint, Shard, ShardPlan, Window, window_queries

__all__ = ["check_shards", "encode_export_filters", "plan_shards"]


def _ms(name: str, value: datetime | str) -> int:
    # A strict upper bound between two milliseconds is rounded up (parse_datetime's rule).
    return to_ms(parse_datetime(name, value, upper=name == "before"))


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)


def check_shards(shards: object) -> int:
    """An int from 1 to :data:`~postpress_async._params.MAX_SHARDS` (1,000)."""
    return check_count(
        "shards",
        shards,
        most=MAX_SHARDS,
        why="every shard costs probes, requests and a position of its own",
    )


def check_by(endpoint: str, by: object) -> None:
    """How to cut: ``"auto"``, ``"time"`` (messages only) or ``"account"``."""
    if by not in ("auto", "time", "account"):  # a tuple: a list given is refused, not unhashable
        raise InvalidParameterError("by", f"must be 'auto', 'time' or 'account', got {by!r}")
    if endpoint != "messages" and by == "time":
        raise InvalidParameterError("by", f"{endpoint} cannot be cut by time; use 'account'")


def _check_samples(samples: object) -> int:
    """Probes are requests made at once: from 2 to four a shard of the most shards."""
    count = check_int("samples", samples, minimum=2)
    if count > 4 * MAX_SHARDS:
        raise InvalidParameterError(
            "samples", f"must be at most {4 * MAX_SHARDS:,} (a request each), got {count:,}"
        )
    return count


def encode_export_filters(endpoint: Endpoint, filters: dict[str, Any]) -> dict[str, str]:
    """An export's filters as the API's strings (only those given); refuses unknown ones."""
    check_resource(endpoint)
    encoded = encode_filters(endpoint, filters)
    return {name: text for name, text in encoded.items() if text is not None}


async def plan_shards(
    client: AsyncPostpress[Any],
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
    least 16; cut by account, the accounts larger than a page share them, 8 each at
    least). ``shards`` is at most 1,000 and ``samples`` at most 4,000
    (:class:`~postpress_async.InvalidParameterError` before any request). See the module
    docstring for how the data is found.
    """
    if not isinstance(client, AsyncPostpress):
        raise InvalidParameterError(
            "client", f"must be an AsyncPostpress, got {type(client).__name__}"
        )
    check_shards(shards)
    encoded = encode_export_filters(endpoint, filters)
    check_by(endpoint, by)
    low = None if after is None else _ms("after", after)
    high = None if before is None else _ms("before", before)
    if low is not None and high is not None and high <= low + 1:
        raise InvalidParameterError("before", "must be later than after (by more than 1 ms)")
    outer = Window(after=_at(low), before=_at(high))
    samples = _check_samples(samples) if samples is not None else max(16, 4 * shards)
    # Any client will do, read strictly: an account skipped as unreadable would leave its
    # data out of every shard, and one handed out in its place ("yield") has no id.
    readable = client.with_options(on_unreadable="raise")
    probe = Probe(readable, endpoint, encoded)
    mode = "single" if endpoint == "accounts" else "account" if endpoint == "chats" else by
    if mode == "auto":
        mode = "time"
    if mode == "single" or shards == 1:
        planned = [Shard(endpoint=endpoint, label="all", filters=encoded, window=outer)]
        mode = "single"
    elif mode == "time":
        # A listing of one page is fetched by one request: one shard, its exact count
        # (cut, it would cost dozens of probes and give shards left empty).
        stamps, last = await probe.page(limit=PAGE, after=low, before=high)
        profile = (
            None if last else await probe_profile(probe, after=low, before=high, samples=samples)
        )
        if profile is None:
            planned = [
                Shard(
                    endpoint=endpoint,
                    label="all",
                    filters=encoded,
                    window=outer,
                    estimate=len(stamps),
                )
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
        planned = await _plan_chats(probe, readable, shards, encoded, outer)
    else:
        planned = await _plan_message_accounts(probe, readable, shards, encoded, low, high, samples)
    return ShardPlan(
        endpoint=endpoint,
        filters=encoded,
        window=outer,
        by=by,
        requested=shards,
        shards=planned,
        probes=probe.requests,
    )


def _windowed(
    profile: Profile,
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
        [from_ms(c) for c in cuts],
        after=_at(after),
        before=_at(before),
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
    async with client.accounts.list(limit=PAGE) as stream:
        return [account.id async for account in stream]


async def _plan_chats(
    probe: Probe, client: AsyncPostpress, shards: int, filters: dict[str, str], outer: Window
) -> list[Shard]:
    given = filters.get("account_id")
    ids = given.split(",") if given else await _accounts(client)
    probe.requests += 1 if not given else 0
    rest = {k: v for k, v in filters.items() if k != "account_id"}
    sizes = await gather(
        [lambda a=a: probe.count(window=outer, account_id=a) for a in ids]  # type: ignore[misc]
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


async def _plan_message_accounts(
    probe: Probe,
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

    async def first(account: str) -> tuple[str, int, bool]:
        stamps, last = await probe.page(limit=PAGE, after=low, before=high, account_id=account)
        return account, len(stamps), last

    firsts = await gather([lambda a=a: first(a) for a in ids])  # type: ignore[misc]
    # The accounts larger than a page share the density probes: `samples` in all (at
    # least 8 each), not a quarter of them each, which 1,000 accounts would multiply.
    large = sum(1 for _, _, last in firsts if not last)
    each = max(8, min(samples // 4, samples // max(1, large)))

    async def volume(account: str, size: int, last: bool) -> tuple[str, int, Profile | None]:
        if last:
            return account, size, None
        profile = await probe_profile(
            probe, after=low, before=high, samples=each, account_id=account
        )
        return account, round(profile.total) if profile else 0, profile

    found = await gather([lambda f=f: volume(*f) for f in firsts])  # type: ignore[misc]
    found = [entry for entry in found if entry[1] > 0]
    if not found:
        return [
            Shard(endpoint="messages", label="all", filters=filters, window=Window(), estimate=0)
        ]
    total = sum(size for _, size, _ in found)
    # No shard larger than the median account (nor than total/shards): then at least
    # half the shards are between half that size and that size. But none cut smaller
    # than total/(2 * shards): one account holding nearly everything among many small
    # ones would be cut into thousands of windows the size of a small account; so the
    # plan has at most one shard an account and 2 * shards windows more.
    median = statistics.median(size for _, size, _ in found)
    target = max(1, total / (2 * shards), min(total / shards, median))
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
                    window=Window(after=_at(low), before=_at(high)),
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
