"""The client: configuration, and typed errors.

The transport seam is replaced by a recording transport here; ``test_transport.py``
checks the real aiohttp transport against an in-process server, and ``resources/`` what
goes on the wire for every endpoint.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from helpers import KEY, RecordingTransport, client_with, empty_list, fixture_bytes, json_response

from postpress_async import (
    APIStatusError,
    AsyncPostpress,
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    GatewayTimeoutError,
    InternalServerError,
    InvalidParameterError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServiceUnavailableError,
    Timeout,
    __version__,
)
from postpress_async._config import DEFAULT_BASE_URL
from postpress_async._status_errors import DOCUMENTED_ERROR_TYPES, STATUS_ERRORS
from postpress_async.models import AccountList
from postpress_async.transports import Response

# -- configuration -----------------------------------------------------------------


def test_chat_time_is_checked_before_any_request_and_views_keep_their_own() -> None:
    transport = RecordingTransport(lambda request: AssertionError("no request expected"))
    with pytest.raises(InvalidParameterError, match=r"chat_time.*'activity' or 'created'") as bad:
        AsyncPostpress(api_key=KEY, transport=transport, chat_time="creation")  # type: ignore[call-overload]
    assert bad.value.param == "chat_time"
    client = AsyncPostpress(api_key=KEY, transport=transport)
    assert client.chat_time == "activity"  # the SDK's reading of the docs, unchanged
    with pytest.raises(InvalidParameterError, match="chat_time") as bad:
        client.with_options(chat_time="CREATED")  # type: ignore[call-overload]
    assert bad.value.param == "chat_time"
    view = client.with_options(chat_time="created")
    assert (view.chat_time, client.chat_time) == ("created", "activity")
    assert view.with_options(prefetch=2).chat_time == "created"
    assert view.with_options(chat_time="activity").chat_time == "activity"
    with pytest.raises(AttributeError):
        client.chat_time = "created"  # type: ignore[misc]
    assert transport.requests == []


@pytest.mark.usefixtures("no_env")
def test_a_missing_api_key_fails_at_construction() -> None:
    with pytest.raises(MissingAPIKeyError, match="POSTPRESS_API_KEY"):
        AsyncPostpress()


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize("given", ["", "  \n"])
def test_an_empty_api_key_argument_is_named_not_the_variable_it_hides(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """api_key=os.environ.get("MY_KEY", "") with MY_KEY unset: the variable is set, so
    "set the POSTPRESS_API_KEY environment variable" would send the user to the wrong place;
    a given key is used as given, so say it is empty and how to read the variable."""
    monkeypatch.setenv("POSTPRESS_API_KEY", "pp_env_key")
    with pytest.raises(MissingAPIKeyError) as caught:
        AsyncPostpress(api_key=given)
    assert "api_key is empty" in str(caught.value)
    assert "api_key=None" in str(caught.value)


@pytest.mark.usefixtures("no_env")
def test_api_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTPRESS_API_KEY", "pp_env_key")
    monkeypatch.setenv("POSTPRESS_BASE_URL", "http://127.0.0.1:9/v1/")
    client = AsyncPostpress(transport=RecordingTransport(empty_list))
    assert client.base_url == "http://127.0.0.1:9/v1"
    assert client._headers["X-API-KEY"] == "pp_env_key"


@pytest.mark.usefixtures("no_env")
def test_a_bad_base_url_from_the_environment_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTPRESS_BASE_URL", "https://api.postpress.ai/api/v1\n")
    with pytest.raises(
        InvalidParameterError, match=r"^POSTPRESS_BASE_URL: must not contain"
    ) as info:
        AsyncPostpress(api_key=KEY, transport=RecordingTransport(empty_list))
    assert info.value.param == "POSTPRESS_BASE_URL"


@pytest.mark.usefixtures("no_env")
def test_a_bad_api_key_from_the_environment_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not ``api_key``, which the caller did not pass; the key itself is never shown."""
    monkeypatch.setenv("POSTPRESS_API_KEY", "pp key")
    with pytest.raises(
        InvalidParameterError, match=r"^POSTPRESS_API_KEY: must be printable"
    ) as info:
        AsyncPostpress(transport=RecordingTransport(empty_list))
    assert info.value.param == "POSTPRESS_API_KEY"
    assert "pp key" not in str(info.value)


