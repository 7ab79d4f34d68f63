"""Does the store hold what the API lists? :func:`verify` compares their ids.

Messages: the span the store holds (its oldest and newest ``timestamp``,
``sink.span``; once its backfill is finished, down to the export's ``after``, the
beginning when it has none, and up to its ``before`` if it has one, since the store
holds all of that) is listed again from the API, cut into time windows of similar size with
the planner's own profile (:func:`~._probe.probe_profile`, a few cheap requests), and in
each window the ids the API lists are compared with the ids the store holds there
(``sink.stored_ids``): *missing* (the API lists it, the store lacks it) and *extra* (the
store holds it, the API no longer lists it), and *repeated*: rows of a message beyond
the first (a JSON lines file appends, so it can hold a message twice; a chat or an
account is stored again when it changes, so only messages count). ``sample=N`` checks N
windows picked at random (``seed``) instead of all of them. Memory: the ids of one window.
A backfill stopped part-way holds part of the span, and what it never reached shows as no
difference: the report counts the stored plan's shards not held to their end
(``unfinished``), and such a store is not ``ok``.

Chats are compared whole: a chat's time is its last activity, which moves, so a time
window of the store and one of the API do not hold the same chats. Accounts are
compared whole (they have no time).

The store is opened as a reader (``writer=False``): a verify may run beside the job that
writes the store; what that job stores while the verify lists may show as a difference.
When the store holds a plan and no filters are given, the plan's filters and window are
the ones compared.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import anyio

from postpress_async._exceptions import InvalidParameterError
from postpress_async._filters import check_resource
from postpress_async._params import check_int
from postpress_async._rows import RowPage
from postpress_async._time import from_ms, to_ms
from postpress_async._words import counted, printable

from ._asked import check_config, check_sink
from ._config import ClientConfig
from ._plan import encode_export_filters
from ._probe import Probe, probe_profile
from ._shards import Endpoint, Window, window_queries
from .sinks import open_sink
from .sinks._base import Sink, stored_plan, unfinished

__all__ = ["VerifyReport", "verify"]

#: Ids shown of each difference, at most.
SHOWN: Final = 10
#: About how many ids a window of messages holds (the memory of a verify).
WINDOW_ITEMS: Final = 50_000
#: Windows a span is cut into, at most.
MAX_WINDOWS: Final = 4096
_MS: Final = timedelta(milliseconds=1)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """How the store and the API compare (:func:`verify`)."""

    endpoint: Endpoint
    url: str
    #: Ids the API lists that the store lacks, and ids the store holds that the API no
    #: longer lists; the first of each (up to 10).
    missing: int
    extra: int
    missing_ids: list[str]
    extra_ids: list[str]
    #: Windows compared, out of how many the span was cut into.
    windows: int
    windows_total: int
    #: Ids the API listed in the windows compared, and ids the store held there.
    compared: int
    stored: int
    #: Items the API listed that could not be read (no id to compare).
    unreadable: int
    #: The store's oldest and newest time (messages), ``None`` if it holds none.
    span: tuple[datetime, datetime] | None
    #: Whether only a random sample of the windows was compared.
    sampled: bool
    #: Rows of a message the store holds beyond the first (in the windows compared), and
    #: the first of those ids (up to 10).
    repeated: int = 0
    repeated_ids: list[str] = dataclasses.field(default_factory=list)
    #: Shards of the stored plan the store does not hold to their end, out of how many
    #: (``0`` of ``0``: no plan). A backfill stopped part-way holds part of the span: what
    #: it never reached is not in the span compared, so it shows as no difference.
    unfinished: int = 0
    shards: int = 0

    @property
    def ok(self) -> bool:
        """The store holds exactly what the API lists, once (in what was compared), and its
        backfill is finished."""
        return self.missing == 0 and self.extra == 0 and self.repeated == 0 and not self.unfinished

    def text(self) -> str:
        """One line: ``messages: 12,345 compared in 3/3 windows: 0 missing, 0 extra``."""
        part = "sampled " if self.sampled else ""
        line = (
            f"{self.endpoint}: {self.compared:,} compared in {part}{self.windows}/"
            f"{self.windows_total} windows: {self.missing:,} missing, {self.extra:,} extra"
        )
        if self.repeated:
            line += f", {self.repeated:,} stored twice"
        # Ids are the server's (and the store's) words: one line, no escape sequence.
        if self.missing_ids:
            line += f" (missing: {printable(', '.join(self.missing_ids))})"
        if self.extra_ids:
            line += f" (extra: {printable(', '.join(self.extra_ids))})"
        if self.repeated_ids:
            line += f" (stored twice: {printable(', '.join(self.repeated_ids))})"
        if self.unreadable:
            line += f"; {counted(self.unreadable, 'unreadable item')} not compared"
        if self.unfinished:
            line += (
                f"; backfill unfinished: {self.unfinished:,} of {self.shards:,} shards not held to"
                " their end (run the export again to finish it)"
            )
        return line


class _Tally:
    def __init__(self) -> None:
        self.missing = self.extra = self.compared = self.stored = self.unreadable = 0
        self.repeated = 0
        self.missing_ids: list[str] = []
        self.extra_ids: list[str] = []
        self.repeated_ids: list[str] = []

    def lacks(self, key: str) -> None:
        self.missing += 1
        if len(self.missing_ids) < SHOWN:
            self.missing_ids.append(key)

    def twice(self, ids: list[str]) -> None:
        """The ids held more than once among ``ids`` (a window's, as the store holds them)."""
        for key, times in sorted(Counter(ids).items()):
            if times > 1:
                self.repeated += times - 1
                if len(self.repeated_ids) < SHOWN:
                    self.repeated_ids.append(key)

    def holds(self, keys: Iterable[str]) -> None:
        for key in sorted(keys):
            self.extra += 1
            if len(self.extra_ids) < SHOWN:
                self.extra_ids.append(key)


async def verify(
    config: ClientConfig,
    endpoint: Endpoint,
    sink: Sink | str | Path,
    *,
    sample: int | None = None,
    seed: int = 0,
    **filters: Any,
) -> VerifyReport:
    """Compare the ids the store holds with the ids the API lists; see the module docstring.

    ``filters`` are the endpoint's list filters (default: those of the stored plan).
    """
    check_config(config)
    check_sink(sink)
    check_resource(endpoint)
    if sample is not None:
        check_int("sample", sample, minimum=1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidParameterError("seed", f"must be an int, got {type(seed).__name__}")
    encoded = encode_export_filters(endpoint, filters)
    store = open_sink(sink) if isinstance(sink, (str, Path)) else sink
    # Built before the store is opened: a configuration the client refuses fails first.
    async with config.client() as client:
        await store.open(writer=False)
        try:
            outer = Window()
            plan = await stored_plan(store, endpoint)
            left = 0 if plan is None else unfinished(plan, await store.positions(endpoint))
            if plan is not None and not filters:
                encoded, outer = plan.filters, plan.window
            tally = _Tally()
            span = None
            if endpoint == "messages":
                span = await store.span(endpoint)
                size = await store.count(endpoint)
                windows = await _windows(client, encoded, outer, span, size, sample)
                if plan is not None and not left:
                    windows = reach_export_edges(windows, outer)
                chosen = windows
                if sample is not None and len(windows) > sample:
                    picks = random.Random(seed).sample(range(len(windows)), sample)
                    chosen = [windows[k] for k in sorted(picks)]
            else:
                windows = chosen = [outer if endpoint == "chats" else Window()]
            for window in chosen:
                await _compare(client, config, store, endpoint, encoded, window, tally)
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled run still lets go of the store
                await store.close()
    return VerifyReport(
        endpoint=endpoint,
        url=store.url,
        missing=tally.missing,
        extra=tally.extra,
        missing_ids=tally.missing_ids,
        extra_ids=tally.extra_ids,
        windows=len(chosen),
        windows_total=len(windows),
        compared=tally.compared,
        stored=tally.stored,
        unreadable=tally.unreadable,
        span=span,
        sampled=len(chosen) < len(windows),
        repeated=tally.repeated,
        repeated_ids=tally.repeated_ids,
        unfinished=left,
        shards=0 if plan is None else len(plan.shards),
    )


async def _windows(
    client: Any,
    filters: dict[str, str],
    outer: Window,
    span: tuple[datetime, datetime] | None,
    size: int,
    sample: int | None,
) -> list[Window]:
    """The windows of similar size that cover the store's span (within ``outer``) once.

    How many: the rows the store holds over :data:`WINDOW_ITEMS` (the API should list
    about as many there); where to cut: the API's profile, so each window holds a
    similar share. (The profile's own total is not trusted for the count: a burst of
    items in one millisecond makes its density estimate explode.)
    """
    if span is None:
        return [outer]  # an empty store: whatever the API lists is missing
    low, high = span[0] - _MS, span[1] + _MS
    if outer.after is not None:
        low = max(low, outer.after)
    if outer.before is not None:
        high = min(high, outer.before)
    if high <= low + _MS:
        return [Window(after=low, before=high)]
    probe = Probe(client, "messages", filters)
    profile = await probe_profile(probe, after=to_ms(low), before=to_ms(high), samples=16)
    if profile is None:
        return [Window(after=low, before=high)]
    pieces = max(1, math.ceil(size / WINDOW_ITEMS))
    if sample is not None:
        pieces = max(pieces, 4 * sample)
    pieces = min(pieces, MAX_WINDOWS)
    cuts = [c for c in profile.cuts(pieces) if to_ms(low) + 1 < c < to_ms(high)]
    return window_queries([from_ms(c) for c in cuts], after=low, before=high)


def reach_export_edges(windows: list[Window], outer: Window) -> list[Window]:
    """``windows`` (oldest first) with the outer edges of a finished export's window.

    A finished backfill holds everything its window lists, not only what lies between its
    oldest and newest stored row: a lost oldest row (or, under ``before=``, a lost newest
    one) is missing too. The first window opens down to the export's ``after`` (``None``:
    the beginning); the last reaches its ``before`` when it has one (an open export's
    newest items are what a re-run stores, not a difference).
    """
    widened = list(windows)
    if widened:
        widened[0] = Window(after=outer.after, before=widened[0].before)
        if outer.before is not None:
            widened[-1] = Window(after=widened[-1].after, before=outer.before)
    return widened


async def _compare(
    client: Any,
    config: ClientConfig,
    store: Sink,
    endpoint: Endpoint,
    filters: dict[str, str],
    window: Window,
    tally: _Tally,
) -> None:
    """Compare one window: the store's ids there against the API's listing of it."""
    if endpoint == "messages":
        ids = await store.stored_ids(endpoint, after=window.after, before=window.before)
        held = set(ids)
        if len(held) < len(ids):  # a message stored twice (chats and accounts: versions)
            tally.twice(ids)
        del ids
    else:
        held = set(await store.stored_ids(endpoint, after=None, before=None))
    tally.stored += len(held)
    listed: set[str] = set()
    # Read as the runner reads (the store's columns, with the time column): an item the
    # store set aside as a reject (a typed column of the wrong type) is unreadable here
    # too, not "missing".
    stream = getattr(client, endpoint).rows(
        filters=filters,
        after=window.after,
        before=window.before,
        columns=_columns(endpoint, store.columns),
        limit=config.limit,
        prefetch=config.prefetch,
        follow=False,
    )
    async with stream:
        async for page in stream.pages():
            assert isinstance(page, RowPage)
            tally.unreadable += len(page.rejects)
            for row in page.items:
                key = row[0]
                if key in listed:
                    continue  # listed twice (a page boundary moved): compared once
                listed.add(key)
                tally.compared += 1
                if key in held:
                    held.discard(key)
                elif "\x00" in key and _nul_held(key) in held:
                    held.discard(_nul_held(key))
                else:
                    tally.lacks(key)
    tally.holds(held)


def _nul_held(key: str) -> str:
    """``key`` as a store that cannot hold U+0000 in a text keeps it (PostgreSQL: the
    README's NUL rule puts U+FFFD in its place), so verify finds it there."""
    return key.replace("\x00", "\ufffd")


def _columns(endpoint: Endpoint, stored: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The columns a store reads rows with (``None``: all), its time column included."""
    time = "created_at" if endpoint == "accounts" else "timestamp"
    if stored is None or time in stored:
        return stored
    return (*stored, time)
