"""The bad values the refusal matrices (tests/test_refusal_matrix.py and
tests/ingest/test_refusal_matrix.py) try on every parameter, by the kind it takes."""

from __future__ import annotations

import math
from datetime import datetime, timezone

NAIVE = datetime(2026, 1, 1)
AFTER, BEFORE = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"

#: Not an int: the wrong types a count meets (``True`` is an int to Python, not a count).
NOT_INT: dict[str, object] = {
    "str": "5",
    "bool": True,
    "float": 5.0,
    "nan": math.nan,
    "inf": math.inf,
    "bytes": b"5",
    "list": [5],
    "set": {5},
    "dict": {},
    "datetime": datetime(2026, 1, 1, tzinfo=timezone.utc),
}
#: Not a str: what an id or a cursor meets.
NOT_STR: dict[str, object] = {
    "int": 5,
    "bool": True,
    "float": 5.0,
    "bytes": b"id",
    "set": {"id"},
    "dict": {},
    "generator": (x for x in ["id"]),
}
#: A str no id can be: empty, blank, a control character, a lone surrogate.
BAD_ID_TEXT: dict[str, str] = {
    "empty": "",
    "blank": "   ",
    "tab": "\t",
    "nul": "msg\x00_1",
    "newline": "msg_1\n",
    "control": "msg\x01_1",
    "delete": "msg\x7f",
    "surrogate": "msg\ud800",
}
#: A str no cursor can be: a control character (a pasted line's end), a lone surrogate.
BAD_CURSOR_TEXT: dict[str, str] = {
    name: BAD_ID_TEXT[name] for name in ("tab", "nul", "newline", "control", "delete", "surrogate")
}
#: Past any count's documented maximum.
HUGE: dict[str, object] = {"huge": 10**30}
#: Not a time the API can be asked for.
BAD_TIME: dict[str, object] = {
    "naive": NAIVE,
    "not-iso": "yesterday",
    "month-13": "2026-13-01T00:00:00Z",
    "empty": "",
    "int": 1_767_225_600,
    "float": 1.5e9,
    "bool": True,
    "bytes": b"2026-01-01T00:00:00Z",
    "list": [AFTER],
    "underflow": "0001-01-01T00:00:00+01:00",
}
#: Not True or False: truthiness would read "no" as yes.
NOT_BOOL: dict[str, object] = {"str-no": "no", "int-1": 1, "int-0": 0, "none-like": "", "list": []}
