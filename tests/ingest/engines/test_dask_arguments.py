"""DaskEngine's arguments are checked when it is built (no cluster, no Dask import)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from postpress_async import InvalidParameterError
from postpress_async._exceptions import EngineUnavailableError
from postpress_async.ingest import ClientConfig, SinkUnavailableError, ingest, open_sink
from postpress_async.ingest.engines.dask import DaskEngine


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        pytest.param({"scheduler": 8786}, "scheduler", id="scheduler-int"),
        pytest.param({"scheduler": ""}, "scheduler", id="scheduler-empty"),
        pytest.param({"connect_timeout": "10"}, "connect_timeout", id="timeout-str"),
        pytest.param({"connect_timeout": 0}, "connect_timeout", id="timeout-zero"),
        pytest.param({"connect_timeout": float("inf")}, "connect_timeout", id="timeout-inf"),
        pytest.param({"workers": 0}, "workers", id="no-workers"),
        pytest.param({"retries": -1}, "retries", id="negative-retries"),
        pytest.param({"workers": 10**30}, "workers", id="workers-huge"),
        pytest.param({"retries": 10**30}, "retries", id="retries-huge"),
        pytest.param({"max_in_flight": 10**30}, "max_in_flight", id="in-flight-huge"),
        # An existing cluster has its own workers: the number was silently ignored.
        pytest.param(
            {"scheduler": "tcp://scheduler:8786", "workers": 8},
            "workers",
            id="workers-and-scheduler",
        ),
        # Dask refused these with a bare ValueError once the store was open, and left its
        # Client to warn as garbage: the dashboard's URL, a host without its port.
        pytest.param({"scheduler": "http://scheduler:8787"}, "scheduler", id="dashboard-url"),
        pytest.param({"scheduler": "scheduler"}, "scheduler", id="no-port"),
        pytest.param({"scheduler": "tcp://scheduler"}, "scheduler", id="tcp-no-port"),
        pytest.param({"scheduler": "tcp://scheduler:99999"}, "scheduler", id="port-too-big"),
        pytest.param({"scheduler": "foo://scheduler:8786"}, "scheduler", id="unknown-scheme"),
    ],
)
def test_a_wrong_argument_is_refused_by_name(arguments: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        DaskEngine(**arguments)


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("tcp://scheduler:8786", id="tcp"),
        pytest.param("scheduler:8786", id="no-scheme"),  # Dask's default: tcp
        pytest.param("tls://10.0.0.5:8786", id="tls"),
        pytest.param("tcp://[::1]:8786", id="ipv6"),
        pytest.param("ucx://scheduler:13337", id="ucx"),
    ],
)
def test_a_scheduler_address_dask_takes_is_kept(address: str) -> None:
    assert DaskEngine(scheduler=address).scheduler == address


class FakeClient:
    """Stands for a distributed.Client (no Dask here): not an address."""


def test_a_dask_client_given_as_scheduler_is_refused_with_where_its_address_is() -> None:
    with pytest.raises(InvalidParameterError, match=r"client\.scheduler\.address"):
        DaskEngine(scheduler=FakeClient())  # type: ignore[arg-type]


def test_the_dashboard_url_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidParameterError, match="dashboard") as refused:
        DaskEngine(scheduler="http://scheduler:8787")
    assert refused.value.param == "scheduler"


def test_good_arguments_are_kept() -> None:
    engine = DaskEngine(scheduler="tcp://scheduler:8786", connect_timeout=2.5)
    assert (engine.scheduler, engine.connect_timeout) == ("tcp://scheduler:8786", 2.5)
    assert DaskEngine(workers=3).workers == 3
    assert DaskEngine().workers == 2


@pytest.mark.parametrize(
    ("url", "scheduler", "not_named"),
    [
        pytest.param("m.jsonl", None, ("DuckDB", "SQLite"), id="jsonl"),
        pytest.param("duckdb:///m.duckdb", None, ("JSON lines", "SQLite"), id="duckdb"),
        pytest.param(
            "sqlite:///m.db", "tcp://scheduler:8786", ("JSON lines", "DuckDB"), id="sqlite"
        ),
    ],
)
def test_a_store_the_workers_cannot_share_is_refused_by_its_own_url(
    tmp_path: Path, url: str, scheduler: str | None, not_named: tuple[str, ...]
) -> None:
    """The refusal names the store given and what it cannot do, never another kind of store
    (a DuckDB file was refused as "one JSON lines file")."""
    sink = open_sink(url if "://" in url else str(tmp_path / url))
    with pytest.raises(SinkUnavailableError) as refused:
        DaskEngine(scheduler=scheduler).check(sink)
    text = str(refused.value)
    assert text.startswith(f"{sink.url}: ")
    assert not any(kind in text for kind in not_named), text


async def test_without_distributed_the_engine_is_refused_before_the_store_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal came once the store was opened: an empty store was left behind."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    config = ClientConfig(base_url="http://127.0.0.1:9", api_key="k", allow_insecure_http=True)
    with pytest.raises(EngineUnavailableError, match=r"pip install 'postpress-async\[dask\]'"):
        await ingest(config, "messages", f"sqlite:///{tmp_path}/m.db", engine=DaskEngine())
    assert os.listdir(tmp_path) == []
