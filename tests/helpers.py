"""Helpers shared by the tests: canned responses, the public MockTransport keeping its
requests, and a client on it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from postpress_async import AsyncPostpress, RetryPolicy, ServiceUnavailableError
from postpress_async.transports import MockTransport, Request, Response

FIXTURES = Path(__file__).parent / "fixtures"
#: The API key of the clients :func:`client_with` builds.
KEY = "pp_test_secret_key_123"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        content=json.dumps(body).encode(),
    )


class RecordingTransport(MockTransport):
    """The README's ``MockTransport``, keeping every request it is given.

    ``respond`` answers a request with a Response, or with an exception to raise (a
    network failure, as a transport would raise it).
    """

    def __init__(self, respond: Callable[[Request], Response | Exception]) -> None:
        self.requests: list[Request] = []
        self.closed = False

        def handler(request: Request) -> Response:
            self.requests.append(request)
            outcome = respond(request)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        super().__init__(handler)

    async def aclose(self) -> None:
        self.closed = True


def empty_list(request: Request) -> Response:
    kind = request.url.split("?")[0].rsplit("/", 1)[-1]
    obj = {"accounts": "AccountList", "chats": "ChatList", "messages": "MessageList"}[kind]
    return json_response(200, {"object": obj, "items": [], "cursor": None})


def client_with(transport: RecordingTransport, **kwargs: object) -> AsyncPostpress:
    """A client whose requests go to ``transport``, never retried."""
    return AsyncPostpress(api_key=KEY, transport=transport, retry=RetryPolicy.disabled(), **kwargs)  # type: ignore[arg-type]


def query_of(request: Request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def path_of(request: Request) -> str:
    return urlsplit(request.url).path


def unavailable() -> ServiceUnavailableError:
    """A 503 as a failed request raises it (for fakes that fail a page or a poll)."""
    return ServiceUnavailableError(
        status=503,
        type="errors/service_unavailable",
        title="Service Unavailable",
        method="GET",
        url="https://x/v1/messages",
    )


def asyncpg_or_skip() -> Any:
    """The asyncpg module; a skip without it, except in CI, where its stage installs it."""
    if os.environ.get("CI") == "true":
        import asyncpg

        return asyncpg
    return pytest.importorskip("asyncpg")
