"""The configuration every postpress model shares."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from postpress_async._encoding import UNKNOWN_TAG as UNKNOWN_TAG
from postpress_async._encoding import to_builtins

__all__ = ["UNKNOWN_TAG", "Model", "Time"]

#: A server time, always aware. The typed decode takes only a time with its zone (``Z``
#: or an offset); one sent without is refused there, and the tolerant rewrite reads it
#: as UTC, the API's zone (:mod:`postpress_async._rewrite`): never a naive datetime.
Time = Annotated[datetime, msgspec.Meta(tz=True)]


class Model(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    repr_omit_defaults=True,
    gc=False,
):
    """Base of every model: keyword-only, immutable, unknown fields ignored.

    Encoded, a model has every field it knows, ``null`` or empty where the server sent
    none: exports get one stable schema whatever a server left out.

    Models are not tracked by the garbage collector (``gc=False``): their declared
    fields hold only text, numbers, times and other models (directly, or in lists and
    dicts), so no cycle can form, and the collector never walks a page's fresh messages
    (only their lists are still tracked). The two exceptions opt back in:
    :class:`Page` (its items may be of any type) and the ``Unknown...`` members (their
    ``raw`` holds arbitrary values).

    msgspec applies ``kw_only`` only to the fields a class defines itself, and mypy
    only sees ``frozen`` where it is spelled out, so every subclass passes both again.
    """

    def to_builtins(self) -> dict[str, Any]:
        """This model as plain builtins with snake_case keys (see ``_encoding.to_builtins``).

        Datetimes keep the server's millisecond form (``2026-05-01T09:30:00.123Z``);
        ``json.dumps(model.to_builtins())`` or a FastAPI endpoint take it as is.
        """
        result: dict[str, Any] = to_builtins(self)
        return result
