"""The API key never leaves: not in a repr, a message, a chained cause, a redirect, or
over plain http to another machine."""

from __future__ import annotations

import asyncio
import logging
import traceback

import pytest
from aiohttp import web

from postpress_async import (
    APIConnectionError,
    APIStatusError,
    AsyncPostpress,
    InvalidParameterError,
    Limits,
    RedirectError,
    RetryPolicy,
    Timeout,
)
from postpress_async.ingest import ClientConfig
from postpress_async.transports import Request
from tests.helpers import RecordingTransport, json_response

from ._server import Hostile, hostile_server, raw, redirect

KEY = "pp_live_SECRET_0123456789"


def client_for(server: Hostile, **kwargs: object) -> AsyncPostpress:
    return AsyncPostpress(api_key=KEY, base_url=server.url, **kwargs)  # type: ignore[arg-type]


def everything_about(error: BaseException) -> str:
    """Every text a log or a traceback could show of ``error`` and its chain."""
    parts = ["".join(traceback.format_exception(error))]
    seen: BaseException | None = error
    while seen is not None:
        parts += [repr(seen), str(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def test_no_repr_shows_the_key_or_a_prefix_of_it() -> None:
    client = AsyncPostpress(api_key=KEY, base_url="http://127.0.0.1:9")
    request = Request(method="GET", url="http://127.0.0.1:9/x", headers=client._headers)
    texts = [repr(client), repr(request), str(request), repr(Limits()), repr(Timeout())]
    texts.append(repr(RetryPolicy()))
    for text in texts:
        assert KEY[:4] not in text, text
    assert "'X-API-KEY': '***'" in repr(request)


def test_the_ingest_config_shows_no_key_to_rich_either() -> None:
    """rich (pretty printing, tracebacks with locals) asks a Struct for ``__rich_repr__``,
    not ``__repr__``: that too must mask the key."""
    config = ClientConfig(base_url="https://api.postpress.ai/api/v1", api_key=KEY)
    shown = dict(config.__rich_repr__())
    assert KEY[:4] not in repr(shown) and KEY[:4] not in repr(config)
    assert shown["base_url"] == config.base_url and shown["chat_time"] == "activity"


@pytest.mark.parametrize("task", ["c-task", "python-task"])
async def test_a_malformed_response_leaves_no_request_headers_in_the_error_chain(
    task: str,
) -> None:
    """aiohttp's ClientResponseError holds request_info.headers: it must not be chained.

    Under asyncio's pure-Python Task (what pytest-asyncio's runner uses on Python 3.10, or
    any loop's task factory that makes one) a coroutine resumes inside the Task's own
    ``except``, so an error raised after its handler ended still picked up what was
    being handled as ``__context__``."""

    async def garbage(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.write(b"NOT HTTP AT ALL\r\n\r\n")
        request.transport.close()
        return web.Response()

    async with hostile_server(garbage) as server:
        async with client_for(server, retry=RetryPolicy.disabled()) as client:
            call = client.messages.retrieve("msg_1")
            if task == "python-task":
                loop = asyncio.get_running_loop()
                call = asyncio.tasks._PyTask(call, loop=loop)  # type: ignore[attr-defined]
            with pytest.raises(APIConnectionError) as caught:
                await call
    error = caught.value
    assert "ClientResponseError" in str(error)
    assert error.__cause__ is None and error.__context__ is None
    assert KEY not in everything_about(error)
    assert KEY[:4] not in everything_about(error)


async def test_an_oversized_header_leaves_no_key_in_the_error() -> None:
    async with hostile_server(raw(200, b"{}", {"X-Huge": "h" * 100_000})) as server:
        async with client_for(server, retry=RetryPolicy.disabled()) as client:
            with pytest.raises(APIConnectionError) as caught:
                await client.messages.retrieve("msg_1")
    assert KEY not in everything_about(caught.value)
    assert len(str(caught.value)) < 1000


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_never_followed_and_is_a_typed_error(status: int) -> None:
    async with hostile_server(raw(200, b"{}")) as elsewhere:
        target = elsewhere.url + "/messages/msg_1"
        async with hostile_server(redirect(status, target)) as server:
            async with client_for(server) as client:  # default retries: none for a 3xx
                with pytest.raises(RedirectError, match="not followed") as caught:
                    await client.messages.retrieve("msg_1")
    assert caught.value.status == status
    assert caught.value.location == target
    assert len(server.requests) == 1
    assert elsewhere.requests == []


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://api.postpress.ai/api/v1", id="public-host"),
        pytest.param("http://10.0.0.7:8080", id="private-ip"),
        pytest.param("http://[2001:db8::1]/v1", id="ipv6"),
        pytest.param("http://localhost.evil.com", id="localhost-lookalike"),
    ],
)
def test_plain_http_to_another_machine_is_refused_at_construction(url: str) -> None:
    with pytest.raises(InvalidParameterError, match=r"base_url: plain http:// .*unencrypted"):
        AsyncPostpress(api_key=KEY, base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://user:s3cret@gateway.example/api/v1", id="user-password"),
        pytest.param("https://s3cret@gateway.example/api/v1", id="user-only"),
    ],
)
def test_credentials_in_the_base_url_are_refused_without_showing_them(url: str) -> None:
    """The base URL is shown in repr(client), errors, events and spans (``url.full``)."""
    with pytest.raises(InvalidParameterError, match="base_url: must not carry credentials") as info:
        AsyncPostpress(api_key=KEY, base_url=url)
    assert "s3cret" not in str(info.value)


