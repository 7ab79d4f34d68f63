"""The fake server's life in a user's test suite: started, read, closed, in which loop."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import pytest

from postpress_async import EventLoopError
from postpress_async.testing import Dataset, FakePostpress


def test_an_address_read_while_the_serving_loop_is_idle_is_refused() -> None:
    """A session fixture's server read from a test in a loop of its own: nothing would
    answer, so its address is refused with the fix, not handed out to time out."""
    home = asyncio.new_event_loop()
    server = FakePostpress(dataset=Dataset(messages=5))
    try:
        home.run_until_complete(server.start())

        async def read_url() -> str:
            return server.url

        with pytest.raises(EventLoopError, match="loop_scope"):
            asyncio.run(read_url())

        async def read_truth_url() -> str:
            return server.truth_url

        with pytest.raises(EventLoopError, match="not running"):
            asyncio.run(read_truth_url())
        # Outside any loop (a sync fixture between the steps of the server's loop):
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        home.run_until_complete(server.aclose())
        home.close()
    assert server.url.endswith("/api/v1")  # closed: an address to print, nothing to refuse


def test_a_server_running_in_another_thread_is_reachable() -> None:
    """The loop the server runs in is busy elsewhere, not idle: its address is handed out."""
    home = asyncio.new_event_loop()
    server = FakePostpress(dataset=Dataset(messages=5))
    home.run_until_complete(server.start())
    thread = threading.Thread(target=home.run_forever)
    thread.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        home.call_soon_threadsafe(home.stop)
        thread.join()
        home.run_until_complete(server.aclose())
        home.close()


def test_a_server_left_running_names_itself_in_a_resource_warning() -> None:
    """Forgotten without aclose() in a loop that then ends (as ``asyncio.run`` ends): the
    warning says which server and how to close it, not only "unclosed socket"."""
    home = asyncio.new_event_loop()
    server = FakePostpress(dataset=Dataset(messages=5))
    home.run_until_complete(server.start())
    port = server.port
    home.close()
    del server
    with pytest.warns(ResourceWarning) as warned:
        gc.collect()
    ours = [str(w.message) for w in warned if "FakePostpress" in str(w.message)]
    assert len(ours) == 1
    assert f"FakePostpress at 127.0.0.1:{port} was never closed" in ours[0]
    assert "aclose()" in ours[0]


def test_a_closed_or_never_started_server_warns_of_nothing() -> None:
    home = asyncio.new_event_loop()
    closed = FakePostpress(dataset=Dataset(messages=5))
    home.run_until_complete(closed.start())
    home.run_until_complete(closed.aclose())
    home.close()
    never = FakePostpress(dataset=Dataset(messages=5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del closed, never
        gc.collect()


def test_a_server_started_with_no_asyncio_loop_says_the_fake_runs_on_asyncio() -> None:
    """Under trio (no asyncio loop; here the start is driven by hand) aiohttp went on
    without a loop and the start broke obscurely; now it says what to run it on."""
    start = FakePostpress(dataset=Dataset(messages=5)).start()
    with pytest.raises(EventLoopError, match="runs on asyncio"):
        start.send(None)
    start.close()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param({"dataset": 100}, TypeError, "dataset must be a Dataset", id="dataset"),
        pytest.param({"api_key": ""}, ValueError, "api_key must be a non-empty str", id="no-key"),
    ],
)
def test_a_server_of_bad_arguments_is_refused_when_built(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    """A dataset that is no Dataset broke with an AttributeError; an empty key made a
    server no client can authenticate to (every request a 401)."""
    with pytest.raises(error, match=message):
        FakePostpress(**kwargs)  # type: ignore[arg-type]