@pytest.mark.usefixtures("no_env")
def test_the_default_base_url_is_the_one_the_docs_examples_call() -> None:
    client = AsyncPostpress(api_key=KEY, transport=RecordingTransport(empty_list))
    assert client.base_url == DEFAULT_BASE_URL == "https://api.postpress.ai/api/v1"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        pytest.param({"base_url": "api.postpress.ai"}, "base_url", id="base-url-no-scheme"),
        pytest.param({"prefetch": -1}, "prefetch", id="prefetch-negative"),
        pytest.param({"timeout": "fast"}, "timeout", id="timeout-str"),
        pytest.param({"retry": 3}, "retry", id="retry-int"),
        pytest.param(
            {"base_url": "http://example.com/api/v1", "allow_insecure_http": "false"},
            "allow_insecure_http",
            id="insecure-http-str",
        ),
        pytest.param({"telemetry": "no"}, "telemetry", id="telemetry-str"),
        pytest.param({"limits": {"max_in_flight": 4}}, "limits", id="limits-dict"),
        pytest.param(
            {"base_url": b"https://api.postpress.ai/api/v1"}, "base_url", id="base-url-bytes"
        ),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidParameterError, match=param):
        AsyncPostpress(api_key=KEY, transport=RecordingTransport(empty_list), **kwargs)  # type: ignore[arg-type]


def test_an_api_key_that_is_not_a_str_is_refused_without_showing_it() -> None:
    with pytest.raises(InvalidParameterError, match="api_key: must be a str") as caught:
        AsyncPostpress(api_key=KEY.encode(), transport=RecordingTransport(empty_list))  # type: ignore[call-overload]
    assert KEY not in str(caught.value)


def test_a_session_that_is_not_an_aiohttp_session_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match=r"session: must be an aiohttp\.ClientSession"):
        AsyncPostpress(api_key=KEY, session="shared")  # type: ignore[call-overload]


def test_a_transport_without_send_and_aclose_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match=r"transport: must be a Transport"):
        AsyncPostpress(api_key=KEY, transport="aiohttp")  # type: ignore[call-overload]


def test_the_api_key_never_shows_in_repr() -> None:
    client = client_with(RecordingTransport(empty_list))
    assert KEY not in repr(client)


@pytest.mark.parametrize("view", [False, True], ids=["client", "view"])
def test_a_client_refuses_pickling_and_says_what_to_send_instead(view: bool) -> None:
    """A Dask task or a process pool gets a clear error, not a second client that shares
    no limits (and a pickle holding the key in clear)."""
    client = AsyncPostpress(api_key=KEY)
    if view:
        client = client.with_options(timeout=5)
    with pytest.raises(TypeError, match=r"ClientConfig\.from_client") as caught:
        pickle.dumps(client)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("make", "instead"),
    [
        pytest.param(lambda c: c.messages.list(), r"stream\.checkpoint", id="list"),
        pytest.param(lambda c: c.chats.watch(), r"stream\.state", id="watch"),
        pytest.param(
            lambda c: c.messages.list_windows(after="2026-01-01Z", before="2026-02-01Z"),
            r"stream\.checkpoints",
            id="list_windows",
        ),
    ],
)
async def test_a_stream_refuses_pickling_and_names_the_position_to_send(
    make: Callable[[AsyncPostpress], object], instead: str
) -> None:
    """A stream runs in this process's event loop: what travels is its position."""
    async with client_with(RecordingTransport(empty_list)) as client:
        with pytest.raises(TypeError, match=instead):
            pickle.dumps(make(client))


