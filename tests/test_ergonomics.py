"""What a service author reaches for: MockTransport, raw responses, extra headers,
clear errors for a closed client or a second event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import pytest

from postpress_async import (
    APIConnectionError,
    AsyncPostpress,
    ClientClosedError,
    EventLoopError,
    InvalidParameterError,
    MissingAPIKeyError,
    NotFoundError,
    RedirectError,
    RetryPolicy,
    merge,
)
from postpress_async.ingest import ClientConfig
from postpress_async.models import Message
from postpress_async.transports import MockTransport, Request, Response
from tests.helpers import fixture_bytes

ACCOUNTS = {"object": "AccountList", "items": [], "cursor": None}


def ok(request: Request) -> Response:
    return Response(
        status=200,
        headers={"content-type": "application/json", "x-request-id": "req_42"},
        content=json.dumps(ACCOUNTS).encode(),
    )


def client_for(transport: MockTransport) -> AsyncPostpress:
    return AsyncPostpress(api_key="pp_k", transport=transport, retry=RetryPolicy(wait_max=0.0))


async def test_mock_transport_answers_from_a_plain_function() -> None:
    """A handler from Request to Response is the whole fake: no server, no network."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return ok(request)

    async with client_for(MockTransport(handler)) as client:
        page = await client.accounts.list(limit=3)
    assert page.items == []
    assert seen[0].url.endswith("/accounts?limit=3")


async def test_mock_transport_takes_async_handlers_and_plays_network_failures() -> None:
    """An async handler works too; raising APIConnectionError is retried like the real one."""
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise APIConnectionError("reset", method=request.method, url=request.url)
        return ok(request)

    async with client_for(MockTransport(handler)) as client:
        await client.accounts.list()
        assert client.stats().retries == {"connection": 1}


async def test_a_handler_finds_the_request_headers_in_any_case() -> None:
    """HTTP names are case-insensitive: a handler asking for ``x-api-key`` or ``Accept``
    finds them (the SDK sends ``X-API-KEY`` and ``accept``), as a Response's are."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return ok(request)

    async with client_for(MockTransport(handler)) as client:
        await client.accounts.list()
    headers = seen[0].headers
    assert headers["x-api-key"] == headers.get("X-Api-Key") == "pp_k"
    assert headers["Accept"] == "application/json"
    assert "user-agent" in headers and "X-Request-Id" not in headers
    assert dict(headers)["X-API-KEY"] == "pp_k"  # the names as sent
    assert "pp_k" not in repr(headers)
    built = Request(method="GET", url="https://x.test/v1/accounts", headers={"Accept": "a"})
    assert built.headers["accept"] == "a"


async def test_a_handler_reads_the_query_decoded_from_request_params() -> None:
    """`request.params["limit"]`, as httpx's `request.url.params`: a handler need not parse
    the encoded URL to branch on a filter or a cursor (values decoded, one per name)."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return ok(request)

    async with client_for(MockTransport(handler)) as client:
        await client.chats.list(account_id=["acc 1", "acc/2"], limit=7, unread=True)
        await client.messages.list(sender_id="a+b c&d=%")
    assert seen[1].params["sender_id"] == "a+b c&d=%"
    params = seen[0].params
    assert params["limit"] == "7"
    assert params["account_id"] == "acc 1,acc/2"
    assert params["unread"] == "true"
    assert "cursor" not in params
    assert dict(params) == {"account_id": "acc 1,acc/2", "limit": "7", "unread": "true"}
    assert Request(method="GET", url="https://x.test/v1/chats", headers={}).params == {}


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda client: client.messages.retrieve("msg_1"), id="retrieve"),
        pytest.param(lambda client: client.accounts.list().__await__(), id="a-page"),
        pytest.param(lambda client: client.messages.list().__aiter__().__anext__(), id="a-stream"),
    ],
)
def test_a_call_with_no_asyncio_loop_running_says_the_sdk_runs_on_asyncio(
    call: Callable[[AsyncPostpress], Generator[Any, None, Any]],
) -> None:
    """Driven by another async library (trio has no asyncio loop; here the call is driven
    by hand), a call said only "RuntimeError: no running event loop"."""
    client = client_for(MockTransport(ok))
    work = call(client)
    with pytest.raises(EventLoopError, match=r"runs on asyncio.*backend='asyncio'"):
        work.send(None)
    work.close()


