"""The headers a client sends: its own, and those a caller adds, checked before any request."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Final

from ._exceptions import InvalidParameterError
from ._params import check_text
from ._transport import Headers
from ._version import __version__

__all__ = ["USER_AGENT", "extra_headers", "merged_headers", "own_headers"]

USER_AGENT: Final = f"postpress-async/{__version__} python/{platform.python_version()}"


def own_headers(api_key: str) -> dict[str, str]:
    """The headers the client sets on every request itself."""
    return {"X-API-KEY": api_key, "accept": "application/json", "User-Agent": USER_AGENT}


def merged_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> Headers:
    """``base`` with ``extra`` on top: a name in ``extra`` replaces ``base``'s in any case
    (header names are case-insensitive), so a request never carries both. Built once a
    client, each of its requests carries it as is."""
    replaced = {name.lower() for name in extra}
    return Headers(
        {
            **{name: value for name, value in base.items() if name.lower() not in replaced},
            **extra,
        }
    )


#: RFC 9110 token characters: what a header name may be made of.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def extra_headers(headers: Mapping[str, str], *, param: str = "headers") -> dict[str, str]:
    """Headers a caller adds, checked here rather than by aiohttp mid-request (a bare
    ValueError there): token names, values without control characters or lone surrogates."""
    if not isinstance(headers, Mapping):
        raise InvalidParameterError(param, f"must be a mapping, got {type(headers).__name__}")
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidParameterError(param, f"names and values must be str: {name!r}")
        if not name or not set(name) <= _TOKEN:
            raise InvalidParameterError(param, f"{name!r} is not a valid header name")
        if any(ch in "\r\n" for ch in value):
            raise InvalidParameterError(param, f"{name!r} must not contain line breaks")
        if any((ch < " " and ch != "\t") or ch == "\x7f" for ch in value):
            raise InvalidParameterError(param, f"{name!r} must not contain control characters")
        check_text(f"{param}[{name!r}]", value)
        if name.lower() == "x-api-key":
            raise InvalidParameterError(param, "the API key is set with api_key=, not here")
    return dict(headers)
