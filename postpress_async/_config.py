"""Frozen configuration values: timeouts, limits, retry policy, the unreadable-item policy,
what a chat's time is.

Each is keyword-only and immutable; derive a variant with ``replace(...)``,
so a per-call override never changes the client's defaults.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeVar, get_args

from ._exceptions import InvalidParameterError
from ._params import check_attempts, check_flag, check_in_flight, check_int

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RETRY_ON",
    "ERROR_BODY_READ_BYTES",
    "ERROR_TAIL_BYTES",
    "ERROR_TAIL_SECONDS",
    "ChatTime",
    "Limits",
    "OnUnreadable",
    "RetryPolicy",
    "Timeout",
    "as_timeout",
    "check_chat_time",
    "check_on_unreadable",
    "is_finite_number",
    "is_loopback",
    "resolve_api_key",
    "resolve_base_url",
]

#: The examples in the postpress docs call ``/api/v1``; the endpoint headings say ``/v1``.
#: We follow the runnable examples. Override with ``base_url=`` or ``POSTPRESS_BASE_URL``.
DEFAULT_BASE_URL: Final = "https://api.postpress.ai/api/v1"

_C = TypeVar("_C")


def _positive(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None:
        if not allow_none:
            raise InvalidParameterError(name, "must be a number, not None")
        return
    if not is_finite_number(value) or value < 0:
        raise InvalidParameterError(name, f"must be a finite number >= 0, got {value!r}")


def is_finite_number(value: object) -> bool:
    """A number (a bool is not one) that a float holds, and not NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past the float range
        return False


def _rate(name: str, value: float | None) -> None:
    _positive(name, value)
    if value == 0:
        raise InvalidParameterError(name, "must be > 0 (use None for no limit)")
    if value is not None and not math.isfinite(1.0 / value):
        raise InvalidParameterError(name, f"is too small: 1 / {value!r} seconds is infinite")


def _replace(value: _C, prefix: str, changes: dict[str, Any]) -> _C:
    """``dataclasses.replace`` that names an unknown field like any bad parameter."""
    known = {field.name for field in dataclasses.fields(value)}  # type: ignore[arg-type]
    for name in changes:
        if name not in known:
            raise InvalidParameterError(
                f"{prefix}.{name}", f"is not a field; expected one of {', '.join(sorted(known))}"
            )
    return dataclasses.replace(value, **changes)  # type: ignore[type-var]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Timeout:
    """Timeouts for one HTTP attempt, in seconds (``None`` disables one).

    ``connect`` bounds getting a connection (pool wait included), ``read`` the
    wait for each chunk of the response, ``total`` the whole attempt. A plain number
    given as ``timeout=5.0`` to the client bounds the whole attempt, connect and read
    included: ``Timeout(total=5.0)``, with ``read`` raised to the total when the total is
    longer (``timeout=300`` is ``Timeout(read=300, total=300)``), so no shorter default
    cuts a slow answer; ``connect`` keeps its default. A call with retries can take
    several totals; bound it with ``RetryPolicy(deadline=...)``.
    """

    connect: float | None = 10.0
    read: float | None = 60.0
    total: float | None = 120.0

    def __post_init__(self) -> None:
        for field in ("connect", "read", "total"):
            value = getattr(self, field)
            _positive(f"timeout.{field}", value)
            if value == 0:  # aiohttp would read 0 as "no timeout": say None for that
                raise InvalidParameterError(
                    f"timeout.{field}", "must be > 0 (use None to disable this timeout)"
                )

    def replace(self, **changes: float | None) -> Timeout:
        """Return a copy with the given fields changed (checked like the constructor)."""
        return _replace(self, "timeout", changes)


