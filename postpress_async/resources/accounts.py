"""``client.accounts``: the accounts linked to the workspace."""

from __future__ import annotations

from typing import Any, overload

from postpress_async._decoding import UnreadableItem
from postpress_async._pagination import ListStream
from postpress_async._positions import Checkpoint
from postpress_async._unreadable import Mode, OnlyReadable, YieldsUnreadable
from postpress_async.models import Account, AccountList

from ._base import Resource

__all__ = ["Accounts"]


class Accounts(Resource[Mode]):
    """``GET /accounts``."""

    __slots__ = ()
    _name = "accounts"
    _path = "/accounts"

    @overload
    def list(
        self: Accounts[OnlyReadable],
        *,
        limit: int | None = ...,
        cursor: str | None = ...,
        resume: Checkpoint | None = ...,
        prefetch: int | None = ...,
        max_items: int | None = ...,
    ) -> ListStream[Account]: ...
    @overload
    def list(
        self: Accounts[YieldsUnreadable],
        *,
        limit: int | None = ...,
        cursor: str | None = ...,
        resume: Checkpoint | None = ...,
        prefetch: int | None = ...,
        max_items: int | None = ...,
    ) -> ListStream[Account | UnreadableItem]: ...
    def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        resume: Checkpoint | None = None,
        prefetch: int | None = None,
        max_items: int | None = None,
    ) -> ListStream[Any]:
        """List the accounts: ``await`` it for the first page, ``async for`` for every account.

        ``limit`` is the page size (1..250, server default 100); ``cursor`` or ``resume``
        start from a saved position; ``prefetch`` pages are fetched ahead (default: the
        client's); ``max_items`` stops the stream after that many accounts.
        """
        return self._list(
            "/accounts",
            {},
            AccountList,
            limit=limit,
            cursor=cursor,
            resume=resume,
            prefetch=prefetch,
            max_items=max_items,
        )
