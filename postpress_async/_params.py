"""Pure functions that validate parameters and encode paths and query strings.

Every check here runs before a request is built, so bad input fails fast with an
:class:`InvalidParameterError` that names the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal, get_args
from urllib.parse import quote

from ._exceptions import InvalidParameterError

__all__ = [
    "ACCOUNT_TYPES",
    "MAX_ATTEMPTS",
    "MAX_IN_FLIGHT",
    "MAX_LIMIT",
    "MAX_PREFETCH",
    "MAX_SHARDS",
    "AccountTypeParam",
    "check_attempts",
    "check_count",
    "check_flag",
    "check_in_flight",
    "check_int",
    "check_plain",
    "check_prefetch",
    "check_text",
    "encode_account_ids",
    "encode_account_type",
    "encode_bool",
    "encode_id",
    "encode_limit",
    "encode_query",
    "path_segment",
]

#: The largest page the API serves (``limit``); larger asks get 400 ``limit_too_high``.
MAX_LIMIT: Final = 250

#: The most shards an export may ask for: each costs probes (4 a shard for a plan by
#: time), requests, a position and (for part files) a file of its own; past this many
#: they cost more than they gain. Here, below the CLI, so ``--help`` says it cheaply.
MAX_SHARDS: Final = 1_000

#: The most pages a list stream may fetch ahead (``prefetch``). Pages come one after
#: another (each is asked for with the cursor of the one before), so pages ahead only
#: smooth a reader slower than the network; 100 (25,000 items, about 100 MB of bodies)
#: is past any use, and each held page is memory.
MAX_PREFETCH: Final = 100

#: The most tries of one request (``RetryPolicy.attempts``): with the default backoff,
#: 1,000 is hours of retrying; bound a long outage with ``deadline=`` instead.
MAX_ATTEMPTS: Final = 1_000

#: The most requests one client may have in flight, and connections in its pool
#: (``Limits.max_in_flight``, ``max_connections``): each holds a socket, and past a
#: thousand a process meets its file-descriptor limit (often 1,024) before the API's.
MAX_IN_FLIGHT: Final = 1_000

#: The providers the ``account_type`` filter of ``GET /chats`` accepts (the values of
#: ``models.Provider``; a test keeps the two equal).
AccountTypeParam = Literal[
    "WHATSAPP", "LINKEDIN", "SLACK", "TWITTER", "MESSENGER", "INSTAGRAM", "TELEGRAM"
]
ACCOUNT_TYPES: Final[tuple[str, ...]] = get_args(AccountTypeParam)


def check_int(name: str, value: object, *, minimum: int) -> int:
    """An int (a bool is not one) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidParameterError(name, f"must be an int >= {minimum}, got {value!r}")
    return value


def check_count(name: str, value: object, *, most: int, why: str, least: int = 1) -> int:
    """An int from ``least`` to ``most``; ``why`` says what a larger one would cost."""
    count = check_int(name, value, minimum=least)
    if count > most:
        raise InvalidParameterError(name, f"must be at most {most:,}, got {count:,}: {why}")
    return count


def check_attempts(name: str, value: object) -> int:
    """Tries of one request, 1 to :data:`MAX_ATTEMPTS`."""
    return check_count(name, value, most=MAX_ATTEMPTS, why="bound an outage with deadline=")


def check_in_flight(name: str, value: object) -> int:
    """Requests in flight, or pooled connections: 1 to :data:`MAX_IN_FLIGHT`."""
    why = "each holds a socket; past this many a process runs out of file descriptors"
    return check_count(name, value, most=MAX_IN_FLIGHT, why=why)


def check_prefetch(value: object) -> int:
    """A ``prefetch``: pages fetched ahead, 0 to :data:`MAX_PREFETCH`."""
    why = "pages come one after another, so more ahead only hold memory"
    return check_count("prefetch", value, least=0, most=MAX_PREFETCH, why=why)


