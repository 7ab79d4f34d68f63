"""The fake's routes: each endpoint's path, the name faults and counters know it by, and
the :class:`Api` call that answers it; any method but GET or HEAD on it is a 405."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from postpress_async.testing._api import Api
from postpress_async.testing._faults import RouteName
from postpress_async.testing._replies import Reply

__all__ = ["ALLOW", "PREFIXES", "Answer", "Handler", "add_routes", "endpoints"]

PREFIXES: Final = ("/api/v1", "/v1")
ALLOW: Final = "GET, HEAD"
"""The ``Allow`` header of a 405: every endpoint answers GET, and HEAD as aiohttp does."""
Answer = Callable[[web.Request], Reply]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def endpoints(api: Api) -> list[tuple[str, RouteName, Answer]]:
    """Each endpoint's path (after a prefix), route name and answer. ``/chats/`` and
    ``/messages/`` are the retrieve routes with an empty id, which the API refuses."""

    def accounts_list(request: web.Request) -> Reply:
        return api.accounts_list(request.query)

    def chats_list(request: web.Request) -> Reply:
        return api.chats_list(request.query)

    def chat_retrieve(request: web.Request) -> Reply:
        return api.chat_retrieve(request.match_info.get("chat_id", ""), request.query)

    def messages_list(request: web.Request) -> Reply:
        return api.messages_list(request.query)

    def message_retrieve(request: web.Request) -> Reply:
        return api.message_retrieve(request.match_info.get("message_id", ""))

    return [
        ("/accounts", "accounts.list", accounts_list),
        ("/chats", "chats.list", chats_list),
        ("/chats/{chat_id}", "chats.retrieve", chat_retrieve),
        ("/chats/", "chats.retrieve", chat_retrieve),
        ("/messages", "messages.list", messages_list),
        ("/messages/{message_id}", "messages.retrieve", message_retrieve),
        ("/messages/", "messages.retrieve", message_retrieve),
    ]


def add_routes(
    router: web.UrlDispatcher,
    api: Api,
    handler: Callable[[RouteName | None, Answer], Handler],
) -> None:
    """Every endpoint under every prefix: GET (and HEAD) served by ``handler(route,
    answer)``; any other method a 405 with ``Allow``, counted as ``unknown`` (no fault)."""
    refuse = handler(None, lambda request: api.method_not_allowed(request.method, request.path))

    async def refuse_method(request: web.Request) -> web.StreamResponse:
        response = await refuse(request)  # the key is checked first, as on any path
        if response.status == 405:
            response.headers["Allow"] = ALLOW
        return response

    for prefix in PREFIXES:
        for path, route, answer in endpoints(api):
            router.add_get(prefix + path, handler(route, answer))
            router.add_route("*", prefix + path, refuse_method)