async def test_a_handler_returning_something_else_is_a_clear_type_error() -> None:
    """A handler bug surfaces as a TypeError naming what it returned."""
    async with client_for(MockTransport(lambda request: "nope")) as client:  # type: ignore[arg-type,return-value]
        with pytest.raises(TypeError, match="not a Response"):
            await client.accounts.list()


@pytest.mark.parametrize(
    ("response", "message"),
    [
        pytest.param(
            Response(status=200, headers={}, content='{"items": []}'),  # type: ignore[arg-type]
            "content is str, not bytes",
            id="str-content",
        ),
        pytest.param(
            Response(status="200", headers={}, content=b"{}"),  # type: ignore[arg-type]
            "status is str, not int",
            id="str-status",
        ),
        pytest.param(
            Response(status=429, headers={"Retry-After": 1}, content=b"{}"),  # type: ignore[dict-item]
            r"header 'retry-after': int value; header names and values are str",
            id="int-retry-after",
        ),
        pytest.param(
            Response(status=200, headers={"X-Request-Id": 42}, content=b"{}"),  # type: ignore[dict-item]
            r"header 'x-request-id': int value",
            id="int-request-id",
        ),
        pytest.param(
            Response(status=0, headers={}, content=b"{}"),
            r"status is 0, not an HTTP status \(100-599\)",
            id="status-0",
        ),
    ],
)
async def test_a_response_with_fields_of_the_wrong_type_is_a_clear_type_error(
    response: Response, message: str
) -> None:
    """A str body gave ``TypeError: must be str, not bytes`` from deep in the decoder (the
    opposite of the mistake), a str status a comparison error: both name the field now."""
    async with client_for(MockTransport(lambda request: response)) as client:
        with pytest.raises(TypeError, match=message):
            await client.accounts.list()


@pytest.mark.parametrize("headers", [None, [("retry-after", "1")]], ids=["none", "pairs"])
def test_a_response_whose_headers_are_no_mapping_is_a_clear_type_error(headers: Any) -> None:
    """``Response(200, None, ...)`` said "'NoneType' object is not iterable", pairs
    "'tuple' object has no attribute 'islower'"."""
    with pytest.raises(TypeError, match="must be a mapping of str names to str values"):
        Response(status=200, headers=headers, content=b"{}")


def test_aiohttp_transport_is_public() -> None:
    """``postpress_async.transports.AiohttpTransport`` is the transport the client builds."""
    import postpress_async.transports
    from postpress_async._transport import AiohttpTransport

    assert postpress_async.transports.AiohttpTransport is AiohttpTransport
    assert "AiohttpTransport" in postpress_async.transports.__all__


async def test_raw_response_gives_status_headers_and_request_id_of_a_success() -> None:
    """``raw_response`` returns the parsed result with its HTTP response."""
    async with client_for(MockTransport(ok)) as client:
        raw = await client.raw_response(client.accounts.list, limit=2)
    assert raw.parsed.items == []
    assert (raw.status, raw.request_id) == (200, "req_42")
    assert raw.headers["content-type"] == "application/json"


async def test_header_names_a_transport_gives_in_any_case_are_read_alike() -> None:
    """A handler writing ``X-Request-Id`` or ``Location`` (as HTTP docs do) gets the
    request id and the redirect target the aiohttp transport would: headers are
    lower-cased, as ``RawResponse.headers`` documents, not missed by a lookup."""

    def handler(request: Request) -> Response:
        if request.url.endswith("/accounts"):
            body = json.dumps(ACCOUNTS).encode()
            headers = {"Content-Type": "application/json", "X-Request-Id": "req_42"}
            return Response(status=200, headers=headers, content=body)
        return Response(status=302, headers={"Location": "https://elsewhere/x"}, content=b"")

    async with client_for(MockTransport(handler)) as client:
        raw = await client.raw_response(client.accounts.list)
        with pytest.raises(RedirectError) as caught:
            await client.messages.retrieve("msg_1")
    assert raw.request_id == "req_42"
    assert raw.headers["x-request-id"] == "req_42"
    assert "redirect to https://elsewhere/x" in str(caught.value)