def check_flag(name: str, value: object) -> bool:
    """``True`` or ``False``, nothing truthy: ``follow="no"`` would read as yes."""
    if not isinstance(value, bool):
        raise InvalidParameterError(name, f"must be True or False, got {value!r}")
    return value


def encode_limit(value: int) -> str:
    """A page size in 1..``MAX_LIMIT``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError("limit", f"must be an int, got {type(value).__name__}")
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidParameterError("limit", f"must be between 1 and {MAX_LIMIT}, got {value}")
    return str(value)


def encode_bool(name: str, value: bool) -> str:
    """A bool -> ``true``/``false``."""
    if not isinstance(value, bool):
        raise InvalidParameterError(name, f"must be a bool, got {type(value).__name__}")
    return "true" if value else "false"


def encode_id(name: str, value: str) -> str:
    """A non-empty id string (for query parameters)."""
    if not isinstance(value, str):
        raise InvalidParameterError(name, f"must be a str, got {type(value).__name__}")
    if not value:
        raise InvalidParameterError(name, "must not be empty")
    if not value.strip():
        raise InvalidParameterError(name, f"must not be blank, got {value!r}")
    return check_plain(name, value)


def check_plain(name: str, value: str) -> str:
    """:func:`check_text` without a control character (U+0000-U+001F, U+007F).

    No id or cursor holds one: it is a pasted line's end or a damaged value, and would ask
    for another id or page (httpx refuses them in any part of a URL too).
    """
    bad = next((ch for ch in value if ch < " " or ch == "\x7f"), None)
    if bad is not None:
        raise InvalidParameterError(
            name,
            f"must not contain control characters; character {value.index(bad) + 1} is "
            f"U+{ord(bad):04X}",
        )
    return check_text(name, value)


def check_text(name: str, value: str) -> str:
    """A string that can go on the wire: UTF-8 encodable (no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidParameterError(
            name,
            f"is not valid Unicode text: character {exc.start + 1} is a lone surrogate "
            f"U+{ord(value[exc.start]):04X}",
        ) from None
    return value


def encode_account_ids(name: str, value: str | Sequence[str]) -> str:
    """One account id or a sequence of them -> a comma-joined list."""
    ids: Iterable[object] = [value] if isinstance(value, str) else value
    if not isinstance(value, (str, Sequence)):
        raise InvalidParameterError(
            name, f"must be a str or a sequence of str, got {type(value).__name__}"
        )
    checked = [encode_id(name, item) for item in ids]  # type: ignore[arg-type]
    if not checked:
        raise InvalidParameterError(name, "must name at least one account id")
    for item in checked:
        if "," in item:
            raise InvalidParameterError(name, f"an account id cannot contain a comma: {item!r}")
    return ",".join(checked)


def encode_account_type(value: str) -> str:
    """One of the seven documented providers."""
    if value not in ACCOUNT_TYPES:
        raise InvalidParameterError(
            "account_type", f"must be one of {', '.join(ACCOUNT_TYPES)}; got {value!r}"
        )
    return value


def path_segment(name: str, value: str) -> str:
    """Percent-encode an id as exactly one path segment.

    Everything but RFC 3986 unreserved characters is encoded, so ``/``, ``?``, ``#``,
    ``=``, ``:``, ``%`` cannot change the path or the query. ``.`` and ``..`` are refused:
    no encoding stops every server or proxy from reading them as dot-segments.
    """
    encode_id(name, value)
    if value in {".", ".."}:
        raise InvalidParameterError(name, f"{value!r} is not a valid id")
    return quote(value, safe="")


def encode_query(params: Mapping[str, str | None]) -> str:
    """``{"a": "1", "b": None}`` -> ``"?a=1"`` (``None`` dropped, values percent-encoded)."""
    parts = [
        f"{quote(key, safe='')}={quote(check_text(key, value), safe=',')}"
        for key, value in params.items()
        if value is not None
    ]
    return "?" + "&".join(parts) if parts else ""
