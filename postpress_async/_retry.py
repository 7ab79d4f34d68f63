"""Failed attempts, as pure functions: which error a response is, whether to retry it,
how long to wait; and the budget that bounds retries.

Nothing here does I/O. :func:`status_error` maps a non-2xx response to its typed
error (the class from ``STATUS_ERRORS``, the envelope's fields, ``Retry-After``
parsed once), complete with the attempt count; :func:`failure_error` does the same for
an attempt that got no response (the transport's error); :func:`next_delay` decides whether
and when to try again (:func:`should_retry`, :func:`retry_delay`, the deadline);
:class:`RetryBudget` is a token bucket with no clock. The loop that applies them is
``Sender`` in ``_sender.py``. :func:`lasting` says which errors a new try of the whole
work (a Dask task run again) would meet again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TypeVar

from ._config import RetryPolicy
from ._error_body import decode_error_body, was_cut
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    CursorLoopError,
    InvalidParameterError,
    MissingAPIKeyError,
    NotFoundError,
    PlanMismatchError,
    PostpressError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ShardConflictError,
    find_header,
    rebuilt,
)
from ._page_body import server_time_ms
from ._status_errors import error_class_for, not_the_api
from ._transport import Request, Response, redact
from ._words import printable
from .models import ErrorBody

__all__ = [
    "IDEMPOTENT_METHODS",
    "MAX_RETRY_AFTER",
    "RetryBudget",
    "backoff_ceiling",
    "error_label",
    "failure_error",
    "lasting",
    "next_delay",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
    "status_error",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def should_retry(policy: RetryPolicy, method: str, error: PostpressError) -> bool:
    """Whether ``error`` from a ``method`` request is worth another attempt under ``policy``.

    A status error is retried when its status is in ``policy.retry_on`` and its error
    type is listed there; ``"*"`` matches any type, including a body that is not the
    JSON envelope. Connection errors and timeouts follow ``retry_connection_errors``.
    Anything else (bad input, a body that does not fit its model) is never retried.
    """
    if method.upper() not in IDEMPOTENT_METHODS and not policy.retry_non_idempotent:
        return False
    if isinstance(error, APIStatusError):
        types = policy.retry_on.get(error.status)
        if not types:
            return False
        return "*" in types or (error.type is not None and error.type in types)
    if isinstance(error, APIConnectionError):
        return policy.retry_connection_errors
    return False


#: 4xx statuses a later try may not get: a timeout, a conflict, too early, too many.
_PASSING_4XX = frozenset({408, 409, 425, 429})

#: Errors a new try meets again, and why (a status error is told by its status).
_LASTING: tuple[tuple[tuple[type[Exception], ...], str], ...] = (
    ((InvalidParameterError, MissingAPIKeyError), "the same arguments are refused again"),
    ((PlanMismatchError,), "the store holds this export asked with other options"),
    ((ShardConflictError,), "another writer moved this shard's checkpoint"),
    (
        (ResponseDecodeError, ResponseTooLargeError, CursorLoopError),
        "the server answers the same way each time",
    ),
)


def lasting(error: BaseException) -> str | None:
    """Why ``error`` would come back on a new try of the whole work (a Dask task run again
    from its stored position), or None when a new try may go otherwise.

    Asked after the request loop retried what passes (:func:`should_retry`). Lasting: a
    redirect or a 4xx other than 408, 409, 425 and 429, bad input, another writer's move, a
    body that does not fit or loops (the server sends it again). Anything else may pass: a
    5xx, a connection error, the sink's failure, an error of no SDK class.
    """
    if isinstance(error, APIStatusError):
        if 300 <= error.status < 500 and error.status not in _PASSING_4XX:
            return f"a {error.status} does not change on a retry"
        return None
    for kinds, why in _LASTING:
        if isinstance(error, kinds):
            return why
    return None


def backoff_ceiling(policy: RetryPolicy, retry_number: int) -> float:
    """The upper bound of the jittered wait before retry ``retry_number`` (1-based)."""
    exponent = min(retry_number - 1, 64)  # keep 2**n finite
    return min(policy.wait_max, policy.wait_initial * math.pow(2, exponent))


#: The longest ``Retry-After`` read, in seconds (a year): see :func:`parse_retry_after`.
MAX_RETRY_AFTER = 365 * 86_400.0

_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """``Retry-After`` as seconds to wait, or None to fall back to the normal backoff.

    Honoured: a positive number of seconds written in ASCII digits (``"3"``, ``"1.5"``)
    or an HTTP date in the future, in any of its three forms (RFC 9110 5.6.7; GMT). Everything else is None: absent, zero, negative,
    a date now or past (an immediate retry would be a retry storm), digits other than
    ASCII (``int()`` and ``float()`` accept ``"\u0663"``, the server did not mean it),
    ``inf``/``nan``/exponents, garbage. A value past :data:`MAX_RETRY_AFTER` (a year)
    reads as that ceiling: 309 digits (float infinity) or a date in year 9999 still say
    "not for a long time", as a finite number a caller can sleep on or add to a datetime.
    No honest ask is that long; the wait itself is capped lower by :func:`retry_delay`
    (``RetryPolicy.retry_after_max``).
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        # An HTTP date is rare (most servers send seconds): its parser is imported
        # here, not at start-up, where ``email.utils`` costs every process ~5 ms.
        import datetime
        import email.utils

        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            # asctime's form and a "-0000" zone carry none: every HTTP date is GMT.
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - now
    if not seconds > 0 or math.isnan(seconds):
        return None
    return min(seconds, MAX_RETRY_AFTER)


