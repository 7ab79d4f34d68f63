"""Names for annotations: the values a few options take, and the client's typing markers.

::

    from postpress_async import AsyncPostpress
    from postpress_async.types import YieldsUnreadable

    def keep(client: AsyncPostpress[YieldsUnreadable]) -> None:
        ...  # client.messages.list() hands out Message | UnreadableItem

* :data:`OnUnreadable`: ``"raise"``, ``"skip"`` or ``"yield"`` (``AsyncPostpress(on_unreadable=)``);
* :data:`ChatTime`: ``"activity"`` or ``"created"``, what ``GET /chats``' ``before``/``after``
  filter by (``AsyncPostpress(chat_time=)``);
* :class:`OnlyReadable` / :class:`YieldsUnreadable`: what a client's streams hand out,
  as its type parameter (a client made with ``on_unreadable="yield"`` is
  ``AsyncPostpress[YieldsUnreadable]``; any other, ``AsyncPostpress[OnlyReadable]``).
"""

from ._config import ChatTime as ChatTime
from ._config import OnUnreadable as OnUnreadable
from ._unreadable import OnlyReadable as OnlyReadable
from ._unreadable import YieldsUnreadable as YieldsUnreadable

__all__ = ["ChatTime", "OnUnreadable", "OnlyReadable", "YieldsUnreadable"]
