"""The aiohttp transport against a real in-process aiohttp server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from postpress_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncPostpress,
    AuthenticationError,
    ClientClosedError,
    EventLoopError,
    InternalServerError,
    Limits,
    RetryPolicy,
    Timeout,
)
from postpress_async._transport import Request, redact, secrets_of
from postpress_async.testing._replies import error_reply

KEY = "pp_transport_key_123"
MESSAGE = b'{"object":"Message","id":"msg_1","text":"hi"}'


class Recorder:
    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.raw_paths: list[str] = []
        self.arrived = asyncio.Event()


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Recorder]]:
    recorder = Recorder()

    async def message(request: web.Request) -> web.StreamResponse:
        recorder.requests.append(request)
        recorder.raw_paths.append(request.raw_path)
        recorder.arrived.set()
        if request.match_info["message_id"] == "slow":
            await asyncio.sleep(5)
        if request.match_info["message_id"] == "reset":
            response = web.StreamResponse(headers={"Content-Length": "1000"})
            await response.prepare(request)
            await response.write(b'{"id": "msg_1", "te')
            assert request.transport is not None
            request.transport.close()
            return response
        if request.match_info["message_id"] in ("huge-500", "huge-401"):
            status = int(request.match_info["message_id"][-3:])
            if status == 500 and recorder.raw_paths.count(request.raw_path) > 1:
                return web.Response(body=MESSAGE, content_type="application/json")
            error_type = {500: "errors/provider_error", 401: "errors/expired_credentials"}
            envelope = {"type": error_type[status], "status": status, "title": "Failed"}
            body = json.dumps({**envelope, "detail": "x" * 70_000}).encode()
            return web.Response(status=status, body=body, content_type="application/json")
        if request.match_info["message_id"] in ("huge-500-documented", "huge-500-always"):
            if request.match_info["message_id"] == "huge-500-documented" and (
                recorder.raw_paths.count(request.raw_path) > 1
            ):
                return web.Response(body=MESSAGE, content_type="application/json")
            reply = error_reply(500, "errors/provider_error", "x" * 70_000, serial=1)
            return web.Response(status=500, body=reply.body, content_type="application/json")
        return web.Response(body=MESSAGE, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/messages/{message_id}", message)
    runner = web.AppRunner(app, shutdown_timeout=0.1)  # do not wait out the slow handler
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/api/v1", recorder
    finally:
        await runner.cleanup()


def client_for(url: str, **kwargs: object) -> AsyncPostpress:
    return AsyncPostpress(api_key=KEY, base_url=url, retry=RetryPolicy.disabled(), **kwargs)  # type: ignore[arg-type]


async def test_the_wire_carries_key_accept_user_agent_and_the_encoded_path(
    server: tuple[str, Recorder],
) -> None:
    url, recorder = server
    async with client_for(url) as client:
        message = await client.messages.retrieve("a/b?c#d")
    assert message.id == "msg_1"
    (request,) = recorder.requests
    assert request.headers["X-API-KEY"] == KEY
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("postpress-async/")
    assert recorder.raw_paths == ["/api/v1/messages/a%2Fb%3Fc%23d"]
    assert request.match_info["message_id"] == "a/b?c#d"


async def test_a_callers_session_is_used_and_never_closed(server: tuple[str, Recorder]) -> None:
    url, recorder = server
    async with aiohttp.ClientSession() as session:
        async with client_for(url, session=session) as client:
            await client.messages.retrieve("msg_1")
        assert not session.closed
        async with session.get(f"{url}/messages/msg_2") as response:
            assert response.status == 200
    assert len(recorder.requests) == 2


async def test_a_callers_session_closed_by_the_caller_is_a_client_closed_error(
    server: tuple[str, Recorder],
) -> None:
    url, recorder = server
    async with aiohttp.ClientSession() as session:
        client = client_for(url, session=session)
    with pytest.raises(ClientClosedError, match="session= was closed"):
        await client.messages.retrieve("msg_1")
    assert recorder.requests == []


async def test_the_clients_own_session_is_closed_by_aclose(server: tuple[str, Recorder]) -> None:
    url, _ = server
    client = client_for(url)
    await client.messages.retrieve("msg_1")
    session = client._sender.transport._session  # type: ignore[attr-defined]
    assert session is not None and not session.closed
    await client.aclose()
    assert session.closed


async def test_a_timeout_is_an_api_timeout_error(server: tuple[str, Recorder]) -> None:
    url, _ = server
    async with client_for(url, timeout=Timeout(total=0.05)) as client:
        with pytest.raises(APITimeoutError, match="timed out") as info:
            await client.messages.retrieve("slow")
    assert info.value.url.endswith("/messages/slow")


async def test_a_body_broken_off_midway_is_a_connection_error(server: tuple[str, Recorder]) -> None:
    url, _ = server
    async with client_for(url) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.messages.retrieve("reset")
    assert not isinstance(info.value, APITimeoutError)


async def test_a_refused_connection_is_a_connection_error_without_the_key() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with client_for(f"http://127.0.0.1:{port}/api/v1") as client:
        with pytest.raises(APIConnectionError, match="Connection failed") as info:
            await client.messages.retrieve("msg_1")
    assert KEY not in str(info.value)
    assert info.value.method == "GET"


async def test_a_closed_client_refuses_new_requests(server: tuple[str, Recorder]) -> None:
    url, _ = server
    client = client_for(url)
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.messages.retrieve("msg_1")


def test_a_secret_header_is_redacted_whole_and_by_its_token_but_not_by_short_parts() -> None:
    """The value and its long parts (a scheme's credentials, a cookie's value) are starred;
    a short cookie value is not, or every word holding it would be."""
    assert secrets_of("Bearer tok_0123456789") == ["Bearer tok_0123456789", "tok_0123456789"]
    headers = {"Cookie": "theme=dark; sid=SID_0123456789", "X-Trace": "trace_0123456789"}
    request = Request(method="GET", url="https://h/x", headers=headers)
    text = "dark mode, sid SID_0123456789, trace trace_0123456789"
    assert redact(text, request) == "dark mode, sid ***, trace trace_0123456789"


async def test_an_error_body_past_the_cap_keeps_the_type_that_came_before_the_cut(
    server: tuple[str, Recorder],
) -> None:
    """A 70,000-character ``detail`` runs past ``Limits.max_error_body_bytes`` (64 KiB): the
    envelope's members before it still decide the retry (a 500 ``errors/provider_error``)
    and the class's advice (a 401 about the account), and the message says it was cut."""
    url, recorder = server
    policy = RetryPolicy(attempts=2, wait_initial=0.001, wait_max=0.001)
    async with AsyncPostpress(api_key=KEY, base_url=url, retry=policy) as client:
        assert (await client.messages.retrieve("huge-500")).id == "msg_1"
    assert recorder.raw_paths.count("/api/v1/messages/huge-500") == 2
    async with client_for(url, limits=Limits(max_error_body_bytes=1000)) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.messages.retrieve("huge-401")
    error = info.value
    assert (error.type, error.status, error.title) == ("errors/expired_credentials", 401, "Failed")
    assert error.detail is None and len(error.body) == 1000
    assert "the error body was cut after 1,000 bytes" in str(error)


