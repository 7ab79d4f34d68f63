"""Small HTTP helpers shared by the fake server's tests."""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec


async def get_json(
    http: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None
) -> tuple[int, Any]:
    """GET ``url`` and return the status and the decoded JSON body."""
    async with http.get(url, params=params) as response:
        assert response.content_type == "application/json"
        return response.status, msgspec.json.decode(await response.read())


async def walk(
    http: aiohttp.ClientSession, url: str, params: dict[str, str], *, max_pages: int = 10_000
) -> tuple[list[dict[str, Any]], int]:
    """Follow cursors from the first page to the last; return the items and the page count."""
    items: list[dict[str, Any]] = []
    query = dict(params)
    for pages in range(1, max_pages + 1):
        status, body = await get_json(http, url, query)
        assert status == 200, body
        items.extend(body["items"])
        cursor = body.get("cursor")
        if cursor is None:
            return items, pages
        query = {**params, "cursor": cursor}
    raise AssertionError("the listing never ended")
