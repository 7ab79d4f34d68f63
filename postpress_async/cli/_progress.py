"""The export's progress line on stderr, and its closing summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TextIO

__all__ = ["Progress", "format_rate", "format_retries"]


def format_rate(count: int, seconds: float) -> str:
    """``12,345/s``; ``-`` before any time has passed."""
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def format_retries(retries: Mapping[str, int]) -> str:
    """``6 (503 errors/network_down 2, 429 errors/too_many_requests 1, ...)`` or ``0``."""
    total = sum(retries.values())
    if not total:
        return "0"
    parts = ", ".join(
        f"{label} {count}" for label, count in sorted(retries.items(), key=lambda kv: -kv[1])
    )
    return f"{total} ({parts})"


class Progress:
    """A one-line, self-overwriting status: items, pages, items/s, retries.

    :meth:`update` redraws at most every ``interval`` seconds; :meth:`close` ends the
    line. When disabled it draws nothing, so callers need not check.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        noun: str,
        enabled: bool,
        retries: Callable[[], int],
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._noun = noun
        self.enabled = enabled
        self._retries = retries
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_draw = -interval
        self._width = 0
        self.items = 0
        self.pages = 0
        self._base_items = 0

    def start(self, *, items: int, pages: int) -> None:
        """Begin counting from a resumed export's totals (the rate counts this run only)."""
        self.items = self._base_items = items
        self.pages = pages
        self._started = self._clock()

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`start`."""
        return self._clock() - self._started

    def text(self) -> str:
        """The line as it would be drawn now."""
        rate = format_rate(self.items - self._base_items, self.elapsed)
        return (
            f"{self.items:,} {self._noun} · {self.pages:,} pages · {rate} · "
            f"{self._retries():,} retries"
        )

    def update(self, *, force: bool = False) -> None:
        """Redraw if enabled and the last draw is old enough (or ``force``)."""
        if not self.enabled:
            return
        now = self._clock()
        if not force and now - self._last_draw < self._interval:
            return
        self._last_draw = now
        line = self.text()
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        self._stream.write("\r" + line + pad)
        self._stream.flush()

    def close(self) -> None:
        """Draw the final numbers and end the line."""
        if not self.enabled:
            return
        self.update(force=True)
        self._stream.write("\n")
        self._stream.flush()
        self._width = 0
