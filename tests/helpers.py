"""Helpers shared by the tests: canned responses and a recording transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from postpress_async import Request, Response, Timeout

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        content=json.dumps(body).encode(),
    )


class RecordingTransport:
    """A Transport that records every request and answers from a function or a script."""

    def __init__(self, respond: Callable[[Request], Response | Exception]) -> None:
        self.respond = respond
        self.requests: list[Request] = []
        self.closed = False

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        self.requests.append(request)
        outcome = self.respond(request)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def aclose(self) -> None:
        self.closed = True


def empty_list(request: Request) -> Response:
    kind = request.url.split("?")[0].rsplit("/", 1)[-1]
    obj = {"accounts": "AccountList", "chats": "ChatList", "messages": "MessageList"}[kind]
    return json_response(200, {"object": obj, "items": [], "cursor": None})
