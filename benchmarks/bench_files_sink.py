"""What a JSON lines sink's group commit costs: 16 pages of 250 messages at a time.

``postpress export --out FILE`` commits the pages the walk fetched in groups (the
committer's ``max_pages``, 16): one batch of 4,000 rows, their lines appended with one
``writev`` sequence and one fsync, then the sidecar replaced. This measures that commit,
on pages the fake dataset renders in this process (no server), read by the raw path
(``row_reader("messages", ("timestamp",))``: rows ``(id, timestamp, data)``), in a
temporary directory (``--dir``; the figures depend on its file system and disk):

* ``lines``: building the batch's lines (``last_of_each`` + ``line_bytes``: one set of
  the ids, one join of the raw slices, the line-break check), CPU;
* ``lines, per item``: the alternative the join replaced, a memoryview and a newline a
  row handed to ``writev`` (CPU of building the list and writing it, no fsync);
* ``append + fsync``: ``write_all`` of the lines and one ``fsync``, wall;
* ``sidecar``: encoding the sidecar and replacing it (``LinesFile.write_sidecar``: temp
  file, fsync, rename; the directory is synced at close), wall; and, for reference,
  ``write_atomic`` (the same plus a directory fsync each time, what the CLI's exporter did);
* ``commit``: ``await JsonLinesSink.commit(batch)`` whole, wall; and the CPU the event
  loop's thread spends on it (``time.thread_time`` around the await: what a commit takes
  away from fetching and decoding), and the process CPU of the commit.

Milliseconds per page (a group's figure / 16); the median of ``--groups`` groups (each
group the same 16 pages, appended again). No targets: the figures are for the record.
Run: ``python benchmarks/bench_files_sink.py`` (a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from postpress_async._durable import write_atomic
from postpress_async._positions import Checkpoint
from postpress_async._rows import Row, row_reader
from postpress_async.ingest._shards import Shard, ShardPlan, Window
from postpress_async.ingest.sinks._base import Batch, Move, last_of_each
from postpress_async.ingest.sinks._lines import LinesFile, line_bytes
from postpress_async.ingest.sinks._sidecar import Sidecar, StoredPosition
from postpress_async.ingest.sinks._writev import write_all
from postpress_async.ingest.sinks.files import JsonLinesSink
from postpress_async.testing import Dataset

PAGE = 250


def build_rows(pages: int) -> list[Row]:
    """``pages`` pages of 250 messages as the raw path reads them (one list, page order)."""
    dataset = Dataset(messages=pages * PAGE)
    read = row_reader("messages", ("timestamp",), endpoint_label="GET /messages")
    rows: list[Row] = []
    for k in range(pages):
        items = dataset.messages_json(list(range(k * PAGE, (k + 1) * PAGE)))
        rows.extend(read(b'{"object":"MessageList","items":[' + items + b'],"cursor":null}').items)
    return rows


def median_ms(samples: list[float], pages: int) -> float:
    return statistics.median(samples) * 1000 / pages


def timed(clock: Callable[[], float], call: Callable[[], object], groups: int) -> list[float]:
    samples = []
    for _ in range(groups):
        start = clock()
        call()
        samples.append(clock() - start)
    return samples


def per_item(fd: int, rows: list[Row]) -> None:
    newline = b"\n"
    views: list[object] = []
    for row in rows:
        views.append(memoryview(row[-1]))
        views.append(newline)
    write_all(fd, views)


async def commit_figures(
    directory: Path, rows: list[Row], pages: int, groups: int
) -> tuple[list[float], list[float], list[float]]:
    sink = JsonLinesSink(directory / "commit.jsonl")
    await sink.open()
    plan = ShardPlan(
        endpoint="messages",
        filters={},
        window=Window(),
        by="auto",
        requested=1,
        shards=[Shard(endpoint="messages", label="all")],
    )
    await sink.save_plan(plan)
    previous: bytes | None = None
    walls, loop_cpu, process_cpu = [], [], []
    for k in range(groups + 1):
        new = msgspec.json.encode(Checkpoint(cursor=f"cursor-{k}", offset=0))
        batch = Batch("messages", rows, [], [Move("all", previous, new, len(rows), pages)])
        wall, thread, process = time.perf_counter(), time.thread_time(), time.process_time()
        await sink.commit(batch)
        if k:  # the first group pays for the worker thread's start
            walls.append(time.perf_counter() - wall)
            loop_cpu.append(time.thread_time() - thread)
            process_cpu.append(time.process_time() - process)
        previous = new
    await sink.close()
    return walls, loop_cpu, process_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=16, help="pages a group (default 16)")
    parser.add_argument("--groups", type=int, default=30, help="groups measured (default 30)")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temp dir)"
    )
    args = parser.parse_args()
    pages, groups = args.pages, args.groups
    rows = build_rows(pages)
    size = sum(len(row[-1]) + 1 for row in rows)
    with tempfile.TemporaryDirectory(dir=args.dir) as temp:
        directory = Path(temp)
        lines = timed(time.process_time, lambda: line_bytes(last_of_each(rows)), groups)
        chunks = line_bytes(rows)
        fd = os.open(directory / "append.jsonl", os.O_RDWR | os.O_CREAT, 0o666)
        naive = os.open(directory / "per-item.jsonl", os.O_RDWR | os.O_CREAT, 0o666)
        try:

            def append() -> None:
                write_all(fd, chunks)
                os.fsync(fd)

            appends = timed(time.perf_counter, append, groups)
            items = timed(time.process_time, lambda: per_item(naive, rows), groups)
        finally:
            os.close(fd)
            os.close(naive)
        position = msgspec.Raw(msgspec.json.encode(Checkpoint(cursor="c" * 40)))
        state = Sidecar(
            endpoint="messages",
            offset=size,
            count=len(rows),
            positions={"all": StoredPosition(position=position, items=len(rows), pages=pages)},
        )
        sidecar = directory / "out.jsonl.checkpoint"
        lines_file = LinesFile(directory / "out.jsonl", sidecar)
        sidecars = timed(time.perf_counter, lambda: lines_file.write_sidecar(state), groups)
        atomics = timed(
            time.perf_counter, lambda: write_atomic(sidecar, msgspec.json.encode(state)), groups
        )
        walls, loop_cpu, process_cpu = asyncio.run(commit_figures(directory, rows, pages, groups))
    print(
        f"{pages} pages x {PAGE} messages a group ({len(rows):,} rows, {size / 1e6:.2f} MB), "
        f"median of {groups} groups, ms per page:"
    )
    for name, value in (
        ("lines (join + checks), CPU", median_ms(lines, pages)),
        ("lines, per item (views to writev), CPU", median_ms(items, pages)),
        ("append + fsync, wall", median_ms(appends, pages)),
        ("sidecar (write_sidecar), wall", median_ms(sidecars, pages)),
        ("sidecar with write_atomic (for reference), wall", median_ms(atomics, pages)),
        ("commit, wall", median_ms(walls, pages)),
        ("commit, event loop thread CPU", median_ms(loop_cpu, pages)),
        ("commit, process CPU", median_ms(process_cpu, pages)),
    ):
        print(f"  {name:<50} {value:8.3f}")


if __name__ == "__main__":
    main()