def test_credentials_in_the_base_url_are_named_before_a_missing_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whoever put a password in the URL may take it for the key: name the URL first."""
    monkeypatch.delenv("POSTPRESS_API_KEY", raising=False)
    with pytest.raises(InvalidParameterError, match="base_url: must not carry credentials"):
        AsyncPostpress(base_url="https://user:s3cret@gateway.example/api/v1")


def test_plain_http_from_the_environment_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTPRESS_BASE_URL", "http://proxy.internal:8080/v1")
    with pytest.raises(InvalidParameterError, match="allow_insecure_http=True"):
        AsyncPostpress(api_key=KEY)


def test_plain_http_to_another_machine_is_allowed_when_asked() -> None:
    client = AsyncPostpress(
        api_key=KEY, base_url="http://proxy.internal:8080/v1", allow_insecure_http=True
    )
    assert client.base_url == "http://proxy.internal:8080/v1"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://127.8.9.10",
        "http://localhost:3000",
        "http://api.localhost",
        "http://[::1]:8080",
        "https://api.postpress.ai/api/v1",
    ],
)
def test_loopback_and_https_are_allowed(url: str) -> None:
    assert AsyncPostpress(api_key=KEY, base_url=url).base_url == url.rstrip("/")


async def test_debug_logs_of_failures_and_retries_never_hold_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="postpress_async")
    body = b'{"type": "errors/network_down", "title": "down"}'
    async with hostile_server(raw(503, body, {"Retry-After": "-1"})) as server:
        policy = RetryPolicy(attempts=3, wait_initial=0.001)
        async with client_for(server, retry=policy) as client:
            with pytest.raises(APIStatusError):
                await client.messages.retrieve("msg_1")
    assert caplog.text.count("Retrying GET") == 2
    assert KEY not in caplog.text and KEY[:8] not in caplog.text


async def test_an_error_body_echoing_the_key_leaves_it_out_of_the_message_and_the_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="postpress_async")
    body = (
        b'{"type": "errors/invalid_credentials", "status": 401, "title": "Bad key '
        + KEY.encode()
        + b'", "detail": "X-API-KEY '
        + KEY.encode()
        + b' is not valid", "instance": "'
        + KEY.encode()
        + b'"}'
    )
    async with hostile_server(raw(401, body)) as server:
        async with client_for(server) as client:
            with pytest.raises(APIStatusError) as info:
                await client.messages.retrieve("msg_1")
    error = info.value
    assert error.detail == "X-API-KEY *** is not valid"
    for text in (str(error), repr(error), error.title, error.instance, caplog.text):
        assert KEY not in (text or ""), text


@pytest.mark.parametrize(
    ("header", "value", "echoed"),
    [
        ("Authorization", "Bearer sk_live_TOKEN_0123456789", "sk_live_TOKEN_0123456789"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("Cookie", "theme=dark; session=SESSION_0123456789", "SESSION_0123456789"),
    ],
)
async def test_a_server_echoing_the_token_of_an_authorization_header_does_not_show_it(
    caplog: pytest.LogCaptureFixture, header: str, value: str, echoed: str
) -> None:
    """The README sends credentials other than the key with ``default_headers``, "never
    shown"; a server quotes the token it refused, not the header: ``Bearer`` and all."""
    caplog.set_level(logging.DEBUG, logger="postpress_async")
    body = {"type": "errors/invalid_credentials", "title": "Unauthorized"}
    body["detail"] = f"token {echoed} is not valid"
    transport = RecordingTransport(lambda request: json_response(401, body))
    async with AsyncPostpress(
        api_key=KEY, transport=transport, default_headers={header: value}
    ) as client:
        with pytest.raises(APIStatusError) as info:
            await client.accounts.list()
    assert info.value.detail == "token *** is not valid"
    shown = "".join(traceback.format_exception(info.value)) + repr(info.value) + caplog.text
    assert echoed not in shown  # error.body keeps the server's bytes as they came


@pytest.mark.parametrize("key", ["k", "pp_k", "1234567"])
async def test_a_toy_key_too_short_to_tell_from_a_word_leaves_the_servers_words_whole(
    key: str,
) -> None:
    """A key of fewer than 8 characters (``api_key="k"`` in a test) is not searched for in
    text: starring every ``k`` would garble the message for nothing. The header itself is
    still never shown."""
    body = {"type": "errors/invalid_credentials", "title": "Unknown key", "detail": "pp_k 1234567"}
    transport = RecordingTransport(lambda request: json_response(401, body))
    async with AsyncPostpress(
        api_key=key, transport=transport, retry=RetryPolicy.disabled()
    ) as client:
        with pytest.raises(APIStatusError) as info:
            await client.accounts.list()
    assert (info.value.title, info.value.detail) == ("Unknown key", "pp_k 1234567")
    assert "Unknown key - pp_k 1234567" in str(info.value)
    (request,) = transport.requests
    assert "'X-API-KEY': '***'" in repr(request)
