"""A request's query parameters, checked as the API checks them.

Each ``parse_...`` reads one parameter and returns its value (``None`` when absent) or
raises :class:`Invalid`, which carries the error envelope's fields (a 400
``errors/invalid_parameters`` for a malformed value); the API turns it into its reply.
Pure: no dataset, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from postpress_async.testing._dataset._columns import account_type_refusal
from postpress_async.testing._time import parse_us

__all__ = [
    "DEFAULT_LIMIT",
    "DIGITS",
    "MAX_LIMIT",
    "PARAMETERS",
    "Invalid",
    "bad",
    "check_once",
    "missing",
    "not_an_id",
    "parse_account_ids",
    "parse_account_type",
    "parse_limit",
    "parse_nonempty",
    "parse_time",
    "parse_unread",
]

MAX_LIMIT: Final = 250
DEFAULT_LIMIT: Final = 100
DIGITS: Final = re.compile(r"[0-9]+\Z")
_UTC: Final = ("Z", "+00:00")
PARAMETERS: Final[Mapping[str, tuple[str, ...]]] = {
    "accounts.list": ("limit", "cursor"),
    "chats.list": ("account_id", "account_type", "unread", "before", "after", "limit", "cursor"),
    "chats.retrieve": ("account_id",),
    "messages.list": ("cursor", "before", "after", "limit", "sender_id", "account_id"),
}
"""The query parameters of each route, as the reference lists them (others are ignored)."""


class Invalid(Exception):
    """A request the API refuses; carries the error envelope's fields."""

    def __init__(self, status: int, error_type: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error_type = error_type
        self.detail = detail


def bad(detail: str) -> Invalid:
    """A 400 ``errors/invalid_parameters``."""
    return Invalid(400, "errors/invalid_parameters", detail)


def missing(detail: str) -> Invalid:
    """A 404 ``errors/resource_not_found``."""
    return Invalid(404, "errors/resource_not_found", detail)


def not_an_id(kind: str) -> Invalid:
    """A 404 ``errors/invalid_resource_identifier``: the path's ``kind`` id is empty."""
    return Invalid(404, "errors/invalid_resource_identifier", f"The {kind} id is empty.")


def check_once(query: Mapping[str, str], route: str) -> None:
    """Each of the route's parameters given at most once (which of two values counts is
    anyone's guess); a repeated unknown parameter is ignored, as the unknown ones are."""
    if len(set(query)) == len(query):  # a multidict's len counts each value: no repeats
        return
    given = [name for name, _ in query.items()]
    for name in PARAMETERS[route]:
        if (times := given.count(name)) > 1:
            raise bad(f"{name} must be given once, got it {times} times.")


def parse_limit(query: Mapping[str, str]) -> int:
    """``limit``: 1 to :data:`MAX_LIMIT` (more is the provider's own 400), else the default."""
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not DIGITS.match(raw) or int(raw) < 1:
        raise bad(f"limit must be an integer between 1 and {MAX_LIMIT}, got {raw!r}.")
    value = int(raw)
    if value > MAX_LIMIT:
        raise Invalid(
            400,
            "errors/limit_too_high",
            f"Provider cannot accept such high pagination limit (max {MAX_LIMIT}).",
        )
    return value


def parse_time(query: Mapping[str, str], name: str) -> int | None:
    """A datetime parameter (``before``, ``after``) in microseconds since the epoch.

    UTC only, as the reference says: ``Z`` (what the SDK sends) or ``+00:00``; another
    offset is refused, not converted, so code that sends local times fails here too.
    """
    raw = query.get(name)
    if raw is None:
        return None
    value = parse_us(raw) if raw.endswith(_UTC) else None
    if value is None:
        raise bad(f"{name} must be an ISO 8601 UTC datetime (YYYY-MM-DDTHH:MM:SS.sssZ).")
    return value


def parse_nonempty(query: Mapping[str, str], name: str) -> str | None:
    """A text parameter that, when given, is not empty."""
    raw = query.get(name)
    if raw is not None and not raw:
        raise bad(f"{name} must not be empty.")
    return raw


def parse_account_ids(query: Mapping[str, str]) -> list[str] | None:
    """Chats' ``account_id``: a comma-separated list of at least one id."""
    raw = parse_nonempty(query, "account_id")
    if raw is None:
        return None
    names = [part for part in raw.split(",") if part]
    if not names:
        raise bad("account_id must name at least one account.")
    return names


def parse_account_type(query: Mapping[str, str]) -> str | None:
    """Chats' ``account_type``: one of the chat account types."""
    account_type = query.get("account_type")
    if refusal := account_type_refusal(account_type):
        raise bad(f"{refusal}.")
    return account_type


def parse_unread(query: Mapping[str, str]) -> bool | None:
    """Chats' ``unread``: ``true`` or ``false``, as the reference spells them."""
    raw = query.get("unread")
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise bad(f"unread must be true or false, got {raw!r}.")
    return raw == "true"
