"""Start-up: what ``import postpress_async`` and ``postpress --help`` load.

Each check runs a fresh interpreter (the test process has long imported everything)
and looks at ``sys.modules``: what a module costs at start-up is whether it is loaded.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("aiohttp", "yarl", "multidict")


def loaded_after(code: str) -> set[str]:
    """The modules, and their top-level packages, a fresh interpreter has loaded after ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join({{*sys.modules, *(m.split('.')[0] for m in sys.modules)}}))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


@pytest.mark.slow
def test_importing_the_sdk_does_not_import_aiohttp() -> None:
    """aiohttp is imported only when the first transport is built."""
    loaded = loaded_after("import postpress_async\nfrom postpress_async import AsyncPostpress")
    assert "postpress_async" in loaded
    assert loaded.isdisjoint(HEAVY)


@pytest.mark.slow
def test_importing_the_sdk_defers_what_only_a_request_needs() -> None:
    """asyncio, anyio's streams, hashlib, logging and the HTTP-date parser load on first use.

    Each is several milliseconds of start-up (asyncio with ssl about 40 ms on the CI
    machine) that a CLI's ``--help`` or a process that only builds plans never needs.
    """
    loaded = loaded_after("import postpress_async\nfrom postpress_async import AsyncPostpress")
    deferred = {"asyncio", "anyio.streams.memory", "email.utils", "ssl", "hashlib", "logging"}
    assert loaded.isdisjoint(deferred)


@pytest.mark.slow
def test_building_a_client_does_not_import_aiohttp_before_its_first_request() -> None:
    """The transport imports aiohttp when it opens its session, not when it is made."""
    loaded = loaded_after(
        "import asyncio, postpress_async\n"
        "async def main():\n"
        "    async with postpress_async.AsyncPostpress(api_key='pp_test_key') as client:\n"
        "        pass\n"
        "asyncio.run(main())"
    )
    assert loaded.isdisjoint(HEAVY)


@pytest.mark.slow
def test_the_cli_help_imports_neither_aiohttp_nor_the_fake_server() -> None:
    """``postpress --help`` pays for the SDK and argparse; the fake only runs with --fake/demo."""
    loaded = loaded_after(
        "import contextlib, io\n"
        "from postpress_async.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0"
    )
    assert "postpress_async.cli" in loaded
    assert loaded.isdisjoint(HEAVY)
    assert "asyncio" not in loaded  # no event loop is needed to print the help
    assert "postpress_async.testing" not in loaded
