"""One home for each resource's facts: its name and the filters its listing takes.

The resources' ``list()``/``watch()`` signatures spell their filters out (for editors
and type checkers), and encode them through this table; the shard planner, the stored
shards, the watch's fingerprint and every command-line option set read the same table.
Adding a query parameter: the resource method (a keyword), its line here, and the fake
server's handling of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from ._exceptions import InvalidParameterError
from ._params import (
    ACCOUNT_TYPES,
    check_text,
    encode_account_ids,
    encode_account_type,
    encode_bool,
    encode_id,
)

__all__ = [
    "FILTERS",
    "RESOURCES",
    "TIMED",
    "WATCHED",
    "Filter",
    "ResourceName",
    "check_encoded",
    "check_resource",
    "decode_filters",
    "encode_filters",
]

#: The list endpoints, by the name their models, tables and commands use.
ResourceName = Literal["accounts", "chats", "messages"]
RESOURCES: Final[tuple[ResourceName, ...]] = ("accounts", "chats", "messages")
#: The resources whose listing takes ``before``/``after`` (strict bounds on ``timestamp``).
TIMED: Final[frozenset[ResourceName]] = frozenset({"chats", "messages"})
#: The resources a watch can follow.
WATCHED: Final[frozenset[ResourceName]] = frozenset({"chats", "messages"})


def check_resource(endpoint: object) -> ResourceName:
    """``endpoint`` if it names a list endpoint; else an error showing what was given."""
    for name in RESOURCES:
        if endpoint == name:
            return name
    raise InvalidParameterError(
        "endpoint", f"must be one of {', '.join(RESOURCES)}; got {endpoint!r}"
    )


def _ids(text: str) -> list[str]:
    return text.split(",")


def _flag(text: str) -> bool:
    return text == "true"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    """One filter of a listing: how its value goes on the wire and back, and its help."""

    #: The API's query parameter, and the SDK's keyword argument.
    name: str
    #: ``(name, value) -> the API's string``; raises :class:`InvalidParameterError`.
    encode: Callable[[str, Any], str]
    #: The API's string -> the keyword value (a stored shard's filters back to a call).
    decode: Callable[[str], Any] = str
    #: What it keeps, completing "only <resource> ..." (``of this account``).
    help: str
    metavar: str = "ID"
    #: Takes several values (sent comma-joined).
    many: bool = False
    #: A yes/no filter (``--unread`` / ``--read`` on the command line).
    flag: bool = False
    #: A watch of the resource takes it too.
    watched: bool = True


#: Every filter of every listing, in the order ``--help`` lists them.
FILTERS: Final[Mapping[ResourceName, tuple[Filter, ...]]] = {
    "accounts": (),
    "chats": (
        Filter(
            name="account_id",
            encode=encode_account_ids,
            decode=_ids,
            help="of these accounts",
            metavar="ID[,ID...]",
            many=True,
        ),
        Filter(
            name="account_type",
            encode=lambda _name, value: encode_account_type(value),
            help=f"of one provider: {', '.join(ACCOUNT_TYPES)}",
            metavar="TYPE",
        ),
        Filter(
            name="unread", encode=encode_bool, decode=_flag, help="unread", flag=True, watched=False
        ),
    ),
    "messages": (
        Filter(name="account_id", encode=encode_id, help="of this account"),
        Filter(name="sender_id", encode=encode_id, help="from this sender"),
    ),
}


def encode_filters(
    resource: ResourceName, values: Mapping[str, Any], *, watched: bool = False
) -> dict[str, str | None]:
    """The API's strings for ``values`` (``None`` stays ``None``: not sent).

    Every filter of the resource gets a key; a key that is not one of its filters (of a
    watch, with ``watched``) is an :class:`InvalidParameterError`.
    """
    known = {f.name: f for f in FILTERS[resource] if f.watched or not watched}
    for name in values:
        if name not in known:
            allowed = ", ".join(known) or "none"
            raise InvalidParameterError(
                name, f"is not a filter of {resource} (its filters: {allowed})"
            )
    out: dict[str, str | None] = {}
    for name, spec in known.items():
        value = values.get(name)
        out[name] = None if value is None else spec.encode(name, value)
    return out


def check_encoded(resource: ResourceName, encoded: object) -> dict[str, str]:
    """Filters given as the API's strings (``rows(filters=...)``, a stored shard's): a
    mapping of the resource's filter names to non-empty strings; anything else is an
    :class:`InvalidParameterError` naming ``filters``, never a filter sent as given."""
    if not isinstance(encoded, Mapping):
        raise InvalidParameterError(
            "filters", f"must be a mapping of filter -> str, got {type(encoded).__name__}"
        )
    known = [f.name for f in FILTERS[resource]]
    checked: dict[str, str] = {}
    for name, text in encoded.items():
        if name not in known:
            raise InvalidParameterError(
                "filters",
                f"{name!r} is not a filter of {resource} (its filters: {', '.join(known) or 'none'})",
            )
        if not isinstance(text, str) or not text:
            raise InvalidParameterError(
                "filters", f"{name!r}: must be the API's string for it, got {text!r}"
            )
        checked[name] = check_text("filters", text)
    return checked


def decode_filters(resource: ResourceName, encoded: Mapping[str, str]) -> dict[str, Any]:
    """The keyword values of filters :func:`encode_filters` encoded (``None`` ones left out)."""
    specs = {f.name: f for f in FILTERS[resource]}
    return {name: specs[name].decode(text) for name, text in encoded.items() if text is not None}
