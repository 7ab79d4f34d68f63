"""The value types of the command line's options: what argparse turns each string into.

``type=`` callables (``count``, ``retries``, ``positive``, ``seconds``, ``interval``, ``offset``,
``rate``) that refuse a value with :class:`argparse.ArgumentTypeError` (a usage error
naming the option), and :class:`Once`, the action of an option that takes one value.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from postpress_async._params import MAX_ATTEMPTS

__all__ = ["Once", "count", "interval", "offset", "positive", "rate", "retries", "seconds"]


class Once(argparse.Action):
    """An option that takes one value: given again, it is a usage error naming it (the
    API takes one, so keeping the last would silently drop the first)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        previous = getattr(namespace, self.dest, None)
        if previous is not None:
            raise argparse.ArgumentError(
                self, f"given twice ({previous!r} and {values!r}): it takes one value, give it once"
            )
        setattr(namespace, self.dest, values)


def _at_least(text: str, least: int) -> int:
    value = int(text)
    if value < least:
        raise argparse.ArgumentTypeError(f"must be >= {least}, got {value}")
    return value


def count(text: str) -> int:
    """An int >= 0 (argparse names the type by the function: "invalid count value")."""
    return _at_least(text, 0)


def retries(text: str) -> int:
    """Retries of a request: 0 to one fewer than ``RetryPolicy``'s most attempts (not the
    SDK's "attempts" message, whose numbers are one more than the option's)."""
    value = count(text)
    if value > MAX_ATTEMPTS - 1:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_ATTEMPTS - 1:,}, got {value:,}")
    return value


def positive(text: str) -> int:
    """An int >= 1."""
    return _at_least(text, 1)


def seconds(text: str) -> float:
    """A finite number of seconds >= 0."""
    value = float(text)
    if not 0 <= value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, got {text}")
    return value


def interval(text: str) -> float:
    """A finite number > 0 (seconds, or messages a second)."""
    value = float(text)
    if not 0 < value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def offset(text: str) -> float:
    """A number of seconds, negative allowed (finite)."""
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, got {text}")
    return value


def rate(text: str) -> float:
    """A share in 0..1."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


# argparse shows a type's __name__ in "invalid <name> value" messages.
count.__name__ = "count"
positive.__name__ = "positive int"
seconds.__name__ = "seconds"
interval.__name__ = "seconds"
offset.__name__ = "seconds"
rate.__name__ = "rate"
