"""Every public entry point of the client against bad input, one table a parameter.

Each row is a call that must raise :class:`InvalidParameterError` naming ``param``, before
any request (the transport records every request it is given) and never as a bare
``TypeError``/``KeyError``/``AttributeError`` from deep inside, an aiohttp or a msgspec
message, a hang, or a value silently taken for another. The ingest entry points have their
own table (``tests/ingest/test_refusal_matrix.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _bad_values import (
    AFTER,
    BAD_CURSOR_TEXT,
    BAD_ID_TEXT,
    BAD_TIME,
    BEFORE,
    HUGE,
    NAIVE,
    NOT_BOOL,
    NOT_INT,
    NOT_STR,
)
from helpers import KEY, RecordingTransport, client_with, empty_list

from postpress_async import (
    AsyncPostpress,
    Checkpoint,
    InvalidParameterError,
    Limits,
    PollPolicy,
    RetryPolicy,
    Timeout,
    WatchState,
    merge,
)
from postpress_async._params import MAX_ATTEMPTS, MAX_IN_FLIGHT, MAX_PREFETCH

Call = Callable[[AsyncPostpress[Any]], object]


def _rows(
    prefix: str, param: str, values: dict[str, object], call: Callable[[object], Call]
) -> Iterator[Any]:
    for name, value in values.items():
        yield pytest.param(call(value), param, id=f"{prefix}-{param}-{name}")


def _kw(method: str, name: str, **fixed: object) -> Callable[[object], Call]:
    """``client.<method>(<name>=value, **fixed)`` for ``method`` like ``"messages.list"``."""
    resource, function = method.split(".")

    def make(value: object) -> Call:
        return lambda c: getattr(getattr(c, resource), function)(**{name: value}, **fixed)

    return make


def _positional(method: str) -> Callable[[object], Call]:
    resource, function = method.split(".")
    return lambda value: lambda c: getattr(getattr(c, resource), function)(value)


LISTS = ("accounts.list", "chats.list", "messages.list")
TIMED = ("chats.list", "messages.list", "messages.rows", "chats.rows")
LIMIT_OUT_OF_RANGE: dict[str, object] = {"zero": 0, "negative": -1, "251": 251, **HUGE}
PAST_PREFETCH: dict[str, object] = {"past-most": MAX_PREFETCH + 1, **HUGE}


def _resource_rows() -> Iterator[Any]:
    for method in LISTS:
        yield from _rows(method, "limit", {**NOT_INT, **LIMIT_OUT_OF_RANGE}, _kw(method, "limit"))
        yield from _rows(
            method,
            "prefetch",
            {**NOT_INT, "negative": -1, **PAST_PREFETCH},
            _kw(method, "prefetch"),
        )
        yield from _rows(method, "max_items", {**NOT_INT, "negative": -1}, _kw(method, "max_items"))
        yield from _rows(
            method, "cursor", {**NOT_STR, **BAD_CURSOR_TEXT, "empty": ""}, _kw(method, "cursor")
        )
        yield from _rows(
            method,
            "resume",
            {**NOT_STR, "str": "cursor", "dict": {"cursor": "c"}},
            _kw(method, "resume"),
        )
    for method in TIMED:
        yield from _rows(method, "after", BAD_TIME, _kw(method, "after"))
        yield from _rows(method, "before", BAD_TIME, _kw(method, "before"))
    for method, ids in (
        ("messages.list", ("account_id", "sender_id")),
        ("chats.list", ("account_id",)),
        ("messages.watch", ("account_id", "sender_id")),
        ("chats.watch", ("account_id",)),
    ):
        for name in ids:
            yield from _rows(
                f"{method}-{name}", name, {**NOT_STR, **BAD_ID_TEXT}, _kw(method, name)
            )
    for method in ("chats.list", "chats.watch"):
        yield from _rows(
            method,
            "account_type",
            {"lower-case": "whatsapp", "unknown": "SMS", "empty": "", "int": 1, "list": ["SLACK"]},
            _kw(method, "account_type"),
        )
        yield from _rows(
            f"{method}-ids",
            "account_id",
            {"empty-list": [], "comma": ["a,b"], "mixed": ["a", 5]},
            _kw(method, "account_id"),
        )
    yield from _rows(
        "chats.list", "unread", {**NOT_BOOL, "str-true": "true"}, _kw("chats.list", "unread")
    )
    for method in ("messages.retrieve", "chats.retrieve"):
        bad = {**NOT_STR, **BAD_ID_TEXT, "none": None, "dot": ".", "dot-dot": ".."}
        yield from _rows(method, method.split(".")[0][:-1] + "_id", bad, _positional(method))
    yield from _rows(
        "chats.retrieve",
        "account_id",
        {**NOT_STR, **BAD_ID_TEXT},
        _kw("chats.retrieve", "account_id", chat_id="c"),
    )


def _watch_rows() -> Iterator[Any]:
    for method in ("messages.watch", "chats.watch"):
        kind = method.split(".")[0]
        yield from _rows(method, "limit", {**NOT_INT, **LIMIT_OUT_OF_RANGE}, _kw(method, "limit"))
        yield from _rows(method, "max_items", {**NOT_INT, "zero": 0}, _kw(method, "max_items"))
        yield from _rows(
            method,
            "since",
            {**BAD_TIME, "none": None, "Now": "NOW", "dict": {}},
            _kw(method, "since"),
        )
        yield from _rows(
            method,
            "since",
            {
                "unfinished-checkpoint": Checkpoint(cursor="c"),
                "accounts-checkpoint": Checkpoint(done=True),
                "state-out-of-range": WatchState(kind=kind, fingerprint="", watermark_ms=10**20),
            },
            _kw(method, "since"),
        )
        yield from _rows(
            method, "policy", {"dict": {"interval": 1}, "float": 2.0}, _kw(method, "policy")
        )


def _checkpoint_rows() -> Iterator[Any]:
    """A Checkpoint built by hand or read from a damaged store: msgspec checks no field of
    a Struct built in Python, so the stream does (``done="no"`` would end it at once,
    a ``follow`` that is not a WatchState failed as an AttributeError)."""
    fields: dict[str, dict[str, object]] = {
        "cursor": {"int": 5, "bytes": b"c", "list": ["c"], **BAD_CURSOR_TEXT},
        "offset": {"negative": -1, "str": "1", "bool": True, "float": 1.0},
        "done": {"str-no": "no", "int-1": 1, "none": None},
        "follow": {"str": "state", "dict": {}, "int": 1, "datetime": NAIVE},
    }
    for method in ("messages.list", "chats.list", "accounts.list"):
        for field, values in fields.items():
            for name, value in values.items():
                checkpoint = Checkpoint(**{field: value})  # type: ignore[arg-type]
                yield pytest.param(
                    _kw(method, "resume")(checkpoint),
                    f"resume.{field}",
                    id=f"{method}-{field}-{name}",
                )


def _rows_rows() -> Iterator[Any]:
    """``rows(filters=...)`` takes the API's strings: once a typo was sent as a query
    parameter the server ignores (every item listed), a bool failed as an AttributeError."""
    for method in ("messages.rows", "chats.rows", "accounts.rows"):
        yield from _rows(
            method,
            "filters",
            {"str": "account_id=a", "list": [("account_id", "a")], "int": 1, "false": False},
            _kw(method, "filters"),
        )
        yield from _rows(method, "follow", NOT_BOOL, _kw(method, "follow"))
        yield from _rows(method, "limit", {**NOT_INT, **LIMIT_OUT_OF_RANGE}, _kw(method, "limit"))
        yield from _rows(
            method, "columns", {"unknown": ["nope"], "str": "text"}, _kw(method, "columns")
        )
    filters = {
        "typo": {"acount_id": "a"},
        "unread-bool": {"unread": True},
        "other-resource": {"sender_id": "s"},
        "int-value": {"account_id": 5},
        "empty-value": {"account_id": ""},
        "surrogate": {"account_id": "a\ud800"},
    }
    for name, value in filters.items():
        yield pytest.param(_kw("chats.rows", "filters")(value), "filters", id=f"chats.rows-{name}")
    yield pytest.param(
        _kw("messages.rows", "filters")({"unread": "true"}), "filters", id="messages.rows-unread"
    )
    yield pytest.param(
        _kw("accounts.rows", "filters")({"account_id": "a"}), "filters", id="accounts.rows-filter"
    )


def _fanout_rows() -> Iterator[Any]:
    window = {"after": AFTER, "before": BEFORE}
    windows = _kw("messages.list_windows", "windows", **window)
    yield from _rows(
        "list_windows", "windows", {**NOT_INT, "zero": 0, "1001": 1001, "huge": 10**30}, windows
    )
    yield from _rows(
        "list_windows",
        "concurrency",
        {**NOT_INT, "zero": 0},
        _kw("messages.list_windows", "concurrency", **window),
    )
    yield from _rows(
        "list_windows",
        "resume",
        {
            "int": 0,
            "bool": True,
            "str": "cursor",
            "generator": (x for x in ()),
            "too-few": [Checkpoint()],
        },
        _kw("messages.list_windows", "resume", **window),
    )
    yield from _rows(
        "list_windows-after",
        "after",
        BAD_TIME,
        _kw("messages.list_windows", "after", before=BEFORE),
    )
    yield pytest.param(
        lambda c: c.messages.list_windows(after=BEFORE, before=AFTER),
        "before",
        id="list_windows-reversed",
    )
    for name, value in {"none": None, "list": [], "str": "s", "generator": (x for x in ())}.items():
        yield pytest.param(lambda c, v=value: merge(v), "streams", id=f"merge-{name}")
    yield pytest.param(lambda c: merge(), "streams", id="merge-nothing")
    yield pytest.param(
        lambda c: merge(*[c.messages.list()] * 2), "streams", id="merge-same-stream-twice"
    )
    yield from _rows(
        "merge",
        "concurrency",
        {**NOT_INT, "zero": 0},
        lambda v: lambda c: merge(c.messages.list(), concurrency=v),
    )


ROWS = [*_resource_rows(), *_watch_rows(), *_checkpoint_rows(), *_rows_rows(), *_fanout_rows()]


@pytest.mark.parametrize(("call", "param"), ROWS)
async def test_a_bad_argument_is_refused_by_name_before_any_request(call: Call, param: str) -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        with pytest.raises(InvalidParameterError) as caught:
            outcome = call(client)
            if hasattr(outcome, "__await__"):  # retrieve: refused when awaited, still unsent
                await outcome  # type: ignore[misc]
    assert caught.value.param == param, caught.value
    assert transport.requests == []


# -- the client and its configuration values ------------------------------------------------

NOT_NUMBER: dict[str, object] = {
    "str": "5",
    "bool": True,
    "bytes": b"5",
    "list": [5],
    "nan": math.nan,
    "inf": math.inf,
    "minus-inf": -math.inf,
    "negative": -1,
    "past-float": 10**400,
}


def _client(**kwargs: object) -> Callable[[], object]:
    return lambda: AsyncPostpress(api_key=KEY, transport=RecordingTransport(empty_list), **kwargs)  # type: ignore[arg-type]


def _view(**kwargs: object) -> Callable[[], object]:
    client = AsyncPostpress(api_key=KEY, transport=RecordingTransport(empty_list))
    return lambda: client.with_options(**kwargs)  # type: ignore[call-overload]


def _config_rows() -> Iterator[Any]:
    seconds = {**NOT_NUMBER}
    del seconds["negative"]  # -1 s: refused as timeout.total, a field of what it builds
    for name, value in seconds.items():
        yield pytest.param(_client(timeout=value), "timeout", id=f"client-timeout-{name}")
    for name, value in {**NOT_INT, "negative": -1, **PAST_PREFETCH}.items():
        yield pytest.param(_client(prefetch=value), "prefetch", id=f"client-prefetch-{name}")
    for name, value in {**NOT_INT, "negative": -1, **PAST_PREFETCH}.items():
        yield pytest.param(_view(prefetch=value), "prefetch", id=f"with_options-prefetch-{name}")
    yield pytest.param(_client(base_url=""), "base_url", id="client-base_url-empty")
    for field in ("telemetry", "allow_insecure_http"):
        for name, value in NOT_BOOL.items():
            yield pytest.param(_client(**{field: value}), field, id=f"client-{field}-{name}")
    falsy_or_not_a_mapping = {"false": False, "zero": 0, "empty-str": "", "list": [("X-A", "1")]}
    for name, value in falsy_or_not_a_mapping.items():
        yield pytest.param(_client(default_headers=value), "default_headers", id=f"headers-{name}")
        yield pytest.param(_client(event_hooks=value), "event_hooks", id=f"event-hooks-{name}")
    for name, value in {"unknown": {"requests": [print]}, "not-a-list": {"request": print}}.items():
        yield pytest.param(_client(event_hooks=value), "event_hooks", id=f"event-hooks-{name}")
    for field, good in (("on_unreadable", "raise"), ("chat_time", "activity")):
        for name, value in {"upper": good.upper(), "int": 1, "empty": "", "list": [good]}.items():
            yield pytest.param(_client(**{field: value}), field, id=f"client-{field}-{name}")
    for field in ("retry", "limits"):
        yield pytest.param(_client(**{field: {}}), field, id=f"client-{field}-dict")
    for name, value in seconds.items():
        yield pytest.param(_view(timeout=value), "timeout", id=f"with_options-timeout-{name}")
    for name, value in {"false": False, "str": "X-A: 1"}.items():
        yield pytest.param(_view(headers=value), "headers", id=f"with_options-headers-{name}")
    for cls, prefix, fields in (
        (Timeout, "timeout", ("connect", "read", "total")),
        (RetryPolicy, "retry", ("wait_initial", "wait_max", "retry_after_max", "deadline")),
        (Limits, "limits", ("requests_per_second", "retry_budget_ratio", "retry_budget_floor")),
        (PollPolicy, "policy", ("interval", "jitter", "idle_backoff", "max_interval", "overlap")),
    ):
        for field in fields:
            for name, value in NOT_NUMBER.items():
                yield pytest.param(
                    lambda c=cls, f=field, v=value: c(**{f: v}),
                    f"{prefix}.{field}",
                    id=f"{prefix}.{field}-{name}",
                )
                yield pytest.param(
                    lambda c=cls, f=field, v=value: c().replace(**{f: v}),
                    f"{prefix}.{field}",
                    id=f"{prefix}.replace-{field}-{name}",
                )
    counts = (
        ("retry", RetryPolicy, "attempts", MAX_ATTEMPTS),
        ("limits", Limits, "max_in_flight", MAX_IN_FLIGHT),
        ("limits", Limits, "max_connections", MAX_IN_FLIGHT),
    )
    for prefix, cls, field, most in counts:
        for name, value in {**NOT_INT, "zero": 0, "past-most": most + 1, **HUGE}.items():
            yield pytest.param(
                lambda c=cls, f=field, v=value: c(**{f: v}),
                f"{prefix}.{field}",
                id=f"{prefix}.{field}-{name}",
            )
    for prefix, cls, field in (
        ("retry", RetryPolicy, "retry_connection_errors"),
        ("limits", Limits, "adaptive"),
    ):
        for name, value in NOT_BOOL.items():
            yield pytest.param(
                lambda c=cls, f=field, v=value: c(**{f: v}),
                f"{prefix}.{field}",
                id=f"{prefix}.{field}-{name}",
            )
    for cls, prefix in (
        (Timeout, "timeout"),
        (RetryPolicy, "retry"),
        (Limits, "limits"),
        (PollPolicy, "policy"),
    ):
        yield pytest.param(
            lambda c=cls: c().replace(tota=1), f"{prefix}.tota", id=f"{prefix}.replace-typo"
        )
    for name, value in {"str-key": {"503": ["*"]}, "str-types": {503: "*"}, "list": [503]}.items():
        yield pytest.param(
            lambda v=value: RetryPolicy(retry_on=v), "retry.retry_on", id=f"retry_on-{name}"
        )


@pytest.mark.parametrize(("build", "param"), list(_config_rows()))
def test_a_bad_configuration_is_refused_by_name_when_built(
    build: Callable[[], object], param: str
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        build()
    assert caught.value.param == param, caught.value