def test_timeouts_are_a_frozen_value() -> None:
    timeout = Timeout(connect=1.0, total=5.0)
    assert timeout.replace(total=9.0) == Timeout(connect=1.0, total=9.0)
    with pytest.raises(AttributeError):
        timeout.total = 1.0  # type: ignore[misc]
    with pytest.raises(InvalidParameterError, match=r"timeout\.connect"):
        Timeout(connect=-1)
    with pytest.raises(InvalidParameterError, match=r"timeout\.total: must be > 0"):
        Timeout(total=0)


@pytest.mark.parametrize("seconds", [5.0, 90.0, 300.0])
def test_a_plain_timeout_bounds_the_whole_attempt_and_no_read_cuts_it_shorter(
    seconds: float,
) -> None:
    """`timeout=300` (CLI: `--timeout 300`) for a slow API: a 90 s wait for the answer
    is within it, not cut at the default read timeout (60 s), which no option reaches."""
    client = client_with(RecordingTransport(empty_list))
    for timeout in (
        AsyncPostpress(
            api_key=KEY, timeout=seconds, transport=RecordingTransport(empty_list)
        ).timeout,
        client.with_options(timeout=seconds).timeout,
    ):
        assert timeout.total == seconds
        assert timeout.read is None or timeout.read >= seconds
        assert timeout.connect == Timeout().connect  # a dead host still fails fast


async def test_every_request_sends_key_accept_and_user_agent() -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        await client.accounts.list()
    headers = transport.requests[0].headers
    assert headers["X-API-KEY"] == KEY
    assert headers["accept"] == "application/json"
    assert headers["User-Agent"].startswith(f"postpress-async/{__version__} ")


async def test_closing_the_client_closes_its_transport() -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport):
        pass
    assert transport.closed


async def test_a_view_with_other_options_shares_the_transport_and_does_not_close_it() -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        view = client.with_options(timeout=3.0, retry=RetryPolicy(attempts=2))
        assert view.timeout.total == 3.0
        assert view.retry.attempts == 2
        assert client.retry.attempts == 1
        await view.messages.list()
        await view.aclose()
        assert not transport.closed
    assert transport.closed
    assert len(transport.requests) == 1


# -- errors ----------------------------------------------------------------------

DOCUMENTED_ERRORS = [
    *(
        pytest.param(status, type_, STATUS_ERRORS[status], id=f"{status}-{type_.split('/')[1]}")
        for status, types in sorted(DOCUMENTED_ERROR_TYPES.items())
        for type_ in sorted(types)
    ),
    pytest.param(429, "errors/too_many_requests", RateLimitError, id="429"),
    pytest.param(418, "errors/teapot", APIStatusError, id="418-generic"),
]


def test_every_documented_status_has_its_own_class() -> None:
    classes = {status: STATUS_ERRORS[status] for status in DOCUMENTED_ERROR_TYPES}
    assert classes == {
        400: BadRequestError,
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        500: InternalServerError,
        503: ServiceUnavailableError,
        504: GatewayTimeoutError,
    }
    assert sum(len(types) for types in DOCUMENTED_ERROR_TYPES.values()) == 45


@pytest.mark.parametrize(("status", "type_", "cls"), DOCUMENTED_ERRORS)
async def test_each_error_status_and_type_maps_to_its_class(
    status: int, type_: str, cls: type[APIStatusError]
) -> None:
    envelope = {
        "title": "Something",
        "detail": "A detail",
        "instance": "req_123",
        "type": type_,
        "status": status,
    }
    transport = RecordingTransport(lambda r: json_response(status, envelope))
    async with client_with(transport) as client:
        with pytest.raises(APIStatusError) as info:
            await client.messages.retrieve("msg_1")
    error = info.value
    assert type(error) is cls
    assert (error.status, error.type, error.title, error.detail, error.instance) == (
        status,
        type_,
        "Something",
        "A detail",
        "req_123",
    )
    assert error.method == "GET"
    assert error.url == "https://api.postpress.ai/api/v1/messages/msg_1"
    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert type_ in str(error)
    assert "req_123" in str(error)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        pytest.param(502, BadGatewayError, id="502"),
        pytest.param(503, ServiceUnavailableError, id="503"),
        pytest.param(504, GatewayTimeoutError, id="504"),
        pytest.param(401, AuthenticationError, id="401"),
    ],
)
async def test_a_non_json_error_body_still_gets_the_class_of_its_status(
    status: int, cls: type[APIStatusError]
) -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    transport = RecordingTransport(
        lambda r: Response(status=status, headers={"content-type": "text/html"}, content=html)
    )
    async with client_with(transport) as client:
        with pytest.raises(cls) as info:
            await client.chats.list()
    assert info.value.type is None
    assert info.value.body == html
    assert "non-JSON" in str(info.value)


