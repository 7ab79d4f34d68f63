"""The pytest plugin: its fixtures work, and it degrades cleanly without pytest-asyncio."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

from postpress_async import AsyncPostpress
from postpress_async.testing import Dataset, FakePostpress

USER_TEST = textwrap.dedent(
    """
    import aiohttp
    import pytest

    from postpress_async.testing import Dataset, Faults


    @pytest.fixture(scope="session")
    def postpress_dataset():
        return Dataset(seed=3, messages=20, chats=4)


    @pytest.fixture
    def postpress_faults():
        return Faults(rates={"service_unavailable": 1.0})


    def test_ground_truth(postpress_ground_truth):
        assert len(postpress_ground_truth.expected_message_ids()) == 20


    async def test_client(postpress_client, postpress_ground_truth):
        from postpress_async import ServiceUnavailableError

        with pytest.raises(ServiceUnavailableError) as info:
            await postpress_client.messages.list()
        assert info.value.type == "errors/service_unavailable"
        assert postpress_client.stats().total_retries > 0


    async def test_server(postpress_server):
        async with aiohttp.ClientSession() as http:
            headers = {"X-API-KEY": postpress_server.api_key}
            async with http.get(postpress_server.url + "/messages", headers=headers) as r:
                assert r.status == 503
        assert postpress_server.dataset.message_count == 20
    """
)


_RUNNER = textwrap.dedent(
    """
    import sys

    if sys.argv[1] == "hide-asyncio":

        class _NoPytestAsyncio:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == "pytest_asyncio":
                    raise ImportError("pytest-asyncio is not installed")
                return None

        sys.meta_path.insert(0, _NoPytestAsyncio())

    import pytest

    sys.exit(pytest.main(sys.argv[2:]))
    """
)


def run_pytest(tmp_path: Path, *, hide_asyncio: bool = False) -> str:
    """Run pytest on the user test file in a fresh interpreter; return its output."""
    sync_user = "\n\ndef test_sync_server(postpress_server):\n    pass\n"
    (tmp_path / "test_user.py").write_text(USER_TEST + (sync_user if hide_asyncio else ""))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    (tmp_path / "run.py").write_text(_RUNNER)
    mode = "hide-asyncio" if hide_asyncio else "normal"
    # Plugins are named explicitly, so the run works whether or not the pytest11 entry
    # point is installed, and pytest-asyncio can be left out.
    args = ["-q", "-rA", "-p", "postpress_async.testing.pytest_plugin", "test_user.py"]
    if not hide_asyncio:
        args += ["-p", "pytest_asyncio.plugin"]
    result = subprocess.run(
        [sys.executable, "run.py", mode, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    return result.stdout + result.stderr


async def test_fixtures_serve_the_default_dataset(
    postpress_server: FakePostpress, postpress_dataset: Dataset, postpress_api_key: str
) -> None:
    """``postpress_server`` runs the ``postpress_dataset`` with ``postpress_api_key``."""
    assert postpress_server.dataset is postpress_dataset
    assert postpress_server.api_key == postpress_api_key == "pp_test_key"
    assert postpress_server.url.startswith("http://127.0.0.1:")
    assert postpress_server.url.endswith("/api/v1")
    async with aiohttp.ClientSession() as http:
        headers = {"X-API-KEY": postpress_api_key}
        async with http.get(f"{postpress_server.url}/accounts", headers=headers) as response:
            assert response.status == 200


@pytest.mark.slow
def test_users_override_dataset_and_faults(tmp_path: Path) -> None:
    """A user's overrides of ``postpress_dataset``/``postpress_faults`` reach the server."""
    output = run_pytest(tmp_path)
    assert "3 passed" in output, output


@pytest.mark.slow
def test_without_pytest_asyncio_only_the_server_fixture_fails(tmp_path: Path) -> None:
    """Without pytest-asyncio the plugin loads, sync fixtures work, the error is explicit."""
    output = run_pytest(tmp_path, hide_asyncio=True)
    assert "PASSED test_user.py::test_ground_truth" in output, output
    assert "ERROR test_user.py::test_sync_server" in output, output
    assert "needs pytest-asyncio" in output, output
    assert "1 passed" in output, output


async def test_the_client_fixture_talks_to_the_server(
    postpress_client: AsyncPostpress, postpress_ground_truth: Dataset
) -> None:
    """``postpress_client`` is an SDK client bound to ``postpress_server``."""
    ids = [m.id async for m in postpress_client.messages.list(limit=250)]
    assert ids == postpress_ground_truth.expected_message_ids()


async def test_the_client_fixture_retries_a_429_fast_too(
    postpress_client: AsyncPostpress, postpress_server: FakePostpress
) -> None:
    """The fake's 429 says ``Retry-After: 1``; the fixture's "fast retries" cap it as they
    cap the backoff, so a test with rate-limit faults does not sleep a second a retry."""
    postpress_server.inject("messages.list", ["rate_limited", "rate_limited"])
    page = await postpress_client.messages.list()
    assert page.items
    stats = postpress_client.stats()
    assert stats.retries == {"429 errors/too_many_requests": 2}
    assert stats.retry_wait_seconds <= 2 * postpress_client.retry.wait_max
