"""The arguments of one ingest, checked before the sink is opened or any request is made.

:meth:`Asked.check` refuses what cannot work together (a frozen window with a follow,
``since`` with a backfill, times on accounts, ...) with
:class:`~postpress_async.InvalidParameterError`; :meth:`Asked.differences` and
:meth:`Asked.ignored` compare a re-run's arguments with the plan the sink holds.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from postpress_async._exceptions import InvalidParameterError
from postpress_async._filters import WATCHED, check_resource
from postpress_async._params import check_flag
from postpress_async._poll import PollPolicy, start_state
from postpress_async._positions import filters_fingerprint
from postpress_async._time import parse_datetime, to_ms

from ._config import ClientConfig
from ._plan import check_by, check_shards, encode_export_filters
from ._run import IngestProgress
from ._shards import Endpoint, ShardPlan, Window

__all__ = ["Asked", "check_config", "check_engine", "check_progress", "check_sink"]

#: What a sink and an engine given as objects must have (both are protocols: checked by
#: their methods, so a typo such as ``engine="dask"`` is named, not an AttributeError).
_SINK_METHODS: Final = ("open", "close", "commit", "positions", "count")
_ENGINE_METHODS: Final = ("check", "run", "__aenter__", "__aexit__")


def check_config(config: object) -> ClientConfig:
    """A :class:`ClientConfig` (its own fields are checked when it is built)."""
    if not isinstance(config, ClientConfig):
        raise InvalidParameterError(
            "config",
            f"must be a ClientConfig (ClientConfig.from_client(client) or "
            f"ClientConfig(base_url=..., api_key=...)), got {type(config).__name__}",
        )
    return config


def check_sink(sink: object) -> None:
    """A URL, a path, or an object with the sink's methods."""
    if isinstance(sink, (str, Path)):
        return
    if not all(callable(getattr(sink, name, None)) for name in _SINK_METHODS):
        raise InvalidParameterError(
            "sink",
            f"must be a URL (sqlite:///m.db, postgresql://..., duckdb:///m.duckdb), a path "
            f"or a Sink, got {type(sink).__name__}",
        )


def check_engine(engine: object) -> None:
    """``None`` or an object with the engine's methods."""
    if engine is not None and not all(
        callable(getattr(engine, name, None)) for name in _ENGINE_METHODS
    ):
        raise InvalidParameterError(
            "engine",
            f"must be an Engine (LocalEngine(), DaskEngine(...)) or None, "
            f"got {type(engine).__name__}",
        )


def check_progress(progress: object) -> None:
    """``None`` or an :class:`IngestProgress`."""
    if progress is not None and not isinstance(progress, IngestProgress):
        raise InvalidParameterError(
            "progress", f"must be an IngestProgress or None, got {type(progress).__name__}"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Asked:
    """The arguments of one ingest, checked (nothing here makes a request)."""

    endpoint: Endpoint
    #: As given (``None``: not given; a new plan takes 8 shards, cut "auto").
    shards: int | None
    by: str | None
    force: bool
    follow: bool
    backfill: bool
    since: object
    policy: PollPolicy
    window: Window
    #: The filters as given (for the planner) and as the API's strings.
    filters: dict[str, Any]
    encoded: dict[str, str]

    @classmethod
    def check(
        cls,
        endpoint: str,
        *,
        shards: int | None,
        by: str | None,
        force: bool,
        follow: bool,
        backfill: bool,
        since: object,
        policy: PollPolicy | None,
        after: datetime | str | None,
        before: datetime | str | None,
        filters: dict[str, Any],
    ) -> Asked:
        for name, flag in (("force", force), ("follow", follow), ("backfill", backfill)):
            check_flag(name, flag)  # truthiness would read follow="no" as yes, forever
        resource = check_resource(endpoint)
        if shards is not None:
            check_shards(shards)
        if by is not None:
            check_by(resource, by)
        if policy is None:
            policy = PollPolicy()
        elif not isinstance(policy, PollPolicy):
            raise InvalidParameterError(
                "policy", f"must be a PollPolicy, got {type(policy).__name__}"
            )
        encoded = encode_export_filters(resource, filters)
        window = Window(
            after=None if after is None else parse_datetime("after", after),
            before=None if before is None else parse_datetime("before", before, upper=True),
        )
        if (
            window.after is not None
            and window.before is not None
            and to_ms(window.before) <= to_ms(window.after) + 1
        ):
            raise InvalidParameterError("before", "must be later than after (by more than 1 ms)")
        timed = window.after is not None or window.before is not None
        if resource == "accounts" and timed:
            raise InvalidParameterError(
                "after" if window.after is not None else "before",
                "accounts have no time to filter by; export them whole",
            )
        if follow and window.before is not None:
            raise InvalidParameterError(
                "follow",
                "an export with before= is a frozen window: it has no follow; "
                "drop before= to keep the store in sync, or follow=False",
            )
        if backfill:
            if since is not None:
                raise InvalidParameterError(
                    "since",
                    "a backfill follows from where it ended; since= is where a follow "
                    "without backfill (backfill=False) starts",
                )
        else:
            if timed:
                raise InvalidParameterError(
                    "after" if window.after is not None else "before",
                    "a follow without backfill starts from since= ('now' or a time)",
                )
            if resource in WATCHED:  # check since now: a bad one fails before any request
                start_state(
                    "now" if since is None else since,
                    kind=resource,  # type: ignore[arg-type]
                    fingerprint=filters_fingerprint(resource, encoded),
                )
            elif since is not None:
                raise InvalidParameterError(
                    "since", "accounts have no time: a refresh lists them all"
                )
        return cls(
            endpoint=resource,
            shards=shards,
            by=by,
            force=force,
            follow=follow,
            backfill=backfill,
            since=since,
            policy=policy,
            window=window,
            filters=filters,
            encoded=encoded,
        )

    def differences(self, plan: ShardPlan) -> list[str]:
        """What of the export's identity (filters, window) differs from ``plan``'s."""
        found = []
        if plan.filters != self.encoded:
            found.append(f"filters: {plan.filters!r} -> {self.encoded!r}")
        for side in ("after", "before"):
            old, new = getattr(plan.window, side), getattr(self.window, side)
            if (None if old is None else to_ms(old)) != (None if new is None else to_ms(new)):
                found.append(f"{side}: {_text(old)} -> {_text(new)}")
        return found

    def ignored(self, plan: ShardPlan) -> list[str]:
        """Notes for the options that only shape a new plan, asked otherwise on a re-run."""
        notes = []
        if self.shards is not None and self.shards != plan.requested:
            notes.append(
                f"shards={self.shards} ignored: the stored plan has {plan.requested} "
                "(force=True re-plans and starts over)"
            )
        if self.by is not None and self.by != plan.by:
            notes.append(
                f"by={self.by!r} ignored: the stored plan was cut by={plan.by!r} "
                "(force=True re-plans and starts over)"
            )
        return notes


def _text(moment: datetime | None) -> str:
    return "open" if moment is None else moment.isoformat()