async def test_an_error_body_past_the_cap_in_the_documented_order_keeps_its_last_members(
    server: tuple[str, Recorder],
) -> None:
    """The API puts ``type`` and ``status`` after ``detail``: the last bytes of a body past
    the cap are kept too, so a 500 ``errors/provider_error`` with a 70,000-character detail
    is retried; past ``Limits.max_response_bytes`` nothing more is read, and the error keeps
    the head it read."""
    url, recorder = server
    policy = RetryPolicy(attempts=2, wait_initial=0.001, wait_max=0.001)
    async with AsyncPostpress(api_key=KEY, base_url=url, retry=policy) as client:
        assert (await client.messages.retrieve("huge-500-documented")).id == "msg_1"
    assert recorder.raw_paths.count("/api/v1/messages/huge-500-documented") == 2
    limits = Limits(max_error_body_bytes=1000, max_response_bytes=5000)
    async with client_for(url, limits=limits) as client:
        with pytest.raises(InternalServerError) as info:
            await client.messages.retrieve("huge-500-always")
    assert info.value.type is None and len(info.value.body) == 1000


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v1"


def test_a_callers_session_of_another_event_loop_is_an_event_loop_error() -> None:
    """A session made in one loop (an app factory, a fixture) and used in another would
    fail inside aiohttp with a bare RuntimeError; it is refused by name, before sending."""
    home = asyncio.new_event_loop()
    try:
        session = home.run_until_complete(_make_session())
        client = client_for(_refused_url(), session=session)

        async def use() -> None:
            await client.messages.retrieve("msg_1")

        with pytest.raises(EventLoopError, match="session= belongs to another event loop"):
            asyncio.run(use())
        assert client.stats().retries == {}
        home.run_until_complete(session.close())
    finally:
        home.close()


async def _make_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


def test_closing_from_another_event_loop_is_an_event_loop_error_and_can_be_done_at_home() -> None:
    """``aclose()`` from a loop the client's own session does not belong to cannot close
    its connections: it says so instead of leaking them silently, and closing in the
    client's loop still works."""
    home = asyncio.new_event_loop()
    try:
        client = client_for(_refused_url())
        with pytest.raises(APIConnectionError):  # the session now exists, in `home`
            home.run_until_complete(client.messages.retrieve("msg_1"))
        session = client._sender.transport._session  # type: ignore[attr-defined]
        with pytest.raises(EventLoopError, match="close it in the event loop"):
            asyncio.run(client.aclose())
        assert not session.closed
        home.run_until_complete(client.aclose())
        assert session.closed
    finally:
        home.close()


async def test_a_request_cut_by_aclose_is_a_client_closed_error_not_retried(
    server: tuple[str, Recorder],
) -> None:
    """Closing the client while a call waits for its response fails that call with
    ClientClosedError at once, not a connection error retried after a backoff."""
    url, recorder = server
    client = AsyncPostpress(
        api_key=KEY, base_url=url, retry=RetryPolicy(attempts=3, wait_initial=0.0, wait_max=0.0)
    )
    call = asyncio.ensure_future(client.messages.retrieve("slow"))
    await recorder.arrived.wait()
    await client.aclose()
    with pytest.raises(ClientClosedError, match="in flight"):
        await call
    assert client.stats().requests == 1
    assert client.stats().retries == {}
