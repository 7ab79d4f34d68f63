"""The JSON lines sinks beyond the shared contract: exact bytes, crashes, the safety rules,
the older state files they convert, and part files.

Pages come from the fake dataset as the server sends them (``Dataset.messages_json``) and
are read by the raw path (``row_reader``), exactly as a runner hands them to a sink.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from postpress_async import OutputLockedError
from postpress_async._exceptions import (
    ShardConflictError,
    SinkFailedError,
    SinkUnavailableError,
)
from postpress_async._positions import Checkpoint, WatchState
from postpress_async._rows import RowPage, row_reader
from postpress_async.ingest._shards import Shard, ShardPlan, Window
from postpress_async.ingest.sinks import _lines, _writev
from postpress_async.ingest.sinks._base import FOLLOW, Batch, Move, Reject, Stored
from postpress_async.ingest.sinks._lines import LinesFile, line_bytes
from postpress_async.ingest.sinks._writev import write_all
from postpress_async.ingest.sinks.files import JsonLinesSink, PartFilesSink
from postpress_async.testing import Dataset

from ._files import committed, reject_item

READ = row_reader("messages", ("timestamp",), endpoint_label="GET /messages")
PAGE = 250


@functools.cache
def dataset() -> Dataset:
    """1,000 messages, seven of them with the real API's bad bytes."""
    return Dataset(bad_records=True)


def body(indices: range | list[int]) -> bytes:
    """A listing page exactly as the fake server sends it."""
    items = dataset().messages_json(list(indices))
    return b'{"object":"MessageList","items":[' + items + b'],"cursor":null}'


def pages(count: int = 4) -> Iterator[tuple[range, RowPage]]:
    for k in range(count):
        indices = range(k * PAGE, (k + 1) * PAGE)
        yield indices, READ(body(indices))


def position(n: int) -> bytes:
    return msgspec.json.encode(Checkpoint(cursor=f"c{n}", offset=0))


def batch(page: RowPage, *moves: Move, endpoint: str = "messages") -> Batch:
    return Batch(endpoint, list(page.items), list(page.rejects), list(moves))  # type: ignore[arg-type]


def move(name: str, previous: int | None, new: int, page: RowPage | None = None) -> Move:
    items = 1 if page is None else len(page.items) + len(page.rejects)
    return Move(name, None if previous is None else position(previous), position(new), items, 1)


def plan(endpoint: str = "messages", labels: tuple[str, ...] = ("all",)) -> ShardPlan:
    return ShardPlan(
        endpoint=endpoint,  # type: ignore[arg-type]
        filters={},
        window=Window(),
        by="auto",
        requested=len(labels),
        shards=[Shard(endpoint=endpoint, label=label) for label in labels],  # type: ignore[arg-type]
    )


def readable() -> list[int]:
    unreadable = {bad.index for bad in dataset().bad_messages() if not bad.readable}
    return [i for i in range(dataset().message_count) if i not in unreadable]


async def written(out: Path, count: int = 4) -> JsonLinesSink:
    """A sink on ``out`` with ``count`` pages committed, one a batch (still open)."""
    sink = JsonLinesSink(out)
    await sink.open()
    await sink.save_plan(plan())
    for k, (_, page) in enumerate(pages(count)):
        await sink.commit(batch(page, move("all", k or None, k + 1, page)))
    return sink


# -- what the files hold, byte for byte ------------------------------------------------------


