"""Fault injection: rates, determinism, scripts, each fault's wire behaviour, counters."""

from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
from collections import Counter
from collections.abc import Callable

import aiohttp
import msgspec
import pytest

from postpress_async.testing import FakePostpress, FaultKind, FaultPlan, Faults
from postpress_async.testing._faults import FaultState

from ._helpers import get_json

JSON_ERRORS = [
    (FaultKind.NO_CLIENT_SESSION, 503, "errors/no_client_session"),
    (FaultKind.NO_CHANNEL, 503, "errors/no_channel"),
    (FaultKind.NO_HANDLER, 503, "errors/no_handler"),
    (FaultKind.NETWORK_DOWN, 503, "errors/network_down"),
    (FaultKind.SERVICE_UNAVAILABLE, 503, "errors/service_unavailable"),
    (FaultKind.REQUEST_TIMEOUT, 504, "errors/request_timeout"),
    (FaultKind.PROVIDER_ERROR, 500, "errors/provider_error"),
    (FaultKind.RATE_LIMITED, 429, "errors/too_many_requests"),
]


async def outcome(http: aiohttp.ClientSession, url: str) -> str:
    """Describe one request's outcome as a short string."""
    try:
        async with http.get(url) as response:
            body = await response.read()
            if response.content_type == "text/html":
                return f"{response.status}:html"
            if response.status != 200:
                return f"{response.status}:{msgspec.json.decode(body)['type']}"
            msgspec.json.decode(body)
            return "200"
    except aiohttp.ClientPayloadError:
        return "reset"
    except msgspec.DecodeError:
        return "truncated"


async def outcomes(server: FakePostpress, route_path: str, count: int) -> list[str]:
    """Send ``count`` sequential requests and describe each outcome."""
    async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:
        return [await outcome(http, f"{server.url}/{route_path}") for _ in range(count)]


@pytest.mark.parametrize(("kind", "status", "error_type"), JSON_ERRORS, ids=lambda v: str(v))
async def test_scripted_json_fault_sends_its_envelope(
    postpress_server: FakePostpress,
    http: aiohttp.ClientSession,
    kind: FaultKind,
    status: int,
    error_type: str,
) -> None:
    """Each JSON fault answers its status and documented error type, then service resumes."""
    postpress_server.inject("messages.list", [kind.value])
    async with http.get(f"{postpress_server.url}/messages") as response:
        body = msgspec.json.decode(await response.read())
        assert response.status == status
        assert body["type"] == error_type
        assert body["status"] == status
        assert set(body) == {"title", "detail", "instance", "type", "status"}
        retry_after = response.headers.get("Retry-After")
    assert (retry_after is not None) == (kind is FaultKind.RATE_LIMITED)
    status_after, _ = await get_json(http, f"{postpress_server.url}/messages")
    assert status_after == 200


async def test_rate_limited_announces_retry_after_seconds() -> None:
    """``Retry-After`` carries ``Faults.retry_after`` rounded up to whole seconds."""
    faults = Faults(rates={FaultKind.RATE_LIMITED: 1.0}, retry_after=2.5)
    async with (
        FakePostpress(faults=faults) as server,
        aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http,
        http.get(f"{server.url}/accounts") as response,
    ):
        assert response.status == 429
        assert response.headers["Retry-After"] == "3"


