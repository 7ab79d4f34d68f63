"""ClientConfig: the client's configuration as a plain value a worker rebuilds it from."""

from __future__ import annotations

import msgspec
import pytest

from postpress_async import AsyncPostpress, Timeout
from postpress_async.ingest import ClientConfig
from postpress_async.transports import MockTransport, Request, Response

KEY = "pp_live_SECRET_0123456789"
PROXY = "Bearer proxy-SECRET-token"


async def _headers_sent(config: ClientConfig) -> dict[str, str]:
    sent: list[Request] = []

    def answer(request: Request) -> Response:
        sent.append(request)
        return Response(status=200, headers={}, content=b'{"items": [], "cursor": null}')

    async with config.client(transport=MockTransport(answer)) as client:
        await client.accounts.list()
    return dict(sent[0].headers)


async def test_a_worker_s_client_sends_the_headers_the_user_s_client_sends() -> None:
    """``default_headers`` (the README's way to send a proxy's credentials) and a view's
    ``headers`` reach every request of the client rebuilt from the config, in a worker too."""
    client = AsyncPostpress(
        api_key=KEY,
        base_url="https://proxy.example/api/v1",
        default_headers={"Authorization": PROXY},
    )
    view = client.with_options(headers={"X-Team": "etl"})
    config = ClientConfig.from_client(view)
    shipped = msgspec.json.decode(msgspec.json.encode(config), type=ClientConfig)
    headers = await _headers_sent(shipped)
    assert headers["Authorization"] == PROXY and headers["X-Team"] == "etl"
    assert headers["X-API-KEY"] == KEY
    assert PROXY not in repr(config) and KEY not in repr(config)
    assert PROXY not in repr(list(config.__rich_repr__()))
    await client.aclose()


async def test_a_client_without_extra_headers_gives_a_config_without_any() -> None:
    async with AsyncPostpress(api_key=KEY, base_url="https://api.example/v1") as client:
        config = ClientConfig.from_client(client)
    assert config.default_headers == ()
    assert config == ClientConfig.from_client(client) and hash(config) == hash(
        ClientConfig.from_client(client)
    )


@pytest.mark.parametrize(
    "timeout",
    [
        pytest.param(None, id="default"),  # read 60 s became 120 s
        pytest.param(Timeout(total=None), id="no-total"),  # became 120 s
        pytest.param(Timeout(connect=2.0, read=10.0, total=30.0), id="each"),  # 10/60/30
        pytest.param(300, id="seconds"),
    ],
)
async def test_a_worker_s_client_has_the_timeouts_of_the_user_s_client(
    timeout: Timeout | float | None,
) -> None:
    """``from_client`` kept only ``Timeout.total``, which the rebuilt client read as a
    number of seconds: every other timeout went back to its default, a disabled total
    became 120 s."""
    async with AsyncPostpress(api_key=KEY, timeout=timeout) as client:
        config = ClientConfig.from_client(client)
    shipped = msgspec.json.decode(msgspec.json.encode(config), type=ClientConfig)
    async with shipped.client() as rebuilt:
        assert rebuilt.timeout == client.timeout
