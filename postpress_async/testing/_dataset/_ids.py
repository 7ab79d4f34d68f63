"""Ids and hashing: every derived value of a dataset comes from ``(seed, kind, index)``.

Identifiers are ULID-shaped (``msg_01HX`` + a 6-character seed tag + a 16-character
index, Crockford base32), so they sort in index order and are parsed back to an index
without a lookup table. With ``hostile_ids=True`` some ids also carry a suffix made of
characters that must be percent-encoded in a URL path (``/ ? # = : % & +``, a space,
non-ASCII).
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from typing import Final

__all__ = [
    "HOSTILE_SUFFIX",
    "MASK",
    "HostilePeriod",
    "IdScheme",
    "Salt",
    "b32",
    "mix",
    "mix_many",
]

MASK: Final = (1 << 64) - 1
HOSTILE_SUFFIX: Final = "/a?b#c=d:e%2F+ &é"
_B32: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_HEX16: Final = re.compile(r"[0-9A-F]{16}\Z")
_ID_WIDTH: Final = 16
_GOLDEN: Final = 0x9E3779B97F4A7C15
_M1: Final = 0xBF58476D1CE4E5B9
_M2: Final = 0x94D049BB133111EB
_LANES: Final = 256
"""The most hashes :func:`mix_many` computes in one block."""


def _lane_constants(lanes: int) -> tuple[int, int, int, int]:
    """``1``, ``k`` (a lane's number), ``MASK`` and the golden ratio in ``lanes`` lanes."""
    ones = sum(1 << (128 * k) for k in range(lanes))
    ramp = sum(k << (128 * k) for k in range(lanes))
    return ones, ramp, ones * MASK, ones * _GOLDEN


_BLOCKS: Final = {1 << n: _lane_constants(1 << n) for n in range(3, 9)}
"""The lane constants of each block size, 8 to 256 lanes."""


class Salt:
    """The hash streams, one per derived fact, so that no two facts share random bits."""

    ACCOUNT_CREATED: Final = 1
    CHAT_ACCOUNT: Final = 2
    PERSON: Final = 3
    CHAT_TYPE: Final = 4
    CHAT_PROVIDER: Final = 5
    CHAT_UNREAD: Final = 6
    ACCOUNT_BODY: Final = 7
    CHAT_BODY: Final = 8
    SENDER_NAME: Final = 9
    MESSAGE: Final = 10
    CHAT_CREATED: Final = 14


class HostilePeriod:
    """Every ``n``-th id (index ``% n == 1``) gets the hostile suffix, per kind of object."""

    ACCOUNT: Final = 7
    CHAT: Final = 5
    CHAT_PROVIDER: Final = 7
    MESSAGE: Final = 13


def mix(x: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread 64-bit hash of an integer."""
    x = (x + _GOLDEN) & MASK
    x = ((x ^ (x >> 30)) * _M1) & MASK
    x = ((x ^ (x >> 27)) * _M2) & MASK
    return x ^ (x >> 31)


def mix_many(values: Sequence[int], salt: int = 0, rounds: int = 1) -> list[list[int]]:
    """``mix(salt ^ v)`` for every value, then ``mix`` of that, ``rounds`` times in all.

    ``mix_many(values, salt, 2)`` is ``[h, h2]`` with ``h[k] == mix(salt ^ values[k])``
    and ``h2[k] == mix(h[k])``. For a page at a time: the values sit in 128-bit lanes of
    one big integer, so each step of :func:`mix` is one big-integer operation for all of
    them (a lane's product fits in its 128 bits, and masking after each shift keeps a
    lane's bits out of its neighbour), several times faster than one call per value.
    """
    count = len(values)
    if count < 8:
        outs = []
        hashes = [salt ^ v for v in values]
        for _ in range(rounds):
            hashes = [mix(x) for x in hashes]
            outs.append(hashes)
        return outs
    results: list[list[int]] = [[] for _ in range(rounds)]
    for start in range(0, count, _LANES):
        block = values[start : start + _LANES]
        n = len(block)
        size = max(8, 1 << (n - 1).bit_length())
        ones, ramp, mask, golden = _BLOCKS[size]
        if isinstance(block, range) and block.step == 1:
            x = block.start * ones + ramp  # lanes past ``n`` hash values nobody reads
        else:
            lanes = array("Q", bytes(16 * size))
            lanes[: 2 * n : 2] = array("Q", block)
            x = int.from_bytes(lanes, "little")
        x ^= ones * salt
        for out in results:
            x = (x + golden) & mask
            x = ((x ^ ((x >> 30) & mask)) * _M1) & mask
            x = ((x ^ ((x >> 27) & mask)) * _M2) & mask
            x ^= (x >> 31) & mask
            out += array("Q", x.to_bytes(16 * size, "little"))[: 2 * n : 2].tolist()
    return results


def b32(n: int, width: int) -> str:
    """The low ``5 * width`` bits of ``n`` as Crockford base32 digits."""
    out = []
    for _ in range(width):
        n, r = divmod(n, 32)
        out.append(_B32[r])
    return "".join(reversed(out))


class IdScheme:
    """How one dataset names things and draws its hashes (a pure function of the seed)."""

    __slots__ = ("hostile", "message_head", "message_salt", "salt", "tag")

    def __init__(self, *, seed: int, hostile: bool) -> None:
        self.hostile = hostile
        self.salt = mix(seed & MASK)
        self.message_salt = self.salt ^ (Salt.MESSAGE << 56)
        """``mix(message_salt ^ i)`` is ``h(Salt.MESSAGE, i)``, inlined on the hot path."""
        self.tag = b32(self.salt, 6)
        self.message_head = f"msg_01HX{self.tag}".encode()

    def h(self, kind: int, i: int) -> int:
        """The 64-bit hash of item ``i`` in stream ``kind`` (a :class:`Salt` value)."""
        return mix(self.salt ^ (kind << 56) ^ i)

    def is_hostile(self, i: int, period: int) -> bool:
        """Whether item ``i`` of a kind with this :class:`HostilePeriod` gets the suffix."""
        return self.hostile and i % period == 1

    def make_id(self, prefix: str, i: int, period: int) -> str:
        """The id of item ``i``: ``prefix`` + ULID-shaped body (+ hostile suffix)."""
        # Upper-case hex digits are Crockford base32 digits too, and far cheaper to format.
        base = f"{prefix}01HX{self.tag}{i:016X}"
        if self.hostile and i % period == 1:
            return base + HOSTILE_SUFFIX
        return base

    def parse_id(self, prefix: str, text: str, count: int) -> int | None:
        """The index an id names if it has this scheme's shape and is below ``count``.

        Callers compare ``make_id(index)`` with ``text`` to reject near misses.
        """
        head = f"{prefix}01HX{self.tag}"
        digits = text[len(head) : len(head) + _ID_WIDTH]
        if not text.startswith(head) or not _HEX16.match(digits):
            return None
        index = int(digits, 16)
        return index if index < count else None

    def account_id(self, i: int) -> str:
        """The id of account ``i``."""
        return self.make_id("acc_", i, HostilePeriod.ACCOUNT)

    def chat_id(self, i: int) -> str:
        """The id of chat ``i``."""
        return self.make_id("chat_", i, HostilePeriod.CHAT)

    def message_id(self, i: int) -> str:
        """The id of message ``i``."""
        return self.make_id("msg_", i, HostilePeriod.MESSAGE)

    def attendee_id(self, sender: int) -> str:
        """The attendee id of sender ``sender`` (never hostile)."""
        return f"att_01HX{self.tag}{sender:016X}"

    def person_id(self, kind: str, account: int, k: int) -> str:
        """The provider's id of contact ``k`` of ``account`` (an account of type ``kind``)."""
        h = self.h(Salt.PERSON, account * 1000 + k)
        serial = account * 1000 + k
        if kind == "WHATSAPP":
            return f"{33_600_000_000 + serial * 7919 % 99_999_999}@s.whatsapp.net"
        if kind == "LINKEDIN":
            return "ACoAA" + b32(h, 12) + b32(serial, 4)
        if kind == "SLACK":
            return "U0" + b32(h, 6) + b32(serial, 4)
        if kind == "TELEGRAM":
            return str(1_000_000_000 + serial * 104_729 + h % 97)
        return str(10**15 + serial * 1_000_003 + h % 997)
