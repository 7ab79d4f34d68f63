"""Pytest fixtures for testing code that talks to postpress, against :class:`FakePostpress`.

Registered as a ``pytest11`` plugin, so installing ``postpress-async`` makes these
fixtures available everywhere:

* ``postpress_dataset`` (session): the :class:`Dataset` served; override it in a
  ``conftest.py`` to serve other data;
* ``postpress_faults``: the :class:`Faults` or :class:`FaultPlan` in force (none by default);
* ``postpress_live``: a :class:`LiveFeed` of messages arriving while the server runs (none
  by default; override it to watch a live server). A server with a live feed (or one a
  test calls ``add_messages`` on) serves its own copy of the dataset, and its ground
  truth is ``postpress_server.dataset``;
* ``postpress_api_key``: the key the server accepts (``pp_test_key``);
* ``postpress_server``: a running :class:`FakePostpress` (async; needs pytest-asyncio);
* ``postpress_client``: an :class:`~postpress_async.AsyncPostpress` bound to that server,
  with fast retries (``RetryPolicy(wait_initial=0.001, wait_max=0.01, retry_after_max=0.01)``:
  a 429's ``Retry-After`` is honoured up to 10 ms too), closed after the test;
* ``postpress_ground_truth``: the dataset's expected listings, to check a walk returned
  every object exactly once, e.g. ``postpress_ground_truth.expected_message_ids()``; on a
  server that grows, ``postpress_server.truth("messages")`` is what a walk started now
  sees (the same as ``GET {postpress_server.truth_url}/messages``).

The async fixtures are ``pytest_asyncio.fixture`` s, so they work in pytest-asyncio's
default strict mode (mark your async tests ``@pytest.mark.asyncio``) and in auto mode alike;
``tests/test_readme.py`` runs the README's example in both. A test marked
``@pytest.mark.anyio`` (anyio's plugin, ``anyio_backend`` "asyncio") gets them on the loop
that runs it; where they cannot be (trio; or a test pytest-asyncio runs, auto mode or also
marked asyncio, while anyio's fixture hook comes first), setting them up fails at once,
saying why. Without pytest-asyncio, ``postpress_server`` and ``postpress_client`` fail the
test that asks for them with a clear message; the rest of the session is untouched.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from postpress_async.testing._dataset import Dataset
from postpress_async.testing._faults import FaultPlan, Faults
from postpress_async.testing._live import LiveFeed
from postpress_async.testing._server import DEFAULT_API_KEY, FakePostpress

__all__ = [
    "postpress_api_key",
    "postpress_client",
    "postpress_dataset",
    "postpress_faults",
    "postpress_ground_truth",
    "postpress_live",
    "postpress_server",
    "pytest_fixture_setup",
]

_MISSING_ASYNCIO = (
    "the postpress_server fixture needs pytest-asyncio: "
    "pip install 'postpress-async[test]' (or pytest-asyncio)"
)

_BOTH_RUNNERS = (
    "{name}: this test is run by pytest-asyncio (asyncio_mode = auto, or "
    "@pytest.mark.asyncio) and is also marked for anyio, whose plugin would set the fixture "
    "up in its own event loop, idle while the test runs (a request would never be answered). "
    "Mark it for one of them: drop @pytest.mark.anyio (pytest-asyncio runs it on asyncio), "
    "or keep @pytest.mark.anyio alone with asyncio_mode = strict"
)
_NOT_ASYNCIO = (
    "{name}: anyio_backend {backend!r} cannot run it: the fake server and the SDK run on "
    "asyncio only (aiohttp); keep anyio_backend at 'asyncio' for tests using it"
)


@pytest.fixture(scope="session")
def postpress_dataset() -> Dataset:
    """A small dataset: every account type, 40 chats, 1,000 messages (seed 0)."""
    return Dataset(seed=0, accounts=14, chats=40, messages=1000)


@pytest.fixture
def postpress_faults() -> Faults | FaultPlan | None:
    """No faults; override to make the server misbehave."""
    return None


@pytest.fixture
def postpress_live() -> LiveFeed | None:
    """No live feed; override to have messages arrive while the server runs."""
    return None


@pytest.fixture
def postpress_api_key() -> str:
    """The API key the fake server accepts."""
    return DEFAULT_API_KEY


@pytest.fixture
def postpress_ground_truth(postpress_dataset: Dataset) -> Dataset:
    """The served dataset, for its ``expected_*_ids()`` ground-truth listings."""
    return postpress_dataset


async def _running_server(
    postpress_dataset: Dataset,
    postpress_faults: Faults | FaultPlan | None,
    postpress_api_key: str,
    postpress_live: LiveFeed | None,
) -> AsyncIterator[FakePostpress]:
    """A running fake server on 127.0.0.1; ``.url`` and ``.api_key`` configure an SDK."""
    async with FakePostpress(
        dataset=postpress_dataset,
        faults=postpress_faults,
        api_key=postpress_api_key,
        live=postpress_live,
    ) as server:
        yield server


async def _bound_client(postpress_server: FakePostpress) -> AsyncIterator[Any]:
    """An SDK client for ``postpress_server``, with retries that do not slow tests down."""
    from postpress_async import AsyncPostpress, RetryPolicy

    async with AsyncPostpress(
        api_key=postpress_server.api_key,
        base_url=postpress_server.url,
        retry=RetryPolicy(wait_initial=0.001, wait_max=0.01, retry_after_max=0.01),
    ) as client:
        yield client


def _missing_asyncio() -> None:
    """Unavailable: pytest-asyncio is not installed."""
    pytest.fail(_MISSING_ASYNCIO, pytrace=False)


def _asyncio_twin(func: Any) -> Any:
    """A copy of the async generator ``func`` for pytest-asyncio to mark as its fixture,
    leaving ``func`` unmarked, to hand to anyio's plugin when anyio runs the test."""
    twin = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    functools.update_wrapper(twin, func)
    twin._postpress_unmarked = func  # type: ignore[attr-defined]
    return twin