async def test_raw_responses_of_concurrent_calls_never_mix() -> None:
    """Each call sees its own response, even when they run at once."""

    def handler(request: Request) -> Response:
        response = ok(request)
        return Response(
            status=200,
            headers={**response.headers, "x-request-id": request.url.rsplit("=", 1)[1]},
            content=response.content,
        )

    async with client_for(MockTransport(handler)) as client:
        raws = await asyncio.gather(
            *(client.raw_response(client.accounts.list, limit=n) for n in (1, 2, 3))
        )
    assert [raw.request_id for raw in raws] == ["1", "2", "3"]


async def test_with_options_adds_headers_to_its_calls_only() -> None:
    """Extra headers go on the view's requests; the client's own stay as they were."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return ok(request)

    async with client_for(MockTransport(handler)) as client:
        await client.with_options(headers={"X-Trace-Id": "t-1"}).accounts.list()
        await client.accounts.list()
    assert seen[0].headers["X-Trace-Id"] == "t-1"
    assert seen[0].headers["X-API-KEY"] == "pp_k"
    assert "X-Trace-Id" not in seen[1].headers


async def test_with_options_api_key_rotates_the_key_on_shared_connections() -> None:
    """A long-running worker swaps a rotated key without a new connection pool: the
    view's calls carry the new key (once, whatever the view's headers), the client's
    keep theirs, and a config taken from the view builds clients with the new key."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return ok(request)

    async with client_for(MockTransport(handler)) as client:
        rotated = client.with_options(headers={"X-Trace-Id": "t"}).with_options(api_key="pp_new")
        await rotated.accounts.list()
        await client.accounts.list()
        assert "pp_new" not in repr(rotated)
        assert ClientConfig.from_client(rotated).api_key == "pp_new"
        assert ClientConfig.from_client(rotated).default_headers == (("X-Trace-Id", "t"),)

    def keys(request: Request) -> list[str]:
        return [value for name, value in request.headers.items() if name.lower() == "x-api-key"]

    assert [keys(request) for request in seen] == [["pp_new"], ["pp_k"]]
    assert seen[0].headers["X-Trace-Id"] == "t"


@pytest.mark.parametrize(
    ("key", "error"),
    [
        pytest.param("", MissingAPIKeyError, id="empty"),
        pytest.param("  ", MissingAPIKeyError, id="blank"),
        pytest.param(b"k", InvalidParameterError, id="bytes"),
        pytest.param("pp k", InvalidParameterError, id="space"),
    ],
)
def test_a_bad_rotated_key_is_refused_before_any_request(key: object, error: type) -> None:
    client = client_for(MockTransport(ok))
    with pytest.raises(error, match="api_key"):
        client.with_options(api_key=key)  # type: ignore[arg-type]


