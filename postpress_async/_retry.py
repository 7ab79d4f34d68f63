"""Retrying: pure decisions (what, how long) and the budget that bounds them.

Nothing here does I/O. :func:`should_retry` and :func:`retry_delay` are plain
functions of their arguments; :class:`RetryBudget` is a token bucket with no clock.
The loop that applies them lives in ``_sender.py``.
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Callable, Mapping

from ._config import RetryPolicy
from ._exceptions import APIConnectionError, APIStatusError, APITimeoutError, PostpressError

__all__ = [
    "IDEMPOTENT_METHODS",
    "RetryBudget",
    "backoff_ceiling",
    "error_label",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
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


def backoff_ceiling(policy: RetryPolicy, retry_number: int) -> float:
    """The upper bound of the jittered wait before retry ``retry_number`` (1-based)."""
    exponent = min(retry_number - 1, 64)  # keep 2**n finite
    return min(policy.wait_max, policy.wait_initial * math.pow(2, exponent))


_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """``Retry-After`` as seconds to wait, or None to fall back to the normal backoff.

    Honoured: a positive number of seconds written in ASCII digits (``"3"``, ``"1.5"``)
    or an HTTP date in the future. Everything else is None: absent, zero, negative,
    a date now or past (an immediate retry would be a retry storm), digits other than
    ASCII (``int()`` and ``float()`` accept ``"\u0663"``, the server did not mean it),
    ``inf``/``nan``/exponents, garbage. A huge value is returned as is and capped by
    :func:`retry_delay`.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    if not seconds > 0 or math.isnan(seconds):
        return None
    return seconds


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


def retry_after_of(headers: Mapping[str, str]) -> str | None:
    """The ``Retry-After`` header from lower-cased headers."""
    return headers.get("retry-after")


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
