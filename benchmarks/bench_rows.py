"""What reading a page costs: the typed models against the raw path a sink uses.

CPU milliseconds per 250-message page (this process's CPU time, ``time.process_time``),
for pages rendered by the fake dataset in this process (no server, no network):

* typed: ``decode`` into ``MessageList`` (what a typed stream does today), and
  ``decode_page`` (the same, setting unreadable items aside); for reference, that plus
  a msgspec encode of each item (what a sink storing JSON paid without the raw path);
* split: the raw split alone (``items`` as ``msgspec.Raw`` slices + ``cursor``);
* rows: ``row_reader("messages", None)`` (every column of ``TABLES``) and
  ``row_reader("messages", ("timestamp",))`` (what the JSON lines sink asks for).

Each is measured on clean pages, on the same pages with one item made unreadable (a
numeric ``timestamp`` in the middle of the page: the typed decode and the row reader
fall back to item-by-item decodes), and on the same pages with one text cut mid-emoji
(a lone ``\\ud83d``: msgspec refuses the body, the repaired copy is read). A plain
``decode`` of the unreadable page raises, so that row shows ``decode_page`` only.

Each figure is the median of ``--rounds`` rounds; a round times every case in turn over
the same ``--pages`` pages. No targets: the figures are for the record. Run:
``python benchmarks/bench_rows.py`` (about 15 seconds here).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec

from postpress_async._decoding import decode, decode_page
from postpress_async._exceptions import ResponseDecodeError
from postpress_async._raw_items import split_items
from postpress_async._rows import row_reader
from postpress_async.models import MessageList
from postpress_async.testing import Dataset
from postpress_async.testing._api import Api

LIMIT = 250
LABEL = "GET /messages"


class _RawPage(msgspec.Struct, gc=False):
    items: list[msgspec.Raw] = msgspec.field(default_factory=list)
    cursor: str | None = None


_RAW_PAGE = msgspec.json.Decoder(_RawPage)
_TIMESTAMP = re.compile(rb'"timestamp":"[^"]*"')
_TEXT = re.compile(rb'"text":"')


def pages(count: int) -> list[bytes]:
    """``count`` consecutive first-to-last pages of 250 messages, as the fake sends them."""
    api = Api(Dataset(messages=LIMIT * count), api_key="k", page_cache_bytes=0)
    out: list[bytes] = []
    query = {"limit": str(LIMIT)}
    while len(out) < count:
        body = bytes(api.messages_list(query).body)
        out.append(body)
        cursor = msgspec.json.decode(body, type=_RawPage).cursor
        if cursor is None:
            break
        query = {"limit": str(LIMIT), "cursor": cursor}
    return out


def with_unreadable_item(body: bytes) -> bytes:
    """The page with the first timestamp after its middle made a number."""
    match = _TIMESTAMP.search(body, len(body) // 2)
    assert match is not None
    return body[: match.start()] + b'"timestamp":1' + body[match.end() :]


def with_lone_surrogate(body: bytes) -> bytes:
    """The page with the first text after its middle starting with a lone high surrogate."""
    match = _TEXT.search(body, len(body) // 2)
    assert match is not None
    return body[: match.end()] + rb"\ud83d" + body[match.end() :]


def cases() -> dict[str, Callable[[bytes], Any]]:
    rows_all = row_reader("messages", None, endpoint_label=LABEL)
    rows_ts = row_reader("messages", ("timestamp",), endpoint_label=LABEL)
    encode = msgspec.json.Encoder().encode

    def typed_and_encoded(body: bytes) -> list[bytes]:
        page, _ = decode_page(body, MessageList, endpoint=LABEL)
        return [encode(item) for item in page.items]

    return {
        "typed decode (MessageList)": lambda body: decode(body, MessageList, endpoint=LABEL),
        "typed decode_page": lambda body: decode_page(body, MessageList, endpoint=LABEL),
        "typed + re-encode each item": typed_and_encoded,
        "raw split": lambda body: split_items(body, _RAW_PAGE, endpoint=LABEL),
        "rows, all columns": rows_all,
        'rows, ("timestamp",)': rows_ts,
    }


def cpu_ms_per_page(read: Callable[[bytes], Any], bodies: list[bytes], repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        for body in bodies:
            read(body)
    return (time.process_time() - start) * 1000 / (repeat * len(bodies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=4, help="passes over the pages a round")
    args = parser.parse_args()

    clean = pages(args.pages)
    kinds = {
        "clean page": clean,
        "one unreadable item": [with_unreadable_item(body) for body in clean],
        "one lone surrogate": [with_lone_surrogate(body) for body in clean],
    }
    readers = cases()
    works: dict[tuple[str, str], Callable[[bytes], Any]] = {}
    for kind, bodies in kinds.items():
        for name, read in readers.items():
            try:
                read(bodies[0])
            except ResponseDecodeError:
                continue  # decode() of a page with an unreadable item raises
            works[kind, name] = read
    # A check that the pages are what they claim, before timing anything.
    assert len(decode_page(kinds["one unreadable item"][0], MessageList, endpoint=LABEL)[1]) == 1
    assert len(readers["rows, all columns"](kinds["one unreadable item"][0]).rejects) == 1

    size = statistics.mean(len(body) for body in clean) / 1024
    print(
        f"{len(clean)} pages of {LIMIT} messages ({size:.0f} KiB each), "
        f"{args.rounds} rounds x {args.repeat} passes; "
        "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )
    figures: dict[tuple[str, str], list[float]] = {key: [] for key in works}
    for _ in range(args.rounds):
        for (kind, name), read in works.items():
            gc.collect()
            figures[kind, name].append(cpu_ms_per_page(read, kinds[kind], args.repeat))

    # The machine's speed drifts between rounds; a ratio to the reference measured in
    # the same round drifts much less.
    reference = figures["clean page", "typed decode (MessageList)"]
    for kind in kinds:
        print(
            f"\n{kind}: CPU ms per page, median (min-max) of {args.rounds} rounds; "
            "x the clean typed decode of the same round (median)"
        )
        for name in readers:
            values = figures.get((kind, name))
            if values is None:
                print(f"  {name:<28} raises (see decode_page)")
                continue
            ratio = statistics.median(v / r for v, r in zip(values, reference, strict=True))
            print(
                f"  {name:<28} {statistics.median(values):6.3f}"
                f"  ({min(values):.3f}-{max(values):.3f})  x{ratio:.2f}"
            )
    print("\nload {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