def _anyio_sets_up_first(config: pytest.Config) -> bool:
    """Whether anyio's ``pytest_fixture_setup`` runs before pytest-asyncio's, and so takes
    an async fixture to anyio's own loop (pluggy calls the plugin registered last first;
    the order of installed plugins is the order their entry points are found)."""
    hook = config.pluginmanager.hook.pytest_fixture_setup
    modules = [impl.function.__module__ for impl in hook.get_hookimpls()]
    anyio, asyncio = "anyio.pytest_plugin", "pytest_asyncio.plugin"
    return anyio in modules and asyncio in modules and modules.index(anyio) > modules.index(asyncio)


def _refusal(message: str) -> Any:
    """A fixture function that fails with ``message``, whatever it is given."""

    def refuse(**_: Any) -> None:
        pytest.fail(message, pytrace=False)

    return refuse


def _anyio_replacement(fixturedef: Any, request: Any) -> Any:
    """What to set up instead of ``postpress_server``/``postpress_client`` in a test marked
    for anyio (``None``: the fixture as is), so that it lives on the loop running the test."""
    name = fixturedef.argname
    if pytest_asyncio.is_async_test(request.node):
        # pytest-asyncio runs the test (auto mode, or also marked asyncio): the fixture must
        # be its too, but of two hooks that take an async fixture the first one wins.
        if inspect.isasyncgenfunction(fixturedef.func) and _anyio_sets_up_first(request.config):
            return _refusal(_BOTH_RUNNERS.format(name=name))
        return None
    backend = request.getfixturevalue("anyio_backend")
    backend_name = backend if isinstance(backend, str) else backend[0]
    if backend_name != "asyncio":
        return _refusal(_NOT_ASYNCIO.format(name=name, backend=backend_name))
    # anyio runs the test: the unmarked fixture is anyio's alone (pytest-asyncio's strict
    # mode leaves it be), set up on anyio's loop whichever hook comes first.
    return fixturedef.func._postpress_unmarked


# An old-style wrapper (``hookwrapper``): every pluggy takes it, and this plugin loads in
# any pytest session of a project that installs the SDK, whatever its pytest.
@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Iterator[None]:
    """Set ``postpress_server``/``postpress_client`` up on the loop that runs a test marked
    for anyio, or fail at once saying why: never a server that nothing answers on."""
    func = fixturedef.func
    if not hasattr(func, "_postpress_unmarked") or "anyio_backend" not in request.fixturenames:
        yield
        return
    fixturedef.func = _anyio_replacement(fixturedef, request) or func
    try:
        yield
    finally:
        fixturedef.func = func


postpress_server: Any
postpress_client: Any
try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised in a subprocess test
    postpress_server = pytest.fixture(_missing_asyncio, name="postpress_server")
    postpress_client = pytest.fixture(_missing_asyncio, name="postpress_client")
else:
    postpress_server = pytest_asyncio.fixture(
        _asyncio_twin(_running_server), name="postpress_server"
    )
    postpress_client = pytest_asyncio.fixture(_asyncio_twin(_bound_client), name="postpress_client")