async def test_bad_gateway_is_an_html_page(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """The proxy's 502 is text/html, not a JSON envelope."""
    postpress_server.inject("chats.list", [FaultKind.BAD_GATEWAY_HTML])
    async with http.get(f"{postpress_server.url}/chats") as response:
        text = await response.text()
        assert response.status == 502
        assert response.content_type == "text/html"
    assert "502 Bad Gateway" in text
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(text)


async def test_connection_reset_cuts_the_body(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """Headers and half the body arrive, then the connection dies."""
    postpress_server.inject("messages.list", ["connection_reset"])
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(f"{postpress_server.url}/messages") as response:
            assert response.status == 200
            await response.read()
    status, _ = await get_json(http, f"{postpress_server.url}/messages")
    assert status == 200


async def test_truncated_body_has_a_matching_content_length(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """A 200 whose JSON stops halfway, with a Content-Length that matches the cut."""
    postpress_server.inject("messages.retrieve", ["truncated_body"])
    message_id = postpress_server.dataset.message_id(0)
    async with http.get(f"{postpress_server.url}/messages/{message_id}") as response:
        body = await response.read()
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == len(body)
    full = postpress_server.dataset.message_json(0)
    assert full.startswith(body)
    assert 0 < len(body) < len(full)
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(body)


async def test_slow_body_arrives_whole_in_pieces() -> None:
    """The slow body is complete and valid, it just takes ``slow_body_seconds``."""
    faults = Faults(slow_body_seconds=0.008)
    async with (
        FakePostpress(faults=faults) as server,
        aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http,
    ):
        server.inject("accounts.list", ["slow_body"])
        async with http.get(f"{server.url}/accounts") as response:
            chunks = [chunk async for chunk in response.content.iter_any()]
        assert len(chunks) > 1
        body = b"".join(chunks)
        assert msgspec.json.decode(body)["object"] == "AccountList"
        assert server.stats.bytes_sent == len(body)


@pytest.mark.slow
async def test_a_client_gone_during_a_slow_body_ends_the_request_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that hangs up mid-body (its read timeout) costs the fake no error log."""
    caplog.set_level(logging.ERROR, logger="aiohttp.server")
    async with (
        FakePostpress(faults=Faults(slow_body_seconds=2.0)) as server,
        aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http,
    ):
        server.inject("messages.list", ["slow_body"])
        async with http.get(f"{server.url}/messages", params={"limit": "250"}) as response:
            assert await response.content.readany()  # the first piece, then hang up
            response.close()
        for _ in range(400):  # the handler notices at its next write: wait for its end
            if server.stats.in_flight == 0:
                break
            await asyncio.sleep(0.01)
        assert server.stats.in_flight == 0
    assert [r.getMessage() for r in caplog.records if r.name == "aiohttp.server"] == []


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(Faults(latency=60.0), id="latency"),
        pytest.param(Faults(rates={FaultKind.SLOW_BODY: 1.0}, slow_body_seconds=60.0), id="slow"),
    ],
)
async def test_closing_ends_a_request_held_by_a_fault_at_once(faults: Faults) -> None:
    """A request a fault holds (latency, a slow body) whose client gave up is answered at
    once when the fake closes, instead of holding the close for its shutdown timeout."""
    server = FakePostpress(faults=faults)
    await server.start()
    try:
        async with aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http:

            async def fetch() -> None:
                async with http.get(f"{server.url}/accounts") as response:
                    await response.read()

            # The client gives up once the fake holds the request (not after a fixed 50 ms,
            # which a busy machine spent before the request reached the fake at all).
            request = asyncio.ensure_future(fetch())
            for _ in range(1000):
                if server.stats.in_flight or request.done():
                    break
                await asyncio.sleep(0.005)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
        assert server.stats.in_flight == 1
    finally:
        await server.aclose()
    assert server.stats.in_flight == 0
    assert server.stats.by_route_status["accounts.list", 200] == 1  # answered, not cut off


async def test_scripted_faults_happen_in_order_then_stop(postpress_server: FakePostpress) -> None:
    """A script is served first-in first-out, ``None`` lets one through, other routes untouched."""
    postpress_server.inject(
        "messages.list",
        [
            "service_unavailable",
            FaultKind.REQUEST_TIMEOUT,
            None,
            "bad_gateway_html",
            "truncated_body",
        ],
    )
    assert postpress_server.pending_faults("messages.list") == 5
    assert await outcomes(postpress_server, "accounts", 1) == ["200"]
    got = await outcomes(postpress_server, "messages", 7)
    assert got == [
        "503:errors/service_unavailable",
        "504:errors/request_timeout",
        "200",
        "502:html",
        "truncated",
        "200",
        "200",
    ]
    assert postpress_server.pending_faults("messages.list") == 0


def test_unknown_routes_and_faults_are_rejected() -> None:
    """Typos in route or fault names fail loudly instead of silently injecting nothing."""
    server = FakePostpress()
    with pytest.raises(ValueError, match="unknown route"):
        server.inject("messages.lst", ["service_unavailable"])
    with pytest.raises(ValueError, match="unknown fault"):
        server.inject("messages.list", ["service_unavalable"])
    with pytest.raises(ValueError, match="more than 1"):
        Faults(rates={"service_unavailable": 0.7, "no_channel": 0.4})
    with pytest.raises(ValueError, match="within"):
        Faults(rates={"service_unavailable": 1.5})
    with pytest.raises(ValueError, match="unknown route"):
        FaultPlan(routes={"chat.list": Faults()})


@pytest.mark.parametrize(
    "fault", ["service_unavailable", FaultKind.SERVICE_UNAVAILABLE], ids=["name", "kind"]
)
def test_one_fault_not_in_a_list_is_a_clear_type_error(fault: FaultKind | str) -> None:
    """``inject(route, "service_unavailable")`` read the name letter by letter ("unknown
    fault 's'"), a bare FaultKind was "not iterable": both say what to pass instead."""
    server = FakePostpress()
    with pytest.raises(TypeError, match=r"a sequence of faults, e\.g\. \[.*\]"):
        server.inject("messages.list", fault)  # type: ignore[arg-type]
    assert server.pending_faults("messages.list") == 0
    with pytest.raises(ValueError, match="unknown fault"):
        server.inject("messages.list", ["service_unavailable", "no_chanel"])
    assert server.pending_faults("messages.list") == 0  # a script with a typo: none of it


def test_an_endless_script_is_refused_not_read_for_ever() -> None:
    """``inject(route, itertools.repeat(kind))`` read the iterator to its end: the test
    hung, eating memory. It is refused, saying how to fail every request; a finite
    generator still scripts."""
    server = FakePostpress()
    with pytest.raises(ValueError, match=r"rates=\{kind: 1\.0\}"):
        server.inject("messages.list", itertools.repeat(FaultKind.SERVICE_UNAVAILABLE))
    assert server.pending_faults("messages.list") == 0
    server.inject("messages.list", (FaultKind.NO_CHANNEL for _ in range(3)))
    assert server.pending_faults("messages.list") == 3


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: Faults(latency="0.1"), "latency must be a number", id="str-latency"),
        pytest.param(
            lambda: Faults(rates={"no_channel": "0.1"}),
            "rate of no_channel must be a number",
            id="str-rate",
        ),
        pytest.param(lambda: Faults(rates=0.1), "rates must map faults", id="rate-not-a-map"),
        pytest.param(
            lambda: Faults(max_concurrency=1.5), "max_concurrency must be an int", id="float-limit"
        ),
        pytest.param(
            lambda: FaultPlan(routes={"messages.list": 0.1}),
            "messages.list: must be a Faults, got float",
            id="route-not-faults",
        ),
        pytest.param(lambda: FaultPlan(default=None), "default: must be a Faults", id="no-default"),
        pytest.param(
            lambda: FakePostpress(faults={"service_unavailable": 1.0}),
            r"faults must be a Faults, a FaultPlan or None, got dict \(rates go in Faults",
            id="rates-as-faults",
        ),
    ],
)
def test_faults_of_the_wrong_type_are_refused_when_built(
    build: Callable[[], object], message: str
) -> None:
    """Each was taken, to break at the first request (a dict of rates as ``faults``:
    "'dict' object has no attribute 'for_route'"), or broke with a message naming no
    field ("'<=' not supported between 'float' and 'str'")."""
    with pytest.raises(TypeError, match=message):
        build()


@pytest.mark.parametrize("field", ["latency", "jitter", "retry_after", "slow_body_seconds"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0], ids=["nan", "inf", "neg"])
def test_a_duration_that_is_no_finite_number_of_seconds_is_refused(
    field: str, value: float
) -> None:
    """NaN hung every slow body and crashed a 429 (a NaN ``Retry-After``): refused up front."""
    with pytest.raises(ValueError, match=f"{field} must be a finite number of seconds >= 0"):
        Faults(**{field: value})


@pytest.mark.slow
async def test_fault_rates_are_respected_and_repeatable() -> None:
    """300 requests at 20 % each of two faults: close to the rate, identical per seed."""
    faults = Faults(
        rates={FaultKind.SERVICE_UNAVAILABLE: 0.2, FaultKind.TRUNCATED_BODY: 0.2}, seed=11
    )
    runs = []
    for _ in range(2):
        async with FakePostpress(faults=faults) as server:
            got = await outcomes(server, "accounts?limit=1", 300)
            assert server.stats.faults[FaultKind.SERVICE_UNAVAILABLE] == got.count(
                "503:errors/service_unavailable"
            )
        runs.append(got)
    counts = Counter(runs[0])
    assert 40 <= counts["503:errors/service_unavailable"] <= 80
    assert 40 <= counts["truncated"] <= 80
    assert counts["200"] == 300 - counts["503:errors/service_unavailable"] - counts["truncated"]
    assert runs[0] == runs[1]
    async with FakePostpress(faults=faults.replace(seed=12)) as server:
        assert await outcomes(server, "accounts?limit=1", 300) != runs[0]


@pytest.mark.parametrize("kind", list(FaultKind), ids=lambda k: k.value)
async def test_every_fault_kind_fires_at_its_rate(kind: FaultKind) -> None:
    """Each kind alone at 30 % hits about 30 of 100 requests; the counters agree."""
    faults = Faults(rates={kind: 0.3}, seed=3, slow_body_seconds=0.0)
    async with FakePostpress(faults=faults) as server:
        got = await outcomes(server, "messages?limit=2", 100)
        fired = server.stats.faults[kind]
        assert server.stats.faults_by_route["messages.list", kind] == fired
    assert 15 <= fired <= 45
    assert got.count("200") == 100 - fired or kind is FaultKind.SLOW_BODY
    if kind is FaultKind.SLOW_BODY:
        assert got.count("200") == 100


async def test_per_route_plan_applies_only_to_its_route() -> None:
    """A :class:`FaultPlan` fails ``chats.list`` every time and leaves the rest alone."""
    plan = FaultPlan(routes={"chats.list": Faults(rates={"no_handler": 1.0})})
    async with FakePostpress(faults=plan) as server:
        assert await outcomes(server, "chats", 3) == ["503:errors/no_handler"] * 3
        assert await outcomes(server, "messages", 3) == ["200"] * 3
        server.set_faults(None)
        assert await outcomes(server, "chats", 1) == ["200"]


async def test_latency_holds_requests_and_counters_see_the_peak() -> None:
    """Ten concurrent requests held by latency are all in flight at once."""
    async with (
        FakePostpress(faults=Faults(latency=0.05)) as server,
        aiohttp.ClientSession(headers={"X-API-KEY": server.api_key}) as http,
    ):

        async def one() -> int:
            async with http.get(f"{server.url}/accounts") as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(one() for _ in range(10)))
        assert statuses == [200] * 10
        stats = server.stats
        assert stats.peak_in_flight == 10
        assert stats.in_flight == 0
        assert stats.requests == 10
        assert stats.by_route["accounts.list"] == 10
        assert stats.by_status[200] == 10
        assert stats.bytes_sent > 0


