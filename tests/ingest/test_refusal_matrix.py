"""The ingest entry points against bad input, one table: ``ingest``/``sync``, ``verify``,
``plan_shards``, ``open_sink``, ``LocalEngine``.

Each row must raise :class:`InvalidParameterError` naming ``param`` before the store is
opened and before any request (the config points at a port nothing listens on, and
``plan_shards``' client records its requests): never a bare ``TypeError`` from inside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _bad_values import AFTER, BAD_ID_TEXT, BAD_TIME, NOT_BOOL, NOT_INT, NOT_STR
from helpers import RecordingTransport, client_with, empty_list

from postpress_async import InvalidParameterError
from postpress_async.ingest import ClientConfig, LocalEngine, ingest, open_sink, plan_shards, verify

from ._memory import MemorySink

#: Nothing listens there: a row that got past its checks would fail to connect instead.
CONFIG = ClientConfig(base_url="http://127.0.0.1:9/api/v1", api_key="k", attempts=1)

BAD_ENDPOINT: dict[str, object] = {
    "singular": "message",
    "upper": "MESSAGES",
    "empty": "",
    "none": None,
    "list": ["messages"],
}
BAD_SHARDS: dict[str, object] = {**NOT_INT, "zero": 0, "1001": 1001, "huge": 10**30}
BAD_BY: dict[str, object] = {
    "upper": "TIME",
    "empty": "",
    "int": 1,
    "list": ["time"],  # once: TypeError: unhashable type: 'list'
    "dict": {"time": 1},
}
BAD_FILTERS: dict[str, dict[str, object]] = {
    "typo": {"acount_id": "a"},
    "chats-only": {"unread": True},
    **{f"account_id-{name}": {"account_id": value} for name, value in BAD_ID_TEXT.items()},
    **{f"sender_id-{name}": {"sender_id": value} for name, value in NOT_STR.items()},
}

Run = Callable[[MemorySink], object]


def _ingest(endpoint: object = "messages", **arguments: object) -> Run:
    return lambda sink: ingest(CONFIG, endpoint, sink, **arguments)  # type: ignore[arg-type]


def _verify(endpoint: object = "messages", **arguments: object) -> Run:
    return lambda sink: verify(CONFIG, endpoint, sink, **arguments)  # type: ignore[arg-type]


def _store_rows() -> Iterator[Any]:
    for name, value in BAD_ENDPOINT.items():
        yield pytest.param(_ingest(value), "endpoint", id=f"ingest-endpoint-{name}")
        yield pytest.param(_verify(value), "endpoint", id=f"verify-endpoint-{name}")
    for name, value in BAD_SHARDS.items():
        yield pytest.param(_ingest(shards=value), "shards", id=f"ingest-shards-{name}")
    for name, value in BAD_BY.items():
        yield pytest.param(_ingest(by=value), "by", id=f"ingest-by-{name}")
    yield pytest.param(_ingest("chats", by="time"), "by", id="ingest-chats-by-time")
    for flag in ("force", "follow", "backfill"):
        for name, value in NOT_BOOL.items():
            yield pytest.param(_ingest(**{flag: value}), flag, id=f"ingest-{flag}-{name}")
    for bound in ("after", "before"):
        for name, value in BAD_TIME.items():
            yield pytest.param(_ingest(**{bound: value}), bound, id=f"ingest-{bound}-{name}")
    for name, value in {**BAD_TIME, "dict": {}}.items():
        yield pytest.param(_ingest(backfill=False, since=value), "since", id=f"ingest-since-{name}")
    for name, value in {"dict": {"interval": 1}, "float": 2.0}.items():
        yield pytest.param(_ingest(policy=value), "policy", id=f"ingest-policy-{name}")
    for name, filters in BAD_FILTERS.items():
        param = next(iter(filters))
        yield pytest.param(_ingest(**filters), param, id=f"ingest-filter-{name}")
        yield pytest.param(_verify(**filters), param, id=f"verify-filter-{name}")
    for name, value in {**NOT_INT, "zero": 0}.items():
        yield pytest.param(_verify(sample=value), "sample", id=f"verify-sample-{name}")
    for name, value in {"str": "1", "bool": True, "float": 1.0, "none": None}.items():
        yield pytest.param(_verify(seed=value), "seed", id=f"verify-seed-{name}")


@pytest.mark.parametrize(("run", "param"), list(_store_rows()))
async def test_ingest_and_verify_refuse_by_name_before_the_store_opens(
    run: Run, param: str
) -> None:
    sink = MemorySink()
    with pytest.raises(InvalidParameterError) as caught:
        await run(sink)  # type: ignore[misc]
    assert caught.value.param == param, caught.value
    assert not sink.opened


def _plan_rows() -> Iterator[Any]:
    for name, value in BAD_ENDPOINT.items():
        yield pytest.param("endpoint", {"endpoint": value}, id=f"endpoint-{name}")
    for name, value in BAD_SHARDS.items():
        yield pytest.param("shards", {"shards": value}, id=f"shards-{name}")
    for name, value in BAD_BY.items():
        yield pytest.param("by", {"by": value}, id=f"by-{name}")
    yield pytest.param("by", {"endpoint": "accounts", "by": "time"}, id="accounts-by-time")
    for name, value in {**NOT_INT, "one": 1, "huge": 10**30}.items():
        yield pytest.param("samples", {"samples": value}, id=f"samples-{name}")
    for bound in ("after", "before"):
        for name, value in BAD_TIME.items():
            yield pytest.param(bound, {bound: value}, id=f"{bound}-{name}")
    yield pytest.param("before", {"after": AFTER, "before": AFTER}, id="empty-window")
    for name, filters in BAD_FILTERS.items():
        yield pytest.param(next(iter(filters)), filters, id=f"filter-{name}")


@pytest.mark.parametrize(("param", "arguments"), list(_plan_rows()))
async def test_plan_shards_refuses_by_name_before_any_request(
    param: str, arguments: dict[str, Any]
) -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        endpoint = arguments.pop("endpoint", "messages")
        with pytest.raises(InvalidParameterError) as caught:
            await plan_shards(client, endpoint, **arguments)
    assert caught.value.param == param, caught.value
    assert transport.requests == []


@pytest.mark.parametrize("entry", ["ingest", "verify", "plan_shards"])
async def test_a_wrong_endpoint_name_is_shown_beside_the_right_ones(entry: str) -> None:
    # A first mistake (the singular) must read as one: what was given, and what to write.
    with pytest.raises(InvalidParameterError) as caught:
        if entry == "plan_shards":
            async with client_with(RecordingTransport(empty_list)) as client:
                await plan_shards(client, "message")  # type: ignore[arg-type]
        else:
            await (_ingest if entry == "ingest" else _verify)("message")(MemorySink())  # type: ignore[misc]
    assert "got 'message'" in str(caught.value)
    assert "accounts, chats, messages" in str(caught.value)


def _object_rows() -> Iterator[Any]:
    for name, value in NOT_BOOL.items():
        yield pytest.param(
            lambda v=value: open_sink("out.jsonl", force=v), "force", id=f"open_sink-force-{name}"
        )
    for field in ("concurrency", "max_pages"):
        for name, value in {**NOT_INT, "zero": 0, "huge": 10**30}.items():
            yield pytest.param(
                lambda f=field, v=value: LocalEngine(**{f: v}), field, id=f"engine-{field}-{name}"
            )


@pytest.mark.parametrize(("build", "param"), list(_object_rows()))
def test_a_sink_or_an_engine_with_a_bad_argument_is_refused_by_name(
    build: Callable[[], object], param: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidParameterError) as caught:
        build()
    assert caught.value.param == param, caught.value
    assert list(tmp_path.iterdir()) == []
