"""The progress line on stderr, and the numbers of the closing summaries."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TextIO

__all__ = [
    "LOG_INTERVAL",
    "Line",
    "format_duration",
    "format_rate",
    "format_retries",
    "is_terminal",
]


def format_duration(seconds: float) -> str:
    """``4.2 s`` under a minute, ``2 min 5 s`` under an hour, ``1 h 30 min`` beyond."""
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


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


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a progress line is drawn only there, by default)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


#: Seconds between two progress lines written to a stream that is not a terminal.
LOG_INTERVAL = 10.0


class Line:
    """A one-line, self-overwriting status whose text comes from ``text()``.

    :meth:`update` redraws at most every ``interval`` seconds; :meth:`close` draws the
    final text and ends the line. When disabled it draws nothing, so callers need not
    check. Not on a ``terminal`` (``--progress`` into a log file or a pipe) it writes
    whole lines instead, one every :data:`LOG_INTERVAL` seconds at most: a ``\\r`` four
    times a second would pile up in the log as one endless line.
    """

    def __init__(
        self,
        stream: TextIO,
        text: Callable[[], str],
        *,
        enabled: bool,
        terminal: bool = True,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._text = text
        self.enabled = enabled
        self._terminal = terminal
        self._interval = interval if terminal else max(interval, LOG_INTERVAL)
        self._clock = clock
        self._last_draw = -self._interval
        self._width = 0
        self._closed = False

    def update(self, *, force: bool = False) -> None:
        """Redraw if enabled and the last draw is old enough (or ``force``)."""
        if not self.enabled or self._closed:
            return
        now = self._clock()
        if not force and now - self._last_draw < self._interval:
            return
        self._last_draw = now
        line = self._text()
        if self._terminal:
            pad = " " * max(0, self._width - len(line))
            self._width = len(line)
            self._write("\r" + line + pad)
        else:
            self._write(line + "\n")

    def _write(self, text: str) -> None:
        """Draw ``text``; a stream that cannot be written (a full disk under ``2>``) ends
        the line, never the work it shows (the command's closing words fail instead)."""
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def close(self) -> None:
        """Draw the final numbers and end the line (closing again does nothing)."""
        if not self.enabled or self._closed:
            return
        self.update(force=True)
        self._closed = True
        if self._terminal and self.enabled:
            self._write("\n")
