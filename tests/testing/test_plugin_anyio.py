"""The plugin's fixtures in tests marked for anyio: on the loop that runs the test, or a clear
error at once, never a hang.

Each case runs pytest in a fresh interpreter with the plugins named in a given order (the
order decides which plugin's fixture hook runs first), under a timeout: a hang shows as
the timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEADER = textwrap.dedent(
    """
    import pytest

    from postpress_async.testing import Dataset


    @pytest.fixture(scope="session")
    def postpress_dataset():
        return Dataset(seed=3, messages=20, chats=4)


    async def walk(client):
        return [m.id async for m in client.messages.list(limit=250)]
    """
)

ANYIO_TEST = textwrap.dedent(
    """

    @pytest.mark.anyio
    async def test_anyio(postpress_client, postpress_ground_truth):
        assert await walk(postpress_client) == postpress_ground_truth.expected_message_ids()
    """
)

PLAIN_TEST = textwrap.dedent(
    """

    {mark}
    async def test_plain(postpress_client, postpress_ground_truth):
        assert await walk(postpress_client) == postpress_ground_truth.expected_message_ids()
    """
)

BOTH_MARKS_TEST = textwrap.dedent(
    """

    @pytest.mark.anyio
    @pytest.mark.asyncio
    async def test_both_marks(postpress_client, postpress_ground_truth):
        assert await walk(postpress_client) == postpress_ground_truth.expected_message_ids()
    """
)

TRIO_TEST = textwrap.dedent(
    """

    @pytest.mark.anyio
    @pytest.mark.parametrize("anyio_backend", ["trio"])
    async def test_trio(postpress_server):
        pass
    """
)

PLUGINS = {
    # pluggy calls the plugin registered last first
    "anyio-first": ["pytest_asyncio.plugin", "anyio.pytest_plugin"],
    "asyncio-first": ["anyio.pytest_plugin", "pytest_asyncio.plugin"],
}


def run_pytest(tmp_path: Path, mode: str, order: str, tests: str) -> str:
    """Run ``tests`` under pytest-asyncio's ``mode`` with the plugins in ``order``."""
    (tmp_path / "test_user.py").write_text(HEADER + tests)
    (tmp_path / "pytest.ini").write_text(
        f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
    )
    args = ["-q", "-rA", "-p", "no:cacheprovider", "-p", "postpress_async.testing.pytest_plugin"]
    for plugin in PLUGINS[order]:
        args += ["-p", plugin]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *args, "test_user.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=15,
            env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the run hung (timed out)", pytrace=False)
    return result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("order", sorted(PLUGINS))
def test_strict_mode_an_anyio_test_gets_fixtures_on_its_loop(tmp_path: Path, order: str) -> None:
    """Strict mode: anyio runs a test marked for it, and the fixtures are set up on its loop
    whichever plugin's hook comes first; pytest-asyncio's own tests are untouched."""
    tests = ANYIO_TEST + PLAIN_TEST.format(mark="@pytest.mark.asyncio")
    output = run_pytest(tmp_path, "strict", order, tests)
    assert "PASSED test_user.py::test_anyio[asyncio]" in output, output
    assert "PASSED test_user.py::test_plain" in output, output
    assert "2 passed" in output, output


@pytest.mark.slow
def test_auto_mode_an_anyio_test_works_when_pytest_asyncio_sets_up_fixtures(
    tmp_path: Path,
) -> None:
    """Auto mode, pytest-asyncio's hook first: the test and fixtures share its loop."""
    output = run_pytest(tmp_path, "auto", "asyncio-first", ANYIO_TEST + PLAIN_TEST.format(mark=""))
    assert "2 passed" in output, output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "tests", "test_id"),
    [
        ("auto", ANYIO_TEST, "test_anyio[asyncio]"),
        ("strict", BOTH_MARKS_TEST, "test_both_marks[asyncio]"),
    ],
)
def test_a_test_pytest_asyncio_runs_but_anyio_would_set_up_fails_at_once(
    tmp_path: Path, mode: str, tests: str, test_id: str
) -> None:
    """pytest-asyncio runs the test while anyio's hook, first, would set up the fixtures on
    anyio's loop, idle during the test: a clear error naming the fixture, not a hang."""
    output = run_pytest(tmp_path, mode, "anyio-first", tests + PLAIN_TEST.format(mark=""))
    assert f"ERROR test_user.py::{test_id}" in output, output
    assert "postpress_server: this test is run by pytest-asyncio" in output, output
    assert "drop @pytest.mark.anyio" in output, output
    if mode == "auto":
        assert "PASSED test_user.py::test_plain" in output, output


@pytest.mark.slow
@pytest.mark.parametrize("order", sorted(PLUGINS))
def test_a_trio_backend_fails_at_once(tmp_path: Path, order: str) -> None:
    """aiohttp runs on asyncio only: under trio the fixture says so before anything runs."""
    output = run_pytest(tmp_path, "strict", order, TRIO_TEST)
    assert "ERROR test_user.py::test_trio[trio]" in output, output
    assert "postpress_server: anyio_backend 'trio'" in output, output