def test_jitter_is_seeded() -> None:
    """Delays with jitter stay within bounds and repeat for the same seed."""
    plan = FaultPlan(default=Faults(latency=0.02, jitter=0.005, seed=4))
    a, b = FaultState(plan), FaultState(plan)
    delays_a = [a.delay("messages.list") for _ in range(50)]
    delays_b = [b.delay("messages.list") for _ in range(50)]
    assert delays_a == delays_b
    assert all(0.015 <= d <= 0.025 for d in delays_a)
    assert len(set(delays_a)) > 40


async def test_counters_by_status_and_reset(
    postpress_server: FakePostpress, http: aiohttp.ClientSession
) -> None:
    """Statuses, faults and bytes are counted per route; ``reset_stats`` zeroes them."""
    postpress_server.inject("messages.retrieve", ["provider_error"])
    url = postpress_server.url
    await get_json(http, f"{url}/messages/{postpress_server.dataset.message_id(0)}")
    await get_json(http, f"{url}/messages/msg_missing")
    await get_json(http, f"{url}/chats", {"limit": "999"})
    async with aiohttp.ClientSession() as anonymous:
        await get_json(anonymous, f"{url}/accounts")
    stats = postpress_server.stats
    assert stats.requests == 4
    assert stats.by_route_status["messages.retrieve", 500] == 1
    assert stats.by_route_status["messages.retrieve", 404] == 1
    assert stats.by_route_status["chats.list", 400] == 1
    assert stats.by_route_status["accounts.list", 401] == 1
    assert stats.by_status == Counter({500: 1, 404: 1, 400: 1, 401: 1})
    assert stats.faults == Counter({FaultKind.PROVIDER_ERROR: 1})
    assert stats.bytes_sent > 0
    postpress_server.reset_stats()
    assert (stats.requests, stats.bytes_sent, stats.peak_in_flight) == (0, 0, 0)
    assert not stats.by_status
    assert not stats.faults


