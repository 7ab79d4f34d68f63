"""``client.accounts``: what ``accounts.list`` sends on the wire."""

from __future__ import annotations

from helpers import RecordingTransport, client_with, empty_list, path_of, query_of


async def test_accounts_list_sends_limit_and_cursor() -> None:
    transport = RecordingTransport(empty_list)
    async with client_with(transport) as client:
        page = await client.accounts.list(limit=250, cursor="c_1")
    assert path_of(transport.requests[0]) == "/api/v1/accounts"
    assert query_of(transport.requests[0]) == {"limit": "250", "cursor": "c_1"}
    assert page.items == []
    assert page.cursor is None
