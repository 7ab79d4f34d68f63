"""``client.accounts``: the accounts linked to the workspace."""

from __future__ import annotations

from postpress_async._pagination import ListStream
from postpress_async._positions import Checkpoint
from postpress_async.models import AccountList

from ._base import Item, Resource

__all__ = ["Accounts"]


class Accounts(Resource[Item]):
    """``GET /accounts``."""

    __slots__ = ()
    _name = "accounts"
    _path = "/accounts"

    def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        resume: Checkpoint | None = None,
        prefetch: int | None = None,
        max_items: int | None = None,
    ) -> ListStream[Item]:
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
