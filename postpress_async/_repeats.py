"""The leading repeats of a page: what a server paging by offset lists again after a shift.

A server whose cursor counts items (the API reference's example is ``{"skip":100}``)
lists an item again when ``k`` items arrive ahead of a walk (or are listed late there)
between two of its pages: the next page opens with the last ``k`` items of the page
before, in the same order (for ``k`` up to a page; nothing is skipped). A walk drops
those: :func:`leading_repeats` counts them, :class:`Repeats` says how an item is known.

Only items that open the next page and line up with the end of the page before are
counted, so an item is never dropped that the walk did not hand out, and an item
without an id (``key`` gives ``None``) never is. What it costs: the page before is
kept (the stream holds it anyway) and, in the usual case, one id and three times are
read a page, not one an item: pages are ordered by time (the API says so, in either
direction), so an item whose time lies outside the page before cannot be in it. A
boundary inside a run of items of one time costs a scan back through that run; a listing
without ``when`` (accounts), or a page with an end of unknown time, a scan of the page before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from ._decode_errors import raw_item_id
from ._exceptions import UnreadableItem

__all__ = ["Repeats", "item_id", "item_time", "leading_repeats"]

T = TypeVar("T")

#: An item's id, ``None`` when it has none that can be read (such an item is never dropped).
Key = Callable[[T], "str | None"]
#: An item's time, in the order the listing pages by (``None``: unknown, no bound).
When = Callable[[T], Any]


def leading_repeats(
    before: Sequence[T], page: Sequence[T], key: Key[T], when: When[T] | None = None
) -> int:
    """How many leading items of ``page`` repeat the end of ``before``, in the same order.

    ``page[0]`` is looked for in ``before`` from its end; once found at ``j``, the count is
    how many of ``page`` match ``before[j:]`` one to one by id, stopping at the first that
    does not. ``when`` only bounds the search (see the module docstring); ids decide.
    """
    if not before or not page:
        return 0
    first = key(page[0])
    if first is None:
        return 0
    past: Callable[[T], bool] | None = None
    if when is not None:
        at, newest, oldest = when(page[0]), when(before[0]), when(before[-1])
        if at is not None and newest is not None and oldest is not None:
            if not (min(newest, oldest) <= at <= max(newest, oldest)):
                return 0  # outside the page before: the usual case, settled in O(1)
            past = _past(when, at, newest_first=newest >= oldest)
    found = len(before) - 1
    while key(before[found]) != first:
        if past is not None and past(before[found]):
            return 0
        found -= 1
        if found < 0:
            return 0
    count = 1
    for held in range(found + 1, min(len(before), found + len(page))):
        got = key(page[count])
        if got is None or got != key(before[held]):
            break
        count += 1
    return count


def _past(when: When[T], at: Any, *, newest_first: bool) -> Callable[[T], bool]:
    """Whether an item lies beyond time ``at`` back from the end of its page: the items
    before it are then beyond too, so the item at ``at`` is not among them."""

    def past(item: T) -> bool:
        time = when(item)
        return time is not None and (time > at if newest_first else time < at)

    return past


class Repeats(Generic[T]):
    """How a listing's items are known (``key``) and placed (``when``) to find repeats.

    :meth:`tracker` follows one walk: called with each page's items in order, it gives
    how many leading items repeat the page before (the first page: none).
    """

    __slots__ = ("key", "when")

    def __init__(self, key: Key[T], when: When[T] | None = None) -> None:
        self.key: Key[T] = key
        self.when: When[T] | None = when

    def tracker(self) -> Callable[[Sequence[T]], int]:
        key, when = self.key, self.when
        before: Sequence[T] = ()

        def lead(items: Sequence[T]) -> int:
            nonlocal before
            count = leading_repeats(before, items, key, when)
            before = items
            return count

        return lead


def item_id(item: object) -> str | None:
    """A typed item's id: a model's ``id``, or an :class:`UnreadableItem`'s if its bytes hold one."""
    if isinstance(item, UnreadableItem):
        return raw_item_id(item.raw)
    key = getattr(item, "id", None)
    return key if isinstance(key, str) else None


def item_time(item: object) -> Any:
    """A typed message's or chat's ``timestamp`` (what its listing is ordered by), or None."""
    return getattr(item, "timestamp", None)
