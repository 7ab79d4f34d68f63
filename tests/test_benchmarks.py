"""The benchmarks' own loads still run against the package as it is today.

The benchmarks run on demand only (``nox -s bench``), so a renamed name they borrow from
the package breaks them unseen. The bare loads are cheap on a handful of rows: run them.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench_db_sinks(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("bench_db_sinks", "bench_stores", "_fake"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import bench_db_sinks

    return bench_db_sinks


def _rows(count: int) -> list[tuple[object, ...]]:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    return [
        (f"m{n}", "a1", "c1", "s1", moment, f"text {n}", n % 2, b'{"id":"m%d"}' % n)
        for n in range(count)
    ]


def test_the_duckdb_bare_load_runs(bench_db_sinks: ModuleType, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    result = bench_db_sinks.duckdb_bare(_rows(3), tmp_path / "bare.duckdb")
    assert result.rows == 3
    with duckdb.connect(str(tmp_path / "bare.duckdb")) as db:
        stored = db.execute("SELECT id, data FROM messages ORDER BY id").fetchall()
    assert stored == [("m0", '{"id":"m0"}'), ("m1", '{"id":"m1"}'), ("m2", '{"id":"m2"}')]
