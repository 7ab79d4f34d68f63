"""Every wrong argument of ingest() and verify() is refused by name, before any request
and before the store is opened (a pipeline's typo never costs a backfill, a lock or a
file on disk, and never surfaces as a bare AttributeError)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from postpress_async import InvalidParameterError
from postpress_async.ingest import ClientConfig, ingest, open_sink, plan_shards, verify
from postpress_async.testing import FakePostpress

from ._memory import MemorySink


def _config(server: FakePostpress, **fields: Any) -> ClientConfig:
    return ClientConfig(base_url=server.url, api_key=server.api_key, **fields)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        pytest.param({"limit": 5000}, "limit", id="limit-too-high"),
        pytest.param({"limit": 0}, "limit", id="limit-zero"),
        pytest.param({"limit": "100"}, "limit", id="limit-str"),
        pytest.param({"prefetch": -1}, "prefetch", id="prefetch-negative"),
        pytest.param({"max_in_flight": 0}, "max_in_flight", id="max-in-flight-zero"),
        pytest.param({"attempts": 0}, "attempts", id="attempts-zero"),
        pytest.param({"prefetch": 10**30}, "prefetch: must be at most", id="prefetch-huge"),
        pytest.param({"max_in_flight": 10**30}, "max_in_flight: must be at", id="in-flight-huge"),
        pytest.param({"attempts": 10**30}, "attempts: must be at most", id="attempts-huge"),
        pytest.param({"timeout": -1.0}, "timeout", id="timeout-negative"),
        pytest.param({"max_in_flight": True}, "max_in_flight", id="max-in-flight-bool"),
        pytest.param({"max_in_flight": 1.5}, "max_in_flight", id="max-in-flight-float"),
        pytest.param({"budget": ""}, "budget", id="budget-empty"),
        pytest.param({"budget": 5}, "budget", id="budget-int"),
        pytest.param({"budget": True}, "budget", id="budget-bool"),
    ],
)
def test_a_client_config_with_a_bad_value_is_refused_when_built(
    server: FakePostpress, fields: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        _config(server, **fields)


async def test_a_config_the_client_refuses_fails_before_the_store_is_opened(
    server: FakePostpress,
) -> None:
    config = ClientConfig(base_url="ftp://example.com", api_key="k")
    sink = MemorySink()
    with pytest.raises(InvalidParameterError, match="base_url"):
        await ingest(config, "messages", sink)
    assert not sink.opened
    assert server.stats.requests == 0


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        pytest.param({"config": "https://api.example.com"}, "config", id="config-str"),
        pytest.param({"sink": 5}, "sink", id="sink-int"),
        pytest.param({"engine": "dask"}, "engine", id="engine-str"),
        pytest.param({"progress": "yes"}, "progress", id="progress-str"),
        pytest.param({"follow": "no"}, "follow", id="follow-str"),
        pytest.param({"force": "yes"}, "force", id="force-str"),
        pytest.param({"backfill": 0}, "backfill", id="backfill-int"),
    ],
)
async def test_a_wrong_argument_type_is_refused_by_name_before_anything(
    server: FakePostpress, arguments: dict[str, Any], match: str
) -> None:
    sink = MemorySink()
    call: dict[str, Any] = {"config": _config(server), "sink": sink, **arguments}
    with pytest.raises(InvalidParameterError, match=match):
        await ingest(call.pop("config"), "messages", call.pop("sink"), **call)
    assert not sink.opened
    assert server.stats.requests == 0


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        pytest.param({"config": None}, "config", id="config-none"),
        pytest.param({"sink": 5}, "sink", id="sink-int"),
        pytest.param({"seed": "x"}, "seed", id="seed-str"),
    ],
)
async def test_verify_refuses_a_wrong_argument_by_name_before_anything(
    server: FakePostpress, arguments: dict[str, Any], match: str
) -> None:
    sink = MemorySink()
    call: dict[str, Any] = {"config": _config(server), "sink": sink, **arguments}
    with pytest.raises(InvalidParameterError, match=match):
        await verify(call.pop("config"), "messages", call.pop("sink"), **call)
    assert not sink.opened
    assert server.stats.requests == 0


@pytest.mark.parametrize(
    ("url", "match"),
    [
        pytest.param(None, "url: must be a str", id="none"),  # os.environ.get() of nothing
        pytest.param(5, "url: must be a str", id="int"),
        pytest.param(b"m.jsonl", "url: must be a str", id="bytes"),
        pytest.param("", "url: must not be empty", id="empty"),  # an empty variable
        pytest.param("   ", "url: must not be empty", id="blank"),
    ],
)
def test_open_sink_refuses_what_is_not_a_url_or_path(
    url: Any, match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidParameterError, match=match):
        open_sink(url)
    assert list(tmp_path.iterdir()) == []


async def test_plan_shards_refuses_what_is_not_a_client() -> None:
    with pytest.raises(InvalidParameterError, match="client: must be an AsyncPostpress"):
        await plan_shards("https://api.example.com", "messages")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Proxy-Auth": "secret"}, id="a-dict"),
        pytest.param((("X-A", 5),), id="a-value-not-str"),
        pytest.param(("X-A",), id="not-pairs"),
    ],
)
def test_a_client_config_s_headers_must_be_pairs_of_str(
    server: FakePostpress, headers: Any
) -> None:
    # A dict made repr(config) raise ValueError and a Dask worker fail to decode it.
    with pytest.raises(InvalidParameterError, match="default_headers"):
        _config(server, default_headers=headers)
    assert "secret" not in repr(_config(server, default_headers=(("X-Proxy-Auth", "secret"),)))