async def test_each_line_is_the_item_exactly_as_the_server_sent_it(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = await written(out)
    await sink.close()
    expected = b"".join(dataset().message_json(i) + b"\n" for i in readable())
    assert out.read_bytes() == expected
    # The lone surrogates and the NUL are kept as sent (they are the API's JSON).
    assert b"Party time \\ud83d" in expected and b"before\\u0000after" in expected


async def test_the_rejects_file_holds_each_unreadable_item_verbatim(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = await written(out)
    assert await sink.rejects("messages") == 4
    await sink.close()
    reasons = [reject.reason for _, page in pages() for reject in page.rejects]
    unreadable = [bad.index for bad in dataset().bad_messages() if not bad.readable]
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_bytes() == b"".join(
        b'{"reason":%b,"item":%b}\n' % (msgspec.json.encode(reason), dataset().message_json(i))
        for reason, i in zip(reasons, unreadable, strict=True)
    )
    assert reasons[0] == "$.items[249]: Expected `object`, got `null`"


async def test_raw_line_breaks_in_an_item_become_spaces(tmp_path: Path) -> None:
    pretty = [b'{\n  "id": "p1",\r\n  "timestamp": null\n}', b'{"id":"p2"}', b'{"id":\r"p3"}']
    page = READ(b'{"items":[' + b",".join(pretty) + b"]}")
    sink = JsonLinesSink(tmp_path / "out.jsonl")
    await sink.open()
    await sink.commit(batch(page, move("all", None, 1, page)))
    bad = Reject(b'{"id":\n5}', "why")
    await sink.commit(Batch("messages", [], [bad], [move("all", 1, 2)]))
    await sink.close()
    lines = (tmp_path / "out.jsonl").read_bytes().splitlines()
    assert lines == [b'{   "id": "p1",    "timestamp": null }', b'{"id":"p2"}', b'{"id": "p3"}']
    assert [json.loads(line) for line in lines] == [json.loads(item) for item in pretty]
    rejects = (tmp_path / "out.jsonl.rejects.jsonl").read_bytes()
    assert rejects == b'{"reason":"why","item":{"id": 5}}\n'


def test_line_bytes_fast_path_keeps_the_buffers_of_the_rows() -> None:
    rows = [("a", None, msgspec.Raw(b'{"id":"a"}')), ("b", None, b'{"id":"b"}')]
    assert line_bytes(rows) == [b'{"id":"a"}\n{"id":"b"}', b"\n"]
    assert line_bytes([]) == []


async def test_a_group_of_pages_is_copied_a_page_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow fsync lets pages queue behind the writer, committed as one group: joined
    whole, their lines would be copied at once, so an export's peak memory would grow
    with the largest group it meets (the longer the export, the larger)."""
    real = _lines.write_all
    buffers: list[tuple[int, bytes]] = []  # (the file's inode, a buffer of lines)

    def counting(fd: int, chunks: Any) -> int:
        inode = os.fstat(fd).st_ino
        buffers.extend((inode, bytes(chunk)) for chunk in chunks if chunk != b"\n")
        return real(fd, chunks)

    monkeypatch.setattr(_lines, "write_all", counting)
    out = tmp_path / "out.jsonl"
    sink = JsonLinesSink(out)
    await sink.open()
    group = [page for _, page in pages(4)]
    rows = [row for page in group for row in page.items]
    rejects = [reject for page in group for reject in page.rejects]
    items = len(rows) + len(rejects)
    await sink.commit(Batch("messages", rows, rejects, [Move("all", None, position(4), items, 4)]))
    await sink.close()
    assert out.read_bytes() == b"".join(dataset().message_json(i) + b"\n" for i in readable())
    lines_a_buffer = [
        data.count(b"\n") + 1 for inode, data in buffers if inode == out.stat().st_ino
    ]
    assert sum(lines_a_buffer) == len(rows)
    assert max(lines_a_buffer) <= PAGE  # one page's copy, however many pages the group holds


def test_write_all_survives_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.writev
    sizes: list[int] = []

    def stingy(fd: int, buffers: list[memoryview]) -> int:
        sizes.append(len(buffers))
        return real(fd, [buffers[0][:3]])  # at most 3 bytes a call

    monkeypatch.setattr(_writev, "_writev", stingy)
    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        assert write_all(fd, [b"hello", b"", memoryview(b" world"), b"\n"]) == 12
    finally:
        os.close(fd)
    assert path.read_bytes() == b"hello world\n"
    assert sizes == [3, 3, 2, 2, 1]  # each call starts where the last one stopped


async def test_a_batch_repeating_an_id_keeps_its_last_row(tmp_path: Path) -> None:
    page = READ(b'{"items":[{"id":"x","n":1},{"id":"y"},{"id":"x","n":2}]}')
    sink = JsonLinesSink(tmp_path / "out.jsonl")
    await sink.open()
    await sink.commit(batch(page, move("all", None, 1, page)))
    assert await sink.positions("messages") == {"all": Stored(position(1), 3, 1)}
    await sink.close()
    assert (tmp_path / "out.jsonl").read_bytes() == b'{"id":"y"}\n{"id":"x","n":2}\n'


async def test_verify_reads_ids_and_times_from_the_file(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = await written(out)
    ids = await sink.stored_ids("messages", after=None, before=None)
    assert ids == [dataset().message_id(i) for i in readable()]  # repaired lines included
    assert await sink.count("messages") == len(readable())
    times = [dataset().message_timestamp_ms(i) for i in readable()]
    span = await sink.span("messages")
    assert span is not None
    assert (round(span[0].timestamp() * 1000), round(span[1].timestamp() * 1000)) == (
        min(times),
        max(times),
    )
    assert await sink.count("chats") == 0
    await sink.close()


# -- crashes and the safety rules -----------------------------------------------------------


class Crash(Exception):
    pass


async def test_a_crash_between_append_and_sidecar_is_cut_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    sink = await written(out, count=2)
    before = out.read_bytes()
    rejected = (tmp_path / "out.jsonl.rejects.jsonl").read_bytes()
    stored = await sink.positions("messages")

    def crash(self: LinesFile, state: Any) -> None:
        raise Crash

    (_, third), (_, fourth) = list(pages(4))[2:]
    with monkeypatch.context() as patched:
        patched.setattr(LinesFile, "write_sidecar", crash)
        with pytest.raises(Crash):  # the lines and rejects are on disk, the sidecar is not
            await sink.commit(batch(third, move("all", 2, 3, third)))
    assert len(out.read_bytes()) > len(before)
    assert len((tmp_path / "out.jsonl.rejects.jsonl").read_bytes()) > len(rejected)
    await sink.close()

    again = JsonLinesSink(out)
    await again.open()
    assert out.read_bytes() == before  # cut back to what the sidecar vouches for
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_bytes() == rejected
    assert await again.positions("messages") == stored
    await again.commit(batch(third, move("all", 2, 3, third)))  # the pages come again
    await again.commit(batch(fourth, move("all", 3, 4, fourth)))
    await again.close()
    assert out.read_bytes() == b"".join(dataset().message_json(i) + b"\n" for i in readable())


async def test_after_a_failed_commit_the_same_sink_cuts_back_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    sink = await written(out, count=1)
    (_, second), (_, third) = list(pages(3))[1:]

    def full(self: LinesFile, state: Any) -> None:
        import errno

        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(LinesFile, "write_sidecar", full)
        with pytest.raises(SinkFailedError, match="the disk is full"):
            await sink.commit(batch(second, move("all", 1, 2, second)))
    await sink.commit(batch(second, move("all", 1, 2, second)))
    await sink.commit(batch(third, move("all", 2, 3, third)))
    await sink.close()
    expected = [i for i in readable() if i < 750]
    assert out.read_bytes() == b"".join(dataset().message_json(i) + b"\n" for i in expected)
    assert committed(out, out.with_name(out.name + ".checkpoint"))[1].count(b"\n") == 748


async def test_a_sidecar_that_could_not_be_written_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk: the half-written temporary sidecar is removed, not left beside the
    file (a new one each run, each process's own name)."""
    import errno

    out = tmp_path / "out.jsonl"
    sink = await written(out, count=1)
    (_, second) = list(pages(2))[1]
    import builtins

    from postpress_async import _durable

    def full(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        file = builtins.open(path, mode, *args, **kwargs)  # noqa: SIM115 - the caller closes it
        if str(path).endswith(".tmp"):  # the temporary sidecar is made, then the disk fills
            file.close()
            raise OSError(errno.ENOSPC, "No space left on device")
        return file

    with monkeypatch.context() as patched:
        patched.setattr(_durable, "open", full, raising=False)
        with pytest.raises(SinkFailedError, match="the disk is full"):
            await sink.commit(batch(second, move("all", 1, 2, second)))
    await sink.close()
    assert sorted(os.listdir(tmp_path)) == [
        "out.jsonl",
        "out.jsonl.checkpoint",
        "out.jsonl.rejects.jsonl",
    ]


def test_write_atomic_that_fails_leaves_the_old_file_and_no_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postpress_async._durable import write_atomic

    state = tmp_path / "state.json"
    state.write_bytes(b"old")

    def refused(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", refused)
        with pytest.raises(PermissionError):
            write_atomic(state, b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert state.read_bytes() == b"old"


@pytest.mark.parametrize("kind", ["file", "parts"])
async def test_a_plan_that_cannot_be_stored_is_a_sink_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A full disk while a new export stores its plan: the typed error naming the store,
    not a bare OSError; the file keeps what its sidecar vouched for."""
    import errno

    from postpress_async.ingest.sinks import _parts

    out = tmp_path / "out.jsonl"
    sink: JsonLinesSink | PartFilesSink
    if kind == "file":
        sink = await written(out, count=1)
        held = out.read_bytes()
    else:
        sink = PartFilesSink(tmp_path / "parts")
        await sink.open()

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with monkeypatch.context() as patched:
        patched.setattr(_lines, "write_atomic", full)
        patched.setattr(_parts, "write_atomic", full)
        with pytest.raises(SinkFailedError, match="the disk is full") as caught:
            await sink.save_plan(plan("messages", ("all", "tw001")))
    assert str(tmp_path) in str(caught.value)
    if isinstance(sink, JsonLinesSink):
        assert sink._file.state.offset == len(held)  # still what the sidecar says
    await sink.close()
    if kind == "file":
        again = JsonLinesSink(out)
        await again.open()
        assert out.read_bytes() == held
        await again.close()


async def test_a_disk_full_mid_line_leaves_only_whole_lines_for_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run ends on the error: until a next run cuts it, a reader (``jq``, a loader)
    would meet half an item as the last line. The failed commit cuts it back itself."""
    import errno

    out = tmp_path / "out.jsonl"
    sink = await written(out, count=1)
    before = out.read_bytes()
    (_, second) = list(pages(2))[1]
    real = _lines.write_all

    def half(fd: int, chunks: Any) -> int:
        data = b"".join(bytes(chunk) for chunk in chunks)
        if data.startswith(b'{"version"'):
            return real(fd, chunks)
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(_lines, "write_all", half)
        with pytest.raises(SinkFailedError, match="the disk is full"):
            await sink.commit(batch(second, move("all", 1, 2, second)))
    assert out.read_bytes() == before  # whole lines only, before any next run
    await sink.commit(batch(second, move("all", 1, 2, second)))
    await sink.close()
    assert committed(out, out.with_name(out.name + ".checkpoint"))[1] == out.read_bytes()


async def test_the_sidecars_directory_is_synced_when_created_and_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(_lines, "fsync_dir", synced.append)
    sink = JsonLinesSink(tmp_path / "out.jsonl")
    await sink.open()
    assert (tmp_path / "out.jsonl.checkpoint").exists()  # written with write_atomic
    for k, (_, page) in enumerate(pages(2)):
        await sink.commit(batch(page, move("all", k or None, k + 1, page)))
    assert synced == []  # a rename is atomic: commits leave the directory to close
    await sink.close()
    assert synced == [tmp_path]
    await sink.close()
    assert synced == [tmp_path]


async def test_a_file_shorter_than_its_sidecar_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    await (await written(out, count=1)).close()
    data = out.read_bytes()
    out.write_bytes(data[:-10])
    with pytest.raises(SinkUnavailableError, match=r"shorter than .* records") as caught:
        await JsonLinesSink(out).open()
    assert f"{len(data) - 10:,} < {len(data):,} bytes" in str(caught.value)
    assert out.read_bytes() == data[:-10]  # never padded
    forced = JsonLinesSink(out, force=True)
    await forced.open()
    assert out.read_bytes() == b""
    assert await forced.positions("messages") == {}
    await forced.close()


@pytest.mark.parametrize("edit", ["a line duplicated", "a line made longer"])
async def test_a_file_edited_inside_what_its_sidecar_vouches_for_is_refused(
    tmp_path: Path, edit: str
) -> None:
    """Longer, but not by lines appended after the offset: cutting it there would leave
    half a line, and the next append would glue an item onto it."""
    out = tmp_path / "out.jsonl"
    await (await written(out, count=1)).close()
    data = out.read_bytes()
    lines = data.splitlines(keepends=True)
    if edit == "a line duplicated":
        lines.insert(3, lines[3])
    else:
        lines[3] = lines[3][:-2] + b" " + lines[3][-2:]
    changed = b"".join(lines)
    out.write_bytes(changed)
    for writer in (True, False):
        with pytest.raises(SinkUnavailableError, match=r"changed inside") as caught:
            await JsonLinesSink(out).open(writer=writer)
        assert f"byte {len(data):,}" in str(caught.value)
        # verify has no --force: a reader is told what does start over
        remedy = "add --force to start over" if writer else "export again with --force"
        assert str(caught.value).endswith(f"restore it, or {remedy}")
    assert out.read_bytes() == changed  # never cut in the middle of a line
    forced = JsonLinesSink(out, force=True)
    await forced.open()
    assert out.read_bytes() == b""
    await forced.close()


async def test_a_rejects_file_edited_inside_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    await (await written(out)).close()
    rejects = out.with_name("out.jsonl.rejects.jsonl")
    held = rejects.read_bytes()
    assert held.count(b"\n") > 1
    first = held.splitlines(keepends=True)[0]
    rejects.write_bytes(first + held)
    with pytest.raises(SinkUnavailableError, match=r"rejects\.jsonl was changed inside"):
        await JsonLinesSink(out).open()
    assert rejects.read_bytes() == first + held


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
async def test_a_path_that_is_not_a_regular_file_is_refused_naming_why(tmp_path: Path) -> None:
    """``--out /dev/stdout`` or a named pipe: an export cuts back and resumes its file,
    which a stream cannot be; said plainly, not as the OS's "Illegal seek"."""
    pipe = tmp_path / "pipe.jsonl"
    os.mkfifo(pipe)
    for writer in (True, False):
        with pytest.raises(SinkUnavailableError, match=r"not a regular file") as caught:
            await JsonLinesSink(pipe).open(writer=writer)
        assert str(pipe) in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ["pipe.jsonl"]


async def test_a_foreign_file_is_refused_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "notes.txt"
    out.write_bytes(b"my own notes\n")
    for writer in (True, False):
        with pytest.raises(SinkUnavailableError) as caught:
            await JsonLinesSink(out).open(writer=writer)
        remedy = "add --force to overwrite" if writer else "nothing to compare"  # verify
        assert str(caught.value) == (
            f"{out} is not an export's file (no notes.txt.checkpoint): {remedy}, or choose "
            "another file"
        )
    assert out.read_bytes() == b"my own notes\n"
    assert not out.with_name("notes.txt.checkpoint").exists()
    forced = JsonLinesSink(out, force=True)
    await forced.open()
    assert out.read_bytes() == b""
    await forced.close()
    assert json.loads(out.with_name("notes.txt.checkpoint").read_bytes())["version"] == 2


async def test_a_new_file_is_vouched_for_before_its_first_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = JsonLinesSink(out)
    await sink.open()
    # A crash right after the first append must find a sidecar saying "0 bytes".
    assert json.loads((tmp_path / "out.jsonl.checkpoint").read_bytes())["offset"] == 0
    await sink.close()
    out.write_bytes(b'{"id":"half a commit"}\n')
    again = JsonLinesSink(out)
    await again.open()
    assert out.read_bytes() == b""
    await again.close()


async def test_a_reader_of_another_endpoint_is_told_what_the_file_holds(tmp_path: Path) -> None:
    """A reader (verify) cannot overwrite: no ``--force`` hint, the endpoint held named."""
    out = tmp_path / "out.jsonl"
    await (await written(out, count=1)).close()
    reader = JsonLinesSink(out)
    await reader.open(writer=False)
    with pytest.raises(SinkUnavailableError) as caught:
        await reader.load_plan("chats")
    await reader.close()
    text = str(caught.value)
    assert text.startswith(f"{out} holds an export of messages, not chats")
    assert "verify messages" in text
    assert "--force" not in text and "overwrite" not in text


async def test_a_file_holds_one_endpoint(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = await written(out, count=1)
    held = "holds an export of messages; a file holds one endpoint: write chats to another file"
    with pytest.raises(SinkUnavailableError, match=held):
        await sink.load_plan("chats")
    with pytest.raises(SinkUnavailableError, match=held):
        await sink.save_plan(plan("chats"))
    chats = row_reader("chats", ("timestamp",), endpoint_label="GET /chats")(b'{"items":[]}')
    with pytest.raises(SinkUnavailableError, match="holds messages"):
        await sink.commit(batch(chats, move("all", None, 1), endpoint="chats"))
    assert await sink.count("messages") == 250
    await sink.close()
    forced = JsonLinesSink(out, force=True)  # --force: a new export of chats overwrites it
    await forced.open()
    assert await forced.load_plan("chats") is None
    await forced.save_plan(plan("chats"))
    assert forced.columns == ("timestamp",)
    assert out.read_bytes() == b""
    await forced.close()


async def test_save_plan_starts_the_file_over(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = await written(out, count=2)
    await sink.save_plan(plan(labels=("tw000", "tw001")))
    assert out.read_bytes() == b""
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_bytes() == b""
    assert await sink.positions("messages") == {}
    assert await sink.load_plan("messages") == plan(labels=("tw000", "tw001"))
    assert await sink.count("messages") == await sink.rejects("messages") == 0
    await sink.close()


def columns_of(sink: JsonLinesSink) -> tuple[str, ...] | None:
    return sink.columns  # read afresh: it changes with the endpoint


async def test_columns_follow_the_endpoint_held(tmp_path: Path) -> None:
    out = tmp_path / "accounts.jsonl"
    sink = JsonLinesSink(out)
    await sink.open()
    assert columns_of(sink) is None  # nothing known yet: every column, valid for any endpoint
    await sink.save_plan(plan("accounts"))
    assert columns_of(sink) == ("created_at",)
    accounts = row_reader("accounts", sink.columns, endpoint_label="GET /accounts")
    page = accounts(
        b'{"items":[{"id":"a1","type":"MAIL","created_at":"2025-01-02T03:04:05.678Z"}]}'
    )
    await sink.commit(batch(page, move("all", None, 1, page), endpoint="accounts"))
    await sink.close()
    again = JsonLinesSink(out)
    await again.open(writer=False)
    assert again.columns == ("created_at",)
    span = await again.span("accounts")
    assert span is not None and span[0].isoformat() == "2025-01-02T03:04:05.678000+00:00"
    await again.close()


async def test_a_reader_sees_what_is_committed_and_cannot_write(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sink = await written(out, count=1)
    reader = JsonLinesSink(out)
    await reader.open(writer=False)
    assert await reader.count("messages") == 250
    (_, second) = list(pages(2))[1]
    await sink.commit(batch(second, move("all", 1, 2, second)))
    assert await reader.count("messages") == 499
    assert (await reader.positions("messages"))["all"].position == position(2)
    with pytest.raises(SinkUnavailableError, match="not open for writing"):
        await reader.commit(batch(second, move("all", 2, 3, second)))
    await reader.close()
    await sink.close()


_HOLD = """
import sys, anyio
from postpress_async.ingest.sinks.files import JsonLinesSink, PartFilesSink

async def main() -> None:
    kind, path = sys.argv[1:]
    sink = JsonLinesSink(path) if kind == "file" else PartFilesSink(path)
    await sink.open()
    print("open", flush=True)
    sys.stdin.readline()
    await sink.close()

anyio.run(main)
"""


@pytest.mark.parametrize("kind", ["file", "parts"])
@pytest.mark.slow
async def test_a_second_writer_in_another_process_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("out.jsonl" if kind == "file" else "parts")
    async with await anyio.open_process([sys.executable, "-c", _HOLD, kind, str(path)]) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        said = b""
        while not said.endswith(b"\n"):
            said += await holder.stdout.receive()
        assert said == b"open\n"
        second = JsonLinesSink(path) if kind == "file" else PartFilesSink(path)
        with pytest.raises(OutputLockedError):
            await second.open()
        await holder.stdin.send(b"done\n")
        assert await holder.wait() == 0
    third = JsonLinesSink(path) if kind == "file" else PartFilesSink(path)
    await third.open()  # the lock went with the other process
    await third.close()


async def test_a_second_writer_in_this_process_is_refused(tmp_path: Path) -> None:
    sink = await written(tmp_path / "out.jsonl", count=1)
    with pytest.raises(OutputLockedError):
        await JsonLinesSink(tmp_path / "out.jsonl").open()
    await sink.close()


# -- the older state files ------------------------------------------------------------------


def lines_of(indices: range) -> bytes:
    return b"".join(dataset().message_json(i) + b"\n" for i in indices)


async def test_the_previous_ingest_sinks_sidecar_is_converted(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    data = lines_of(range(10))
    out.write_bytes(data + b'{"id":"after the last checkpoint"}\n')
    checkpoint = Checkpoint(cursor="c5", offset=0, done=False)
    # As the previous JsonLinesSink wrote them: the sidecar, and the plan beside the file.
    old = {
        "offset": len(data),
        "shards": {"all": {"checkpoint": checkpoint, "items": 10, "pages": 2}},
    }
    (tmp_path / "out.jsonl.checkpoint").write_bytes(msgspec.json.encode(old))
    (tmp_path / "out.jsonl.plan.json").write_bytes(plan().to_json())
    sink = JsonLinesSink(out)
    await sink.open()
    assert sink.upgraded is not None and "previous ingest file sink" in sink.upgraded
    assert await sink.load_plan("messages") == plan()
    assert await sink.positions("messages") == {
        "all": Stored(msgspec.json.encode(checkpoint), 10, 2)
    }
    assert out.read_bytes() == data
    assert await sink.count("messages") == 10
    await sink.close()
    saved = json.loads((tmp_path / "out.jsonl.checkpoint").read_bytes())
    assert (saved["version"], saved["offset"], saved["count"]) == (2, len(data), 10)
    assert not (tmp_path / "out.jsonl.plan.json").exists()  # its plan is in the sidecar now


async def test_the_exporters_checkpoint_starts_a_new_plan(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    data = lines_of(range(20))
    out.write_bytes(data)
    # As `postpress export` (cli/_checkpoint.ExportState, version 1) wrote it.
    state = {
        "version": 1,
        "fingerprint": "3f0c9a0011223344",
        "command": {
            "resource": "messages",
            "source": "fake:seed=3",
            "filters": {"after": "2026-05-01T00:00:00.000Z"},
            "windows": None,
            "max_items": None,
        },
        "streams": [{"cursor": "abc", "offset": 0, "done": False, "follow": None}],
        "offset": len(data),
        "items": 20,
        "pages": 1,
        "done": False,
    }
    (tmp_path / "out.jsonl.checkpoint").write_bytes(msgspec.json.encode(state))
    sink = JsonLinesSink(out)
    await sink.open()  # an export's file: no --force needed
    assert sink.upgraded is not None and "starts over under a new plan" in sink.upgraded
    assert await sink.load_plan("messages") is None
    assert await sink.positions("messages") == {}
    assert await sink.count("messages") == 20
    await sink.save_plan(plan())  # what the runner does when there is no plan
    assert out.read_bytes() == b""
    await sink.close()


async def test_a_watch_state_file_converts_to_the_follow_position(tmp_path: Path) -> None:
    out, state_path = tmp_path / "new.jsonl", tmp_path / "watch.state"
    data = lines_of(range(3))
    out.write_bytes(data + b'{"id":"written after the state"}\n')
    watch = WatchState(
        kind="messages",
        fingerprint="0123456789abcdef",
        watermark_ms=1_779_000_000_123,
        floor_ms=1_778_999_990_000,
        seen=((1_779_000_000_123, "msg_b"), (1_778_999_999_000, "msg_a")),
    )
    # As `postpress watch --out FILE --state STATE` (cli/_watching.WatchFile) wrote it.
    old = {
        "version": 1,
        "fingerprint": "aa11bb22cc33dd44",
        "command": {"resource": "messages", "source": "https://api.example", "filters": {}},
        "watch": watch,
        "offset": len(data),
        "items": 3,
    }
    state_path.write_bytes(msgspec.json.encode(old))
    sink = JsonLinesSink(out, state=state_path)
    await sink.open()
    assert sink.upgraded is not None and "watch --state" in sink.upgraded
    stored = await sink.positions("messages")
    assert list(stored) == [FOLLOW]
    assert msgspec.json.decode(stored[FOLLOW].position, type=WatchState) == watch
    assert stored[FOLLOW].items == 3
    assert out.read_bytes() == data  # the lines after the state are cut, as before
    # The watch goes on from it: its next batch continues from the stored position.
    page = READ(body(range(3, 5)))
    newer = msgspec.json.encode(msgspec.structs.replace(watch, watermark_ms=1_779_000_000_500))
    await sink.commit(batch(page, Move(FOLLOW, stored[FOLLOW].position, newer, 2, 1)))
    await sink.close()
    assert out.read_bytes() == lines_of(range(5))
    saved = json.loads(state_path.read_bytes())
    assert saved["version"] == 2 and saved["positions"][FOLLOW]["items"] == 5
    assert not (tmp_path / "new.jsonl.checkpoint").exists()  # STATE is the sidecar


async def test_a_missing_directory_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(SinkUnavailableError, match="does not exist"):
        await JsonLinesSink(tmp_path / "nowhere" / "out.jsonl").open()
    with pytest.raises(SinkUnavailableError, match="does not exist"):
        await JsonLinesSink(tmp_path / "out.jsonl", state=tmp_path / "nowhere" / "s").open()
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="a dangling symlink")
async def test_a_file_that_cannot_be_written_is_refused_naming_it(tmp_path: Path) -> None:
    """The OS's refusal (here: a link into a missing directory) is SinkUnavailableError."""
    out = tmp_path / "out.jsonl"
    out.symlink_to(tmp_path / "nowhere" / "out.jsonl")
    with pytest.raises(SinkUnavailableError, match="No such file or directory") as caught:
        await JsonLinesSink(out).open()
    assert str(out) in str(caught.value)
    checkpoint = tmp_path / "ok.jsonl.checkpoint"
    checkpoint.mkdir()
    with pytest.raises(SinkUnavailableError, match=str(checkpoint)):
        await JsonLinesSink(tmp_path / "ok.jsonl").open()


async def test_a_part_files_directory_whose_lock_cannot_be_taken_is_refused(
    tmp_path: Path,
) -> None:
    """``DIR/.lock`` the OS refuses to open is SinkUnavailableError naming it."""
    (tmp_path / "parts" / ".lock").mkdir(parents=True)
    with pytest.raises(SinkUnavailableError, match=r"parts/\.lock") as caught:
        await PartFilesSink(tmp_path / "parts").open()
    assert "directory" in str(caught.value).lower()


async def test_a_watch_file_without_its_state_is_refused(tmp_path: Path) -> None:
    out, state_path = tmp_path / "new.jsonl", tmp_path / "watch.state"
    out.write_bytes(lines_of(range(2)))
    with pytest.raises(SinkUnavailableError, match=r"no watch\.state"):
        await JsonLinesSink(out, state=state_path).open()


async def test_a_file_whose_sidecar_is_beside_it_names_it_when_another_state_is_given(
    tmp_path: Path,
) -> None:
    """``watch --out FILE`` then ``watch --out FILE --state STATE``: the file is an
    export's, its sidecar is ``FILE.checkpoint``; saying "not an export's file" misleads."""
    out = tmp_path / "new.jsonl"
    await (await written(out, count=1)).close()
    held = out.read_bytes()
    for writer in (True, False):
        with pytest.raises(SinkUnavailableError) as caught:
            await JsonLinesSink(out, state=tmp_path / "watch.state").open(writer=writer)
        message = str(caught.value)
        assert "not an export's file" not in message
        assert str(tmp_path / "new.jsonl.checkpoint") in message
        assert "--state" in message
    assert out.read_bytes() == held
    assert not (tmp_path / "watch.state").exists()


@pytest.mark.parametrize("state", ["out.jsonl", "out.jsonl.rejects.jsonl", "./out.jsonl"])
def test_a_sidecar_on_the_file_itself_is_refused_before_anything(
    tmp_path: Path, state: str
) -> None:
    """``--out FILE --state FILE``: the sidecar would be written over the lines (or
    its rejects); said as that, not as "FILE is not a readable checkpoint"."""
    from postpress_async import InvalidParameterError

    out = tmp_path / "out.jsonl"
    out.write_bytes(b"")
    with pytest.raises(InvalidParameterError, match="a file of its own") as caught:
        JsonLinesSink(out, state=tmp_path / state)
    assert caught.value.param == "state"


async def test_an_old_part_files_directory_is_converted(tmp_path: Path) -> None:
    directory = tmp_path / "parts"
    directory.mkdir()
    data = lines_of(range(4))
    (directory / "messages-all.jsonl").write_bytes(data)
    checkpoint = Checkpoint(cursor=None, offset=0, done=True)
    old = {
        "offset": len(data),
        "shards": {"all": {"checkpoint": checkpoint, "items": 4, "pages": 1}},
    }
    (directory / "messages-all.jsonl.checkpoint").write_bytes(msgspec.json.encode(old))
    (directory / "plan-messages.json").write_bytes(plan().to_json())
    sink = PartFilesSink(directory)
    await sink.open()
    assert await sink.load_plan("messages") == plan()
    assert await sink.positions("messages") == {
        "all": Stored(msgspec.json.encode(checkpoint), 4, 1)
    }
    assert await sink.count("messages") == 4
    await sink.close()


async def test_a_newer_or_unreadable_sidecar_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sidecar = tmp_path / "out.jsonl.checkpoint"
    sidecar.write_bytes(b'{"version": 3, "offset": 0}')
    with pytest.raises(SinkUnavailableError, match="version 3, written by a newer"):
        await JsonLinesSink(out).open()
    sidecar.write_bytes(b"{not json")
    with pytest.raises(SinkUnavailableError, match="is not a readable checkpoint"):
        await JsonLinesSink(out).open()


# -- part files -----------------------------------------------------------------------------


async def test_a_batch_of_several_shards_lands_whole_in_one_part(tmp_path: Path) -> None:
    directory = tmp_path / "parts"
    sink = PartFilesSink(directory)
    await sink.open()
    await sink.save_plan(plan(labels=("t0", "t1")))
    (_, p0), (_, p1), (r2, p2) = list(pages(3))
    mixed = Batch(
        "messages",
        [*p0.items, *p1.items],
        [*p0.rejects, *p1.rejects],
        [move("t0", None, 1, p0), move("t1", None, 1, p1)],
    )
    await sink.commit(mixed)
    await sink.commit(mixed)  # a replay: both positions are already where it leaves them
    await sink.commit(batch(p2, move("t1", 1, 2, p2)))  # t1 goes on in its own part
    assert await sink.positions("messages") == {
        "t0": Stored(position(1), 250, 1),
        "t1": Stored(position(2), 500, 2),
    }
    with pytest.raises(ShardConflictError, match="'t1'"):
        await sink.commit(mixed)  # t1 moved on since: not a replay, a stale writer
    with pytest.raises(ShardConflictError, match="'t1'"):
        await sink.commit(batch(p2, move("t0", 1, 2, p2), move("t1", 1, 3, p2)))
    assert await sink.count("messages") == 748
    await sink.close()
    t0 = committed(directory / "messages-t0.jsonl", directory / "messages-t0.jsonl.checkpoint")
    t1 = committed(directory / "messages-t1.jsonl", directory / "messages-t1.jsonl.checkpoint")
    assert t0[1] == lines_of(range(500))[: len(t0[1])] and t0[1].count(b"\n") == 499
    assert t1[1] == b"".join(dataset().message_json(i) + b"\n" for i in r2 if i in readable())
    assert [reject_item(line) for line in t0[2].splitlines()] == [dataset().message_json(499)]
    assert [reject_item(line) for line in t1[2].splitlines()] == [dataset().message_json(500)]
    # Reopened, every position is where it was (the highest seq of each name wins).
    again = PartFilesSink(directory)
    await again.open()
    assert (await again.positions("messages"))["t1"] == Stored(position(2), 500, 2)
    await again.commit(batch(p2, move("t1", 2, 3, p2)))
    await again.close()


async def test_workers_write_their_own_parts_beside_the_coordinator(tmp_path: Path) -> None:
    directory = tmp_path / "parts"
    coordinator = PartFilesSink(directory)
    await coordinator.open()
    await coordinator.save_plan(plan(labels=("t0", "t1")))
    one, two = PartFilesSink(coordinator.url), PartFilesSink(coordinator.url)
    await one.open(writer=False)
    await two.open(writer=False)
    (_, p0), (_, p1) = list(pages(2))
    await one.commit(batch(p0, move("t0", None, 1, p0)))
    await two.commit(batch(p1, move("t1", None, 1, p1)))
    with pytest.raises(ShardConflictError, match="being written by another worker"):
        await two.commit(batch(p0, move("t0", 1, 2, p0)))  # t0's part is one's
    assert set(await coordinator.positions("messages")) == {"t0", "t1"}
    assert await coordinator.count("messages") == 499
    await one.close()
    await two.close()
    await coordinator.save_plan(plan(labels=("all",)))  # a forced new export: parts removed
    assert sorted(p.name for p in directory.iterdir()) == [".lock", "plan-messages.json"]
    await coordinator.close()


@pytest.mark.parametrize("edit", ["cut", "a line duplicated"])
async def test_a_part_changed_by_hand_is_refused_to_its_readers_as_a_file_is(
    tmp_path: Path, edit: str
) -> None:
    """verify reads parts it does not write: a part shorter than its sidecar, or edited
    inside, is named (as one file is), not counted as rows the API has and it lacks."""
    directory = tmp_path / "parts"
    writer = PartFilesSink(directory)
    await writer.open()
    await writer.save_plan(plan(labels=("t0", "t1")))
    (_, p0), (_, p1) = list(pages(2))
    await writer.commit(batch(p0, move("t0", None, 1, p0)))
    await writer.commit(batch(p1, move("t1", None, 1, p1)))
    await writer.close()
    part = directory / "messages-t0.jsonl"
    data = part.read_bytes()
    if edit == "cut":
        part.write_bytes(data[:-10])
    else:
        lines = data.splitlines(keepends=True)
        part.write_bytes(b"".join([lines[0], *lines]))
    reader = PartFilesSink(directory)
    await reader.open(writer=False)
    for read in (reader.count, reader.positions, reader.span):
        with pytest.raises(SinkUnavailableError, match=r"messages-t0\.jsonl"):
            await read("messages")
    await reader.close()
    forced = PartFilesSink(directory, force=True)  # a forced run starts over: not refused
    await forced.open()
    assert await forced.count("messages") == 499
    await forced.close()


async def test_a_part_that_cannot_be_created_is_a_sink_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk when a batch opens a new part (its sidecar is written first): the
    typed error naming the part, as a failed append is, not a bare OSError."""
    import errno

    sink = PartFilesSink(tmp_path / "parts")
    await sink.open()
    await sink.save_plan(plan(labels=("t0",)))
    (_, page) = next(pages(1))

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with monkeypatch.context() as patched:
        patched.setattr(_lines, "write_atomic", full)
        with pytest.raises(SinkFailedError, match=r"messages-t0\.jsonl: the disk is full"):
            await sink.commit(batch(page, move("t0", None, 1, page)))
    await sink.commit(batch(page, move("t0", None, 1, page)))  # space again: it goes on
    assert await sink.count("messages") == len(page.items)
    await sink.close()


async def test_save_plan_refuses_a_part_someone_is_writing(tmp_path: Path) -> None:
    directory = tmp_path / "parts"
    coordinator = PartFilesSink(directory)
    await coordinator.open()
    worker = PartFilesSink(directory)
    await worker.open(writer=False)
    (_, p0) = next(pages(1))
    await worker.commit(batch(p0, move("t0", None, 1, p0)))
    with pytest.raises(OutputLockedError):
        await coordinator.save_plan(plan())
    assert (directory / "messages-t0.jsonl").stat().st_size > 0
    await worker.close()
    await coordinator.close()


async def test_part_names_are_checked(tmp_path: Path) -> None:
    sink = PartFilesSink(tmp_path / "parts")
    await sink.open()
    page = READ(b'{"items":[{"id":"a"}]}')
    with pytest.raises(ValueError, match="cannot name a part file"):
        await sink.commit(batch(page, Move("../escape", None, position(1), 1, 1)))
    with pytest.raises(ValueError, match="moves none"):
        await sink.commit(batch(page))
    await sink.close()