def test_a_fault_rate_is_split_evenly_over_the_retryable_json_faults() -> None:
    """``retryable_rates`` is the one split the CLI's --fake-fault-rate and the standalone use."""
    from postpress_async.testing import retryable_rates
    from postpress_async.testing._faults import JSON_FAULTS

    rates = retryable_rates(0.08)
    assert set(rates) == set(JSON_FAULTS)
    assert sum(rates.values()) == pytest.approx(0.08)
    assert len(set(rates.values())) == 1
    assert retryable_rates(0.0) == {}


def test_faults_and_a_plan_survive_pickling() -> None:
    """A fake server started in another process (spawn pickles its arguments) gets them."""
    faults = Faults(latency=0.01, rates={"rate_limited": 0.2, FaultKind.NO_CHANNEL: 0.1}, seed=3)
    plan = FaultPlan(default=faults, routes={"messages.list": Faults(max_concurrency=2)})
    for value in (faults, plan):
        again = pickle.loads(pickle.dumps(value))
        assert again == value and hash(again) == hash(value)
    again_plan = pickle.loads(pickle.dumps(plan))
    assert again_plan.for_route("messages.list").max_concurrency == 2
    with pytest.raises(TypeError):
        again_plan.routes["chats.list"] = faults  # type: ignore[index]