#: How much of the end of an error body past ``Limits.max_error_body_bytes`` is kept
#: (``Response.tail``): the envelope's last members (``type``, ``status``) with room to spare.
ERROR_TAIL_BYTES: Final = 4096
#: An error body is read on for its tail only while it stays within this (or within
#: ``Limits.max_response_bytes`` if smaller): an endless error body costs 1 MiB, not 32.
ERROR_BODY_READ_BYTES: Final = 1024 * 1024
#: ... and only for this many seconds past its head: a server that stalls there costs
#: an attempt this, not the read timeout (the head and the status are in hand).
ERROR_TAIL_SECONDS: Final = 1.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Concurrency limits shared by every call, stream and fan-out of one client.

    * ``max_in_flight`` caps the requests in flight at once (attempts, not calls:
      a request waiting out its retry backoff does not hold a slot); at most 1,000.
    * ``max_connections`` sizes the aiohttp connection pool the client creates (at most 1,000).
    * ``requests_per_second``: start at most this many attempts a second, client-wide
      (``None``: no rate limit). ``N`` attempts take at least ``(N - 1) / rate`` seconds.
    * ``account_requests_per_second``: the same for each account a request names with
      ``account_id`` (providers throttle per account); requests naming no account
      are bound by the client-wide rate only.
    * ``adaptive``: the in-flight limit follows the server: a 429 or 503 cuts it by 30 %,
      successes raise it again by about one per round, up to ``max_in_flight``
      (additive increase, multiplicative decrease). ``client.stats().in_flight_limit``
      shows where it stands.
    * ``max_response_bytes`` bounds a successful body (default 32 MiB: the largest page,
      250 messages, is well under 1 MiB); a longer one raises ``ResponseTooLargeError``
      while it is read.
    * ``max_error_body_bytes`` is how much of an error body is read and kept on the
      exception (default 64 KiB); of a longer body only the last 4 KiB are kept, read
      while the body stays within 1 MiB (the envelope's members whole before the cut and
      at the end are still read: the API's ``type`` and ``status`` come last).
    * ``retry_budget_ratio``, ``retry_budget_floor``: the client-wide retry budget: every
      first attempt earns ``retry_budget_ratio`` of a retry token, each retry spends one,
      and the bucket holds at most ``retry_budget_floor`` tokens (it starts full; at
      least 1, the token one retry takes). So
      retries stay below ``floor + ratio * requests`` however many callers share the
      client; when the bucket is empty a retryable error surfaces at once, saying so.
      Like the in-flight limit it belongs to the client (a ``with_options`` view shares
      it), which is why it lives here and not on the per-call ``RetryPolicy``.
    """

    max_in_flight: int = 16
    max_connections: int = 32
    requests_per_second: float | None = None
    account_requests_per_second: float | None = None
    adaptive: bool = False
    max_response_bytes: int = 32 * 1024 * 1024
    max_error_body_bytes: int = 64 * 1024
    retry_budget_ratio: float = 0.2
    retry_budget_floor: float = 10.0

    def __post_init__(self) -> None:
        for field in ("max_in_flight", "max_connections"):
            check_in_flight(f"limits.{field}", getattr(self, field))
        check_int("limits.max_response_bytes", self.max_response_bytes, minimum=1)
        for field in ("requests_per_second", "account_requests_per_second"):
            _rate(f"limits.{field}", getattr(self, field))
        check_flag("limits.adaptive", self.adaptive)
        check_int("limits.max_error_body_bytes", self.max_error_body_bytes, minimum=0)
        for field in ("retry_budget_ratio", "retry_budget_floor"):
            _positive(f"limits.{field}", getattr(self, field), allow_none=False)
        if self.retry_budget_floor < 1:
            raise InvalidParameterError(
                "limits.retry_budget_floor",
                f"must be >= 1, got {self.retry_budget_floor!r}: the bucket holds at most this "
                "many tokens and a retry takes one, so nothing would ever be retried (to turn "
                "retrying off, use RetryPolicy(attempts=1))",
            )

    def replace(self, **changes: Any) -> Limits:
        """Return a copy with the given fields changed (checked like the constructor)."""
        return _replace(self, "limits", changes)


#: What is retried by default: status -> error types (``"*"`` = any type, including a
#: body that is not the JSON envelope). Statuses and types not listed are never retried.
DEFAULT_RETRY_ON: Final[Mapping[int, frozenset[str]]] = {
    429: frozenset({"*"}),
    500: frozenset({"errors/provider_error"}),
    502: frozenset({"*"}),
    503: frozenset({"*"}),
    504: frozenset({"*"}),
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """When and how long to retry a failed request.

    * ``attempts``: total tries, the first included (1 turns retrying off; at most 1,000:
      bound a long outage with ``deadline``).
    * ``wait_initial``, ``wait_max``: exponential backoff with full jitter: before
      retry *n* the client sleeps ``uniform(0, min(wait_max, wait_initial * 2**(n-1)))``.
    * ``retry_after_max``: a server's ``Retry-After`` is honoured up to this many seconds;
      longer asks are capped to it.
    * ``deadline``: optional bound, in seconds, on the whole call across all attempts
      (the waits for the client's in-flight and rate limits included).
    * ``retry_on``: status -> retryable error types (``"*"``: any type, a body that is not
      the JSON envelope included). By default 429, 502, 503 and 504 of any type, and 500
      ``errors/provider_error`` (``RetryPolicy().retry_on``).
    * ``retry_connection_errors``: retry connection failures and timeouts.
    * ``retry_non_idempotent``: also retry non-idempotent methods (all postpress
      endpoints today are idempotent GETs; a future POST is not retried unless asked).

    The retry budget, shared by every call of a client, is ``Limits.retry_budget_ratio``
    and ``Limits.retry_budget_floor``.
    """

    attempts: int = 5
    wait_initial: float = 0.2
    wait_max: float = 10.0
    retry_after_max: float = 60.0
    deadline: float | None = None
    retry_on: Mapping[int, frozenset[str]] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_RETRY_ON)
    )
    retry_connection_errors: bool = True
    retry_non_idempotent: bool = False

    def __post_init__(self) -> None:
        check_attempts("retry.attempts", self.attempts)
        for field in (
            "wait_initial",
            "wait_max",
            "retry_after_max",
        ):
            _positive(f"retry.{field}", getattr(self, field), allow_none=False)
        _positive("retry.deadline", self.deadline)
        for field in ("retry_connection_errors", "retry_non_idempotent"):
            check_flag(f"retry.{field}", getattr(self, field))
        # Freeze the table too, so a policy is a value all the way down.
        object.__setattr__(self, "retry_on", _FrozenMapping(_retry_table(self.retry_on)))

    def replace(self, **changes: Any) -> RetryPolicy:
        """Return a copy with the given fields changed (checked like the constructor)."""
        return _replace(self, "retry", changes)

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(attempts=1)


def _retry_table(table: object) -> dict[int, frozenset[str]]:
    if not isinstance(table, Mapping):
        raise InvalidParameterError("retry.retry_on", f"must be a mapping, got {table!r}")
    checked: dict[int, frozenset[str]] = {}
    for status, types in table.items():
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise InvalidParameterError(
                "retry.retry_on", f"keys must be HTTP statuses (int), got {status!r}"
            )
        if isinstance(types, (str, bytes)) or not isinstance(types, (set, frozenset, list, tuple)):
            raise InvalidParameterError(
                "retry.retry_on", f"{status}: must be a set of error types, got {types!r}"
            )
        if not all(isinstance(kind, str) for kind in types):
            raise InvalidParameterError("retry.retry_on", f"{status}: error types must be str")
        checked[status] = frozenset(types)
    return checked


class _FrozenMapping(Mapping[int, frozenset[str]]):
    """A read-only, hashable mapping (``types.MappingProxyType`` is not hashable)."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[int, frozenset[str]]) -> None:
        self._data = data

    def __getitem__(self, key: int) -> frozenset[str]:
        return self._data[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return repr(self._data)


#: What a typed list stream does with an item of a page that does not fit its model:
#: ``"raise"`` hands out the page's other items, then raises ``UnreadableItemError``
#: (its ``checkpoint`` resumes after that page); ``"skip"`` logs one WARNING an item and
#: goes on; ``"yield"`` hands out an ``UnreadableItem`` in the item's place.
OnUnreadable = Literal["raise", "skip", "yield"]


def _one_of(name: str, value: object, choices: tuple[Any, ...]) -> Any:
    """``value`` if it is one of ``choices`` (a ``Literal``'s strings), else
    InvalidParameterError naming ``name`` and the choices."""
    if isinstance(value, str) and value in choices:
        return value
    listed = ", ".join(map(repr, choices[:-1])) + f" or {choices[-1]!r}"
    raise InvalidParameterError(name, f"must be {listed}, got {value!r}")


def check_on_unreadable(value: object) -> OnUnreadable:
    """``value`` if it is one of the policies of :data:`OnUnreadable`, else InvalidParameterError."""
    policy: OnUnreadable = _one_of("on_unreadable", value, get_args(OnUnreadable))
    return policy


#: What the ``before``/``after`` bounds of ``GET /chats`` filter by. The docs contradict
#: themselves: the parameters "return chats created strictly before/after this datetime",
#: but a Chat carries no creation time, only ``timestamp`` ("last activity"). We choose
#: ``"activity"`` (the bounds filter ``timestamp``, which is what a chat shows);
#: ``"created"`` says the server filters by a creation time it does not show, so what
#: follows chats (``chats.watch``, ingest's catch-up and follow) lists them without a
#: time bound and keeps those whose ``(id, timestamp)`` is new.
ChatTime = Literal["activity", "created"]


def check_chat_time(value: object) -> ChatTime:
    """``value`` if it is one of :data:`ChatTime`, else InvalidParameterError naming ``chat_time``."""
    chosen: ChatTime = _one_of("chat_time", value, get_args(ChatTime))
    return chosen


def resolve_api_key(api_key: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The API key from the argument, else ``POSTPRESS_API_KEY``; a clear error if neither."""
    from ._exceptions import MissingAPIKeyError

    if api_key is not None and not isinstance(api_key, str):
        # Its type only: bytes would be the key itself.
        raise InvalidParameterError("api_key", f"must be a str, got {type(api_key).__name__}")
    key = api_key if api_key is not None else environ.get("POSTPRESS_API_KEY")
    # A bad key is named where it came from: the variable, when no argument was given.
    param = "api_key" if api_key is not None else "POSTPRESS_API_KEY"
    if api_key is not None and not api_key.strip():
        # A given key is used as given (the variable is not read): say which one is empty.
        raise MissingAPIKeyError(
            "No postpress API key: api_key is empty; pass the key (AsyncPostpress(api_key=None) "
            "reads the POSTPRESS_API_KEY environment variable instead)"
        )
    if not key or not key.strip():
        raise MissingAPIKeyError(
            "No postpress API key: pass api_key=... or set the POSTPRESS_API_KEY environment variable"
        )
    key = key.strip()
    bad = next((ch for ch in key if not "!" <= ch <= "~"), None)
    if bad is not None:
        # The key goes into a header: a control character, a space or a non-ASCII letter
        # would be refused by aiohttp mid-request or, worse, sent as something else.
        # Its position only, never the key itself, goes into the message.
        raise InvalidParameterError(
            param,
            f"must be printable ASCII without spaces; character {key.index(bad) + 1} is "
            f"U+{ord(bad):04X}",
        )
    return key


#: What a base URL with ``user:password@`` is refused with (the command line gives its own
#: advice after it: it has no ``default_headers``).
CREDENTIALS_IN_URL: Final = "must not carry credentials (user:password@)"


def resolve_base_url(
    base_url: str | None,
    environ: Mapping[str, str] = os.environ,
    *,
    allow_insecure_http: bool = False,
) -> str:
    """The base URL from the argument, else ``POSTPRESS_BASE_URL``, else the default.

    Plain ``http://`` would send the API key unencrypted, so it is refused unless the
    host is loopback (``localhost``, ``127.0.0.0/8``, ``::1``: the fake server, a local
    proxy) or ``allow_insecure_http`` is true.
    """
    if base_url is not None and not isinstance(base_url, str):
        raise InvalidParameterError("base_url", f"must be a str, got {type(base_url).__name__}")
    if base_url == "":  # given, as an api_key="" is: not read as "none given"
        raise InvalidParameterError(
            "base_url", "must not be empty; pass None to read POSTPRESS_BASE_URL or the default"
        )
    url = base_url or environ.get("POSTPRESS_BASE_URL") or DEFAULT_BASE_URL
    # A bad value is named where it came from: the variable, when no argument was given.
    param = "base_url" if base_url else "POSTPRESS_BASE_URL"
    if "@" in url.partition("//")[2].partition("/")[0]:
        # The base URL is shown in repr(client), errors, events and spans: checked first,
        # so that no message below quotes it with its password.
        raise InvalidParameterError(
            param,
            f"{CREDENTIALS_IN_URL}; send them with "
            "default_headers={'Authorization': ...}, which is never shown",
        )
    if not url.startswith(("http://", "https://")):
        raise InvalidParameterError(param, f"must start with http:// or https://, got {url!r}")
    if "?" in url or "#" in url:
        raise InvalidParameterError(param, "must not contain a query or a fragment")
    if any(ch <= " " or ch == "\x7f" for ch in url):
        raise InvalidParameterError(param, "must not contain spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise InvalidParameterError(param, f"is not a valid URL ({exc}): {url!r}") from None
    host = parts.hostname or ""
    if not host:
        raise InvalidParameterError(param, f"names no host: {url!r}")
    if url.startswith("http://") and not allow_insecure_http and not is_loopback(host):
        raise InvalidParameterError(
            param,
            f"plain http:// to {host!r} would send the API key unencrypted; use "
            "https://, or pass allow_insecure_http=True (CLI: --allow-insecure-http) "
            "if you really mean it",
        )
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost`` or a loopback/unspecified IP."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def as_timeout(value: Timeout | float | None) -> Timeout:
    """A ``timeout=`` as given to a client: a :class:`Timeout`, seconds for the whole
    attempt, or ``None`` (the defaults); anything else is refused by name."""
    if value is None:
        return Timeout()
    if isinstance(value, Timeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterError("timeout", f"must be a Timeout or seconds, got {value!r}")
    if not is_finite_number(value):  # float() of an int past the float range overflows
        raise InvalidParameterError("timeout", f"must be a finite number of seconds, got {value!r}")
    # The whole attempt: the read (60 s by default) is lifted to it, so that no timeout
    # the number does not reach cuts a slow answer shorter; connect keeps its default.
    seconds = float(value)
    read = Timeout().read
    return Timeout(total=seconds, read=None if read is None else max(read, seconds))
