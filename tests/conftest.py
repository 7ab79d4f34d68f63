from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTPRESS_API_KEY", raising=False)
    monkeypatch.delenv("POSTPRESS_BASE_URL", raising=False)
