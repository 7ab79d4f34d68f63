"""The one upsert of the SQL stores: a row whose id the table holds replaces all of it."""

from __future__ import annotations

import sqlite3

import pytest

from postpress_async.ingest.sinks import sqlite as sqlite_module
from postpress_async.ingest.sinks._base import TABLES
from postpress_async.ingest.sinks._sql import column_names, schema, upsert


@pytest.mark.parametrize("endpoint", list(TABLES))
def test_a_row_stored_again_replaces_every_column_but_its_id(endpoint: str) -> None:
    names = column_names(endpoint)  # type: ignore[arg-type]
    values = f"VALUES ({', '.join('?' * len(names))})"
    statement = upsert(endpoint, values)  # type: ignore[arg-type]
    db = sqlite3.connect(":memory:")
    try:
        for create in schema(sqlite_module.TYPES):
            db.execute(create)
        db.execute(statement, ["x", *(f"first {name}" for name in names[1:])])
        db.execute(statement, ["x", *(f"second {name}" for name in names[1:])])
        held = db.execute(f"SELECT {', '.join(names)} FROM {endpoint}").fetchall()
    finally:
        db.close()
    assert held == [("x", *(f"second {name}" for name in names[1:]))]
