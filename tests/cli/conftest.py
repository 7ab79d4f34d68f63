"""The PostgreSQL fixtures of the ingest tests, for the CLI's end-to-end tests."""

from __future__ import annotations

# pytest imports tests/ingest/conftest.py as `ingest.conftest` (tests/ is on sys.path):
# the same throwaway cluster and one fresh database a test.
from ingest.conftest import pg_url as pg_url
from ingest.conftest import postgres as postgres
