"""What a typed list stream does with an item that does not fit its model (``on_unreadable``).

:func:`~._decoding.decode_page` reads a page item by item when one of its items does not
fit (a number for a ``timestamp``, ``null`` for a message): the page's other items are
read, and each bad one is set aside as an :class:`~._exceptions.UnreadableItem` (its bytes
as sent, why, and where). A page is never lost to one item; the client's
``on_unreadable`` says what the stream does with the items set aside:

* ``"raise"`` (the default): the page's readable items are handed out, then
  :class:`~._exceptions.UnreadableItemError` is raised, carrying them (``.items``) and the
  stream's checkpoint *after* that page: ``list(..., resume=error.checkpoint)`` goes on
  with the next page, nothing handed out twice;
* ``"skip"``: one WARNING record an item on the ``postpress_async`` logger (the JSON
  path, the reason, the item's first bytes), nothing raised;
* ``"yield"``: the :class:`~._exceptions.UnreadableItem` is handed out in the item's place.

Types. A client's streams are typed by what it was made with: ``AsyncPostpress`` is
generic in a marker, :class:`OnlyReadable` by default (``client.messages.list()`` is a
``ListStream[Message]``) and :class:`YieldsUnreadable` for a client made, or viewed
``with_options``, with ``on_unreadable="yield"`` (``ListStream[Message | UnreadableItem]``).
Markers, not ``Never``: mypy joins types that hold ``Never`` in a conditional expression,
so ``client.messages if x else client.chats`` would lose its methods.

:func:`typed_reader` builds the reader of a stream's pages for a policy, and the check
its stream runs once a page has been handed out whole (``"raise"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import msgspec

from ._config import OnUnreadable
from ._decoding import UnreadableItem, decode_page, set_aside_unplaced
from ._exceptions import UnreadableItemError
from ._lazy import logging
from ._words import printable
from .models import Page

__all__ = ["Mode", "OnlyReadable", "YieldsUnreadable", "typed_reader"]


class OnlyReadable:
    """Type marker: the client's typed streams hand out only items that fit their model."""

    __slots__ = ()


class YieldsUnreadable:
    """Type marker: they may hand out an ``UnreadableItem`` in an item's place ("yield")."""

    __slots__ = ()


if TYPE_CHECKING:
    from typing_extensions import TypeVar as TypeVarWithDefault

    #: The marker a client and its resources are generic in (see the module docstring).
    Mode = TypeVarWithDefault("Mode", OnlyReadable, YieldsUnreadable, default=OnlyReadable)
else:  # the default is for type checkers only (typing's own takes one from 3.13 on)
    Mode = TypeVar("Mode", OnlyReadable, YieldsUnreadable)

P = TypeVar("P", bound=Page[Any])

#: How many bytes of an unreadable item a log record quotes.
LOGGED_BYTES: Final = 200


def typed_reader(
    model: type[P], *, endpoint: str, policy: OnUnreadable, placed_by: str | None = None
) -> tuple[Callable[[bytes], P], Callable[[Page[Any]], None] | None]:
    """The reader of a typed stream's pages under ``policy``, and its after-page check.

    ``placed_by``: a field an item must have (a watch's ``timestamp``); an item without
    it is unreadable to this stream (:func:`~._decoding.set_aside_unplaced`).

    The check (``"raise"`` only; ``None`` otherwise) is for the stream to call once it
    has handed a page out whole: it raises :class:`UnreadableItemError` for a page that
    had unreadable items. The page those are remembered for is kept until then, so a
    stream holds at most the pages it has read and not yet handed out.
    """
    pending: dict[int, tuple[Page[Any], list[UnreadableItem]]] = {}

    def read(body: bytes) -> P:
        page, unreadable = decode_page(body, model, endpoint=endpoint)
        if placed_by is not None:
            page, unreadable = set_aside_unplaced(
                page, unreadable, body, placed_by, endpoint=endpoint
            )
        if not unreadable:
            return page
        if policy == "skip":
            for item in unreadable:
                _warn(item)
            return page
        if policy == "yield":
            return msgspec.structs.replace(page, items=_in_place(page.items, unreadable))
        pending[id(page)] = (page, unreadable)
        return page

    def after_page(page: Page[Any]) -> None:
        found = pending.pop(id(page), None)
        if found is not None and found[0] is page:
            raise UnreadableItemError(found[1], endpoint=endpoint)

    return read, (after_page if policy == "raise" else None)


def _in_place(items: list[Any], unreadable: list[UnreadableItem]) -> list[Any]:
    """The readable ``items`` with each unreadable one back at its index."""
    readable = iter(items)
    by_index = {item.index: item for item in unreadable}
    return [
        by_index[index] if index in by_index else next(readable)
        for index in range(len(items) + len(unreadable))
    ]


def _warn(item: UnreadableItem) -> None:
    """One WARNING record for an item skipped (``on_unreadable="skip"``)."""
    logger = logging.getLogger("postpress_async")  # logging loads with the first skip
    if not logger.isEnabledFor(logging.WARNING):
        return
    raw = item.raw
    # The server's bytes: on one line, no escape sequence for the terminal showing it.
    quoted = printable(raw[:LOGGED_BYTES].decode("utf-8", "replace"))
    if len(raw) > LOGGED_BYTES:
        quoted += f"... ({len(raw):,} bytes)"
    logger.warning(
        "%s; skipped (on_unreadable='skip'), the item as sent: %s",
        item.error,
        quoted,
        extra={"postpress_path": item.error.path, "postpress_endpoint": item.error.endpoint},
    )
