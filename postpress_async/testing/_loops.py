"""The fake server and the event loop it serves from: refusing a loop that cannot reach
it, and naming a server left running."""

from __future__ import annotations

import asyncio
import warnings

from postpress_async._exceptions import EventLoopError

__all__ = ["check_serving_loop", "warn_unclosed"]


def check_serving_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Refuse to hand out the address of a server serving from ``loop`` (``None``: not
    serving) when read in a running event loop other than ``loop`` while ``loop`` is idle:
    nothing would answer. Read outside any loop (a sync fixture, between the steps of the
    server's own loop), it is handed out."""
    if loop is None or loop.is_running():
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise EventLoopError(
        "this FakePostpress answers from the event loop it was started in, and that "
        "loop is not running now: a request to it would wait until it timed out. Start "
        "the server in the event loop that uses it (with pytest-asyncio: the same "
        "loop_scope for the server's fixture and the tests, e.g. "
        "@pytest_asyncio.fixture(scope='session', loop_scope='session') and "
        "@pytest.mark.asyncio(loop_scope='session'))"
    )


def warn_unclosed(server: object, address: str) -> None:
    """A ``ResourceWarning`` naming a server left running (more than the bare "unclosed
    socket" of its listening socket), and how to close it."""
    warnings.warn(
        f"FakePostpress at {address} was never closed: use `async with FakePostpress(...)` "
        "or `await server.aclose()` in the loop it runs in",
        ResourceWarning,
        stacklevel=2,
        source=server,
    )
