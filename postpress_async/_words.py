"""Text for the lines people read: counts in words (``1 request``, ``2 requests``), and a
server's words made safe to print on one line, and short enough to."""

from __future__ import annotations

__all__ = ["clipped", "counted", "printable"]


def counted(count: int, one: str, many: str | None = None) -> str:
    """``1 request``, ``2 requests``, ``1,000 retries``: ``many`` defaults to ``one`` + s."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


#: C0 and C1 control characters, DEL and the Unicode line separators, as visible escapes.
_ESCAPES: dict[int, str] = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))},
    **{ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"},
    **{code: f"\\u{code:04x}" for code in (0x2028, 0x2029)},
}


def printable(text: str) -> str:
    """``text`` (a server's words) with control characters shown as escapes (``\\n``,
    ``\\x1b``): one line that forges no log record and writes no escape sequence to a
    terminal. Pure."""
    return text.translate(_ESCAPES)


#: The most of one server text a message shows (the error keeps it whole).
CLIP = 500


def clipped(text: str, limit: int = CLIP) -> str:
    """``text`` cut to ``limit`` characters, saying how many more there were: a server's
    megabyte title must not become a megabyte log record or terminal line. Pure."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"
