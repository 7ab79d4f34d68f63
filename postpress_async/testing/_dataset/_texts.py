"""The texts of messages: a fixed pool, picked by a message's hash, pre-encoded as JSON.

Mostly short texts in many scripts, emoji sequences and JSON-hostile characters; 1/256
null, 1/256 empty and 1/128 several KB long. :func:`pick_text` is the pick; the message
renderer inlines the same pick in its hot loop from :data:`TEXT_JSON` and the counts.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = ["LONG_COUNT", "SHORT_COUNT", "SHORT_START", "TEXT_JSON", "pick_text"]

_enc = msgspec.json.Encoder().encode
_TEXTS: Final = (
    "Sounds good - let's chat tomorrow.",
    "On my way 🚗💨",
    "Can you send the deck before the call?",
    "👍",
    "Merci beaucoup ! À demain.",
    "Договорились, созвонимся в пятницу.",
    "明天上午十点开会，别忘了。",  # noqa: RUF001 - full-width punctuation on purpose
    "هل يمكنك إرسال العقد اليوم؟",
    'He said "ship it" and left \\o/',
    "Line one\nline two\n\ttabbed line",
    "family: 👨‍👩‍👧‍👦 flags: 🇯🇵🇧🇷 skin: 👋🏽",
    "Zalgo: Z̷̢͓a̶͎͝l̸̰̈g̴̣̉o̵͙̐",
    "Price is 12 € / $13 — ok?",
    "<script>alert('x')</script> & friends",
    "separator\u2028inside\u2029text",
    "null",
    "Reminder: invoice #4821 is due on 2026-06-01.",
    "Can we move our 1:1 to Thursday?",
    "lol 😂😂😂",
    "https://example.com/path?q=1&r=2#frag",
)
_LONG_TEXTS: Final = tuple(
    f"[long text {n}] " + " ".join(_TEXTS[(n * 7 + k) % len(_TEXTS)] for k in range(40 + 40 * n))
    for n in range(8)
)
"""Messages of roughly 1.5 to 12 KB."""
_TEXT_POOL: Final[tuple[str | None, ...]] = (None, "", *_LONG_TEXTS, *_TEXTS)
LONG_COUNT: Final = len(_LONG_TEXTS)
SHORT_START: Final = 2 + len(_LONG_TEXTS)
SHORT_COUNT: Final = len(_TEXTS)
TEXT_JSON: Final = tuple(_enc(text) for text in _TEXT_POOL)


def pick_text(h: int) -> bytes:
    """The JSON text a hash picks: 1/256 null, 1/256 empty, 1/128 several KB long."""
    pick = h & 0xFF
    if pick < 4:
        return TEXT_JSON[pick if pick < 2 else 2 + (h >> 8) % LONG_COUNT]
    return TEXT_JSON[SHORT_START + (h >> 8) % SHORT_COUNT]