@pytest.mark.parametrize(
    ("status", "header", "seconds"),
    [
        pytest.param(429, "7", 7.0, id="429-seconds"),
        pytest.param(429, "2.5", 2.5, id="429-fraction"),
        pytest.param(503, "3", 3.0, id="503-seconds"),
        pytest.param(503, "Wed, 21 Oct 2015 07:28:00 GMT", None, id="503-date-past"),
        pytest.param(429, "soon", None, id="429-unreadable"),
    ],
)
async def test_errors_expose_retry_after_as_float_seconds_and_the_raw_header(
    status: int, header: str, seconds: float | None
) -> None:
    """``retry_after`` is seconds (parsed once); ``retry_after_header`` keeps the raw text."""
    transport = RecordingTransport(
        lambda r: json_response(
            status,
            {"title": "Slow down", "type": "errors/rate_limited", "status": status},
            {"retry-after": header},
        )
    )
    async with client_with(transport) as client:
        with pytest.raises(APIStatusError) as info:
            await client.accounts.list()
    assert info.value.retry_after == seconds
    assert info.value.retry_after_header == header
    assert isinstance(info.value, RateLimitError) == (status == 429)


@pytest.mark.parametrize(
    ("headers", "instance", "expected"),
    [
        pytest.param({"X-Request-Id": "req_7"}, "inst_1", "req_7", id="header"),
        pytest.param({}, "inst_1", "inst_1", id="envelope-instance"),
        pytest.param({}, None, None, id="none"),
    ],
)
async def test_an_error_names_the_request_id_to_quote_to_support(
    headers: dict[str, str], instance: str | None, expected: str | None
) -> None:
    """``error.request_id``, as on a response event and a raw response: the
    ``X-Request-Id`` header, else the envelope's ``instance``."""
    body = {"title": "Not found", "type": "errors/resource_not_found", "status": 404}
    body |= {} if instance is None else {"instance": instance}
    transport = RecordingTransport(lambda r: json_response(404, body, headers))
    async with client_with(transport) as client:
        with pytest.raises(NotFoundError) as info:
            await client.messages.retrieve("msg_1")
    assert info.value.request_id == expected


async def test_a_page_that_does_not_fit_its_model_is_a_typed_error_naming_endpoint_and_path() -> (
    None
):
    from postpress_async import ResponseDecodeError

    body = b'{"object":"MessageList","items":[{"id":"m1"},{"id":42}],"cursor":null}'
    transport = RecordingTransport(lambda r: Response(status=200, headers={}, content=body))
    async with client_with(transport) as client:
        with pytest.raises(ResponseDecodeError) as info:
            await client.messages.list()
    assert info.value.endpoint == "messages.list"
    assert info.value.path == "$.items[1].id"


async def test_the_accounts_example_decodes_through_the_client() -> None:
    transport = RecordingTransport(
        lambda r: Response(status=200, headers={}, content=fixture_bytes("account_list.json"))
    )
    async with client_with(transport) as client:
        page = await client.accounts.list()
    assert isinstance(page, AccountList)
    assert [account.type for account in page.items] == ["LINKEDIN", "GOOGLE_OAUTH"]
