"""``postpress --debug`` shows every request and every retry, never the key."""

from __future__ import annotations

import logging

import pytest

from postpress_async.cli import main


@pytest.fixture
def restore_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """--debug configures the package logger; put it back after the test."""
    logger = logging.getLogger("postpress_async")
    monkeypatch.setattr(logger, "handlers", list(logger.handlers))
    monkeypatch.setattr(logger, "level", logger.level)


@pytest.mark.slow
@pytest.mark.usefixtures("restore_logger")
def test_debug_logs_each_request_and_retry(capsys: pytest.CaptureFixture[str]) -> None:
    """Each attempt is a DEBUG line with its endpoint label; each retry a WARNING line."""
    argv = ["--fake", "--fake-fault-rate", "0.3", "--debug", "--retries", "8"]
    code = main([*argv, "accounts", "list", "--limit", "1", "--max-items", "12"])
    err = capsys.readouterr().err
    assert code == 0, err
    requests = [line for line in err.splitlines() if "DEBUG GET accounts.list" in line]
    retries = [line for line in err.splitlines() if "Retrying GET accounts.list" in line]
    assert len(requests) >= 12
    assert len(requests) == 12 + len(retries)
    assert retries, "a 30 % fault rate over 12+ requests should retry at least once"
    assert "pp_test_key" not in err
