"""The resume tokens: where a list stream, a watch or a sink's shard stands.

Plain msgspec values, JSON in and JSON out, that every layer may import:

* :class:`Checkpoint`: where a ``list()`` stream stands (``list(..., resume=checkpoint)``),
  and, once it is done, where a watch continuing it starts (``checkpoint.follow``);
* :class:`WatchState`: where a watch stands (``watch(since=state)``), the one token a
  follower stores, in the manner of Gmail's ``historyId`` or a Graph ``deltaLink``;
* :class:`AccountsSeen`: what a store holds of the accounts list (which has no time to
  follow), so that a refresh stores only what is new or changed.

What moves them is elsewhere: the page loop in :mod:`._pagination`, the follow decisions
in :mod:`._follow`, the polling in :mod:`._watch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

import msgspec

from ._epoch import from_ms
from ._lazy import hashlib

__all__ = ["STATE_VERSION", "AccountsSeen", "Checkpoint", "WatchState", "filters_fingerprint"]

STATE_VERSION: Final = 1


def filters_fingerprint(kind: str, filters: Mapping[str, str | None]) -> str:
    """A short, stable hash of what a watch lists: the endpoint and its (encoded) filters."""
    present = {key: value for key, value in sorted(filters.items()) if value is not None}
    raw = msgspec.json.encode({"kind": kind, "filters": present})
    return hashlib.sha256(raw).hexdigest()[:16]


class WatchState(msgspec.Struct, frozen=True, kw_only=True):
    """Where a watch stands: resume with ``watch(since=state)``, nothing lost or repeated.

    Encode it with ``msgspec.json.encode(state)`` (a few hundred bytes plus the ids of one
    overlap window) and decode it with ``msgspec.json.decode(data, type=WatchState)``.
    ``watermark_ms`` is the newest timestamp handed out, but never past the server's
    clock (the ``Date`` of the responses that listed it: an item dated in the future
    does not move it there), ``floor_ms`` the moment at or before which nothing more is
    handed out (``None``: no bound), ``seen`` the ``(timestamp_ms, id)`` pairs handed
    out after the floor (a future-dated item's stays until the floor passes it),
    ``fingerprint`` a hash of the endpoint and filters it belongs to. ``now`` marks a
    watch asked to start "now" whose first poll has not yet read where "now" is on the
    server (its newest item): a watch never starts from the local clock.
    """

    version: int = STATE_VERSION
    kind: str
    fingerprint: str
    watermark_ms: int | None = None
    floor_ms: int | None = None
    seen: tuple[tuple[int, str], ...] = ()
    now: bool = False
    #: The unreadable items listed after the floor that were raised already (digests).
    unreadable: tuple[str, ...] = ()

    @property
    def watermark(self) -> datetime | None:
        """The newest timestamp handed out, as an aware datetime."""
        return None if self.watermark_ms is None else from_ms(self.watermark_ms)

    @property
    def floor(self) -> datetime | None:
        """Nothing at or before this moment is handed out any more."""
        return None if self.floor_ms is None else from_ms(self.floor_ms)


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where a stream stands: resume with ``list(..., resume=checkpoint)``.

    ``cursor`` is the page the next item comes from (``None``: the first page),
    ``offset`` how many of that page's items were already handed out, ``done`` whether
    the stream has ended. Encode it with ``msgspec.json.encode`` to store it.

    ``follow`` (messages and chats only) is where a watch continuing this listing
    starts: once ``done``, ``watch(since=checkpoint)`` follows what arrives after it,
    with no gap and no duplicate.
    """

    cursor: str | None = None
    offset: int = 0
    done: bool = False
    follow: WatchState | None = None


class AccountsSeen(msgspec.Struct, frozen=True, kw_only=True):
    """The accounts a store holds, each with a digest of its bytes as the API sent them.

    The accounts list has no ``after``: keeping it current means listing it again. With
    this position a refresh stores the accounts that are new or whose bytes changed, and
    can say how many of each.
    """

    version: int = 1
    #: Account id -> a short hex digest of its exact JSON.
    digests: dict[str, str] = msgspec.field(default_factory=dict)