async def test_a_callers_user_agent_replaces_the_sdks_whatever_its_case() -> None:
    """``default_headers`` and a view's ``headers`` replace the SDK's ``User-Agent`` and
    ``accept`` (header names are case-insensitive): each request carries one of each,
    the caller's, as with httpx and openai."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return ok(request)

    client = AsyncPostpress(
        api_key="pp_k",
        transport=MockTransport(handler),
        default_headers={"user-agent": "myapp/1", "Accept": "application/json; v=2"},
    )
    async with client:
        await client.accounts.list()
        await client.with_options(headers={"USER-AGENT": "job/2"}).accounts.list()

    def values(request: Request, name: str) -> list[str]:
        return [value for key, value in request.headers.items() if key.lower() == name]

    assert [values(request, "user-agent") for request in seen] == [["myapp/1"], ["job/2"]]
    assert [values(request, "accept") for request in seen] == [["application/json; v=2"]] * 2
    assert all(values(request, "x-api-key") == ["pp_k"] for request in seen)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"x-api-key": "other"}, id="the-key"),
        pytest.param({"X-Bad": "a\r\nInjected: 1"}, id="line-break"),
        pytest.param({"X-Num": 1}, id="not-str"),
    ],
)
def test_bad_extra_headers_are_refused(headers: dict[str, object]) -> None:
    """The key cannot be swapped per call, and no header can smuggle a line break."""
    client = client_for(MockTransport(ok))
    with pytest.raises(InvalidParameterError, match="headers"):
        client.with_options(headers=headers)  # type: ignore[arg-type]


async def test_a_closed_client_and_its_views_fail_with_client_closed_error() -> None:
    """After ``aclose()`` every call says the client is closed, views included."""
    client = client_for(MockTransport(ok))
    view = client.with_options(timeout=3.0)
    await client.aclose()
    for target in (client, view):
        with pytest.raises(ClientClosedError, match="closed"):
            await target.accounts.list()


def test_a_client_used_from_a_second_event_loop_fails_clearly() -> None:
    """A second ``asyncio.run`` gets EventLoopError, not 'Event loop is closed'."""
    client = client_for(MockTransport(ok))

    async def use() -> None:
        await client.accounts.list()

    asyncio.run(use())
    with pytest.raises(EventLoopError, match="one client per event loop"):
        asyncio.run(use())


@pytest.mark.parametrize("merged", [False, True], ids=["list", "merge"])
def test_a_stream_left_open_when_its_event_loop_ends_closes_without_an_error(
    merged: bool,
) -> None:
    """``asyncio.run`` closes the async generators still open when it ends, all at once.
    A stream left open then (its prefetch waiting for a page) closed with the loop's
    'an error occurred during closing of asynchronous generator ... already running':
    its inner generator was closed twice at once, by the loop and by the stream."""
    errors: list[str] = []
    first = json.loads(fixture_bytes("message_list.json"))

    async def pages(request: Request) -> Response:
        if "cursor=" in request.url:
            await asyncio.Event().wait()  # the next page never comes: the prefetch waits
        return Response(status=200, headers={}, content=json.dumps(first).encode())

    async def walk_one() -> AsyncIterator[Message]:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: errors.append(context["message"])
        )
        client = AsyncPostpress(api_key="pp_k", transport=MockTransport(pages), prefetch=2)
        stream = client.messages.list(limit=1)
        items = aiter(merge(stream) if merged else stream)
        await anext(items)
        await client.aclose()
        return items  # still open, still referenced when the loop ends

    left_open = asyncio.run(walk_one())
    assert errors == []
    del left_open


@pytest.mark.parametrize(
    ("base_url", "call", "body"),
    [
        pytest.param("https://example.com/", "retrieve", b"<html>Not Found</html>", id="html"),
        pytest.param("https://example.com/v2", "list", b"", id="empty-listing"),
        pytest.param("https://example.com/v2", "retrieve", b'{"message": "nope"}', id="json"),
    ],
)
async def test_a_404_from_what_is_not_the_api_names_the_base_url_to_check(
    base_url: str, call: str, body: bytes
) -> None:
    """A 404 without the API's error envelope is a wrong host or path (a base URL missing its
    ``/api/v1``): the message says which base URL was used, as the command line does."""
    transport = MockTransport(lambda request: Response(status=404, headers={}, content=body))
    async with AsyncPostpress(
        api_key="pp_k", base_url=base_url, transport=transport, retry=RetryPolicy.disabled()
    ) as client:
        with pytest.raises(NotFoundError) as info:
            if call == "list":
                await client.messages.list(account_id="acc_1", limit=5)
            else:
                await client.messages.retrieve("msg/1")
    base = base_url.rstrip("/")
    assert (
        f"at the base URL {base}: check base_url (or POSTPRESS_BASE_URL); "
        "this does not look like the postpress API"
    ) in str(info.value)


async def test_a_404_carrying_the_api_envelope_blames_the_id_not_the_base_url() -> None:
    envelope = {"type": "errors/resource_not_found", "status": 404, "title": "No message"}
    transport = MockTransport(
        lambda request: Response(status=404, headers={}, content=json.dumps(envelope).encode())
    )
    async with client_for(transport) as client:
        with pytest.raises(NotFoundError) as info:
            await client.messages.retrieve("msg_1")
    assert "base URL" not in str(info.value) and "base_url" not in str(info.value)