def retry_delay(
    policy: RetryPolicy,
    retry_number: int,
    *,
    retry_after: float | None,
    random: Callable[[], float],
) -> float:
    """Seconds to wait before retry ``retry_number``.

    Full jitter (``uniform(0, ceiling)``) unless the server said a usable ``Retry-After``
    (see :func:`parse_retry_after`), which wins, capped at ``policy.retry_after_max``.
    """
    if retry_after is not None:
        return min(retry_after, policy.retry_after_max)
    return random() * backoff_ceiling(policy, retry_number)


def error_label(error: PostpressError) -> str:
    """A short, stable label for metrics and logs: ``"503 errors/network_down"``, ``"timeout"``."""
    if isinstance(error, APIStatusError):
        return f"{error.status} {error.type}" if error.type else str(error.status)
    if isinstance(error, APIConnectionError):
        return "timeout" if isinstance(error, APITimeoutError) else "connection"
    return type(error).__name__


def next_delay(
    policy: RetryPolicy,
    method: str,
    error: PostpressError,
    attempt: int,
    *,
    random: Callable[[], float],
    time_left: float | None = None,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to surface ``error`` now.

    None when the attempts are spent, the error is not retryable (:func:`should_retry`),
    or the wait would run past the deadline (``time_left`` seconds from now). A status
    error's ``retry_after`` wins over the jittered backoff (:func:`retry_delay`).
    """
    if attempt >= policy.attempts or not should_retry(policy, method, error):
        return None
    retry_after = error.retry_after if isinstance(error, APIStatusError) else None
    delay = retry_delay(policy, attempt, retry_after=retry_after, random=random)
    if time_left is not None and delay >= time_left:
        return None
    return delay


def status_error(
    request: Request,
    response: Response,
    *,
    now: float,
    attempts: int = 1,
    retry_budget_exhausted: bool = False,
) -> APIStatusError:
    """The typed error for a non-2xx response after ``attempts`` attempts (pure).

    The class comes from the status alone, so an HTML 502 from a proxy still gives
    ``BadGatewayError``; the envelope's fields are used when the body is one.
    ``Retry-After`` is parsed here, once: an HTTP date against the response's own
    ``Date`` (the server's clock, which set it), else against ``now`` (this machine's
    epoch seconds, which may be minutes off the server's). A body cut short keeps the
    envelope's members before the cut, and the message says it was cut.
    """
    envelope = decode_error_body(response.content, response.tail)
    cls = error_class_for(response.status)

    def shown(text: str | None) -> str | None:
        # The message is made of these: a server that echoes the key must not put it
        # there, nor a line break or an escape sequence (a forged log line, a terminal
        # cleared or its clipboard written).
        return None if text is None else printable(redact(text, request))

    return cls(
        status=response.status,
        type=shown(envelope.type if envelope else None),
        title=shown(envelope.title if envelope else _reason(response)),
        detail=shown(envelope.detail if envelope else None),
        instance=shown(envelope.instance if envelope else None),
        method=request.method,
        url=request.url,
        headers=response.headers,
        body=response.content,
        endpoint=request.label,
        retry_after=parse_retry_after(
            find_header(response.headers, "retry-after"), now=_sent_at(response, now)
        ),
        attempts=attempts,
        retry_budget_exhausted=retry_budget_exhausted,
        note=(_cut_note(response) if envelope else "") + _not_found_note(cls, envelope, request),
    )


def _cut_note(response: Response) -> str:
    """Says so when the envelope came from a body cut short (past
    ``Limits.max_error_body_bytes``, or broken off): the fields between the cut and the
    body's last bytes (``Response.tail``, if kept) are missing."""
    if not was_cut(response.content):
        return ""
    read = "before the cut"
    if response.tail:
        read += f" and in the body's last {len(response.tail):,} bytes"
    return (
        f"; the error body was cut after {len(response.content):,} bytes "
        f"(only the fields {read} were read)"
    )


def _not_found_note(cls: type[APIStatusError], envelope: ErrorBody | None, request: Request) -> str:
    """For a 404 without the API's error ``type`` (an HTML page, an empty body: not the
    API that answered), the hint naming the base URL the client used."""
    if not issubclass(cls, NotFoundError) or (envelope and envelope.type is not None):
        return ""
    base = request.url.partition("?")[0]
    # The endpoint's template has as many segments as the URL has past the base URL.
    for _ in range(request.endpoint.partition(" ")[2].count("/")):
        base = base.rpartition("/")[0]
    return f"; not found {not_the_api(f'the base URL {base}', 'base_url')}"


def _sent_at(response: Response, now: float) -> float:
    """When ``response`` was sent by the server's clock (its ``Date``), else ``now``.

    A ``Retry-After`` date is a time on the server's clock: read against this machine's,
    a clock a few minutes ahead makes it past (an immediate jittered retry, again and
    again), one behind makes it minutes away. The start of the ``Date``'s second: the
    wait is never cut short.
    """
    ms = server_time_ms(find_header(response.headers, "date"))
    return now if ms is None else (ms - ms % 1000) / 1000


_E = TypeVar("_E", bound=PostpressError)


def failure_error(failure: _E, *, attempts: int, retry_budget_exhausted: bool = False) -> _E:
    """The error for an attempt that got no response, after ``attempts`` attempts (pure).

    ``failure`` is what the transport raised (``APIConnectionError``,
    ``APITimeoutError``, ``ResponseTooLargeError``, ...): it cannot know the attempt
    count, so the error surfaced is a new one of the same class with the same message,
    fields and (absent) chaining, built complete here; ``failure`` is left untouched.
    """
    return rebuilt(failure, attempts=attempts, retry_budget_exhausted=retry_budget_exhausted)


def _reason(response: Response) -> str:
    if 300 <= response.status < 400:
        where = response.headers.get("location") or "nowhere"
        return f"HTTP {response.status} redirect to {where}, not followed"
    if not bytes(response.content).strip():
        return f"HTTP {response.status} with an empty body"
    content_type = response.headers.get("content-type", "")
    kind = "a non-JSON" if "json" not in content_type else "an unreadable"
    return f"HTTP {response.status} with {kind} body"


class RetryBudget:
    """A token bucket that caps retries at a fraction of requests plus a small floor.

    In the manner of gRPC retry throttling and Finagle's retry budgets: each first
    attempt deposits ``ratio`` tokens, each retry withdraws one, and the bucket holds
    at most ``floor`` tokens (it starts full). Over any stretch of time, retries are
    therefore at most ``floor + ratio * first_attempts``, however many callers share it:
    100 streams hitting a dead server cannot multiply the load by the attempt count.
    """

    __slots__ = ("_tokens", "capacity", "ratio")

    def __init__(self, *, ratio: float, floor: float) -> None:
        self.ratio = ratio
        self.capacity = floor
        self._tokens = floor

    @property
    def tokens(self) -> float:
        """Tokens left now."""
        return self._tokens

    def deposit(self) -> None:
        """Record a first attempt."""
        self._tokens = min(self.capacity, self._tokens + self.ratio)

    def try_withdraw(self) -> bool:
        """Take one token for a retry; False (and nothing taken) when the bucket is empty."""
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
