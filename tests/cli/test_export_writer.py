"""The export's writer: the walk's pages queued, committed in groups, never ahead of the data."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from postpress_async import APIStatusError, AsyncPostpress, Checkpoint, RetryPolicy, encode_json
from postpress_async.cli import _checkpoint
from postpress_async.cli._checkpoint import (
    ExportCommand,
    ExportState,
    Output,
    PageLines,
    checkpoint_path,
    load_state,
)
from postpress_async.cli._export import ExportOptions, run_export
from postpress_async.testing import Dataset, FakePostpress

#: Unknown attachment types included: their lines take the encoder's slow path.
QUIRKY = Dataset(seed=3, messages=400, quirks=True)
LIMIT = 50


def _options(out: Path, **changes: Any) -> ExportOptions:
    values: dict[str, Any] = {
        "resource": "messages",
        "out": out,
        "filters": {},
        "source": "test",
        "limit": LIMIT,
        "progress": False,
        **changes,
    }
    return ExportOptions(**values)


def _client(server: FakePostpress) -> AsyncPostpress:
    return AsyncPostpress(
        api_key=server.api_key, base_url=server.url, retry=RetryPolicy(attempts=1)
    )


def _state() -> ExportState:
    command = ExportCommand(resource="messages", source="s", filters={})
    return ExportState(fingerprint=command.fingerprint(), command=command, streams=[Checkpoint()])


async def test_the_file_is_every_message_encoded_on_a_line_of_its_own(tmp_path: Path) -> None:
    """Byte for byte what `encode_json` gives each message of a walk, unknown types included."""
    out = tmp_path / "messages.jsonl"
    async with FakePostpress(dataset=QUIRKY) as server, _client(server) as client:
        result = await run_export(client, _options(out), io.StringIO())
        walked = [message async for message in client.messages.list(limit=LIMIT)]
    assert result.items == len(walked) == 400
    assert out.read_bytes() == b"".join(encode_json(message) + b"\n" for message in walked)
    assert b'"type":"location"' in out.read_bytes(), "the unknown type, as the server sent it"


async def test_pages_before_a_failing_page_are_committed_before_the_error(
    tmp_path: Path,
) -> None:
    """An API error at page 4 surfaces after pages 1-3 are on disk and in the checkpoint."""
    out = tmp_path / "messages.jsonl"
    async with FakePostpress(dataset=QUIRKY) as server, _client(server) as client:
        server.inject("messages.list", [None, None, None, "provider_error"])
        with pytest.raises(APIStatusError):
            await run_export(client, _options(out), io.StringIO())
    saved = load_state(checkpoint_path(out))
    assert saved is not None
    assert (saved.items, saved.pages) == (3 * LIMIT, 3)
    assert out.stat().st_size == saved.offset
    assert out.read_bytes().count(b"\n") == 3 * LIMIT


async def test_cancelling_waits_for_the_group_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled (Ctrl-C) while a group is being written: it finishes, checkpoint included."""
    out = tmp_path / "messages.jsonl"
    scope = anyio.CancelScope()
    commit_group = Output.commit_group

    def cancelled_while_committing(self: Output, pages: Sequence[PageLines]) -> None:
        if self.state.pages:  # the second group: cancel the export, then write it
            anyio.from_thread.run_sync(scope.cancel)
        commit_group(self, pages)

    monkeypatch.setattr(Output, "commit_group", cancelled_while_committing)
    async with FakePostpress(dataset=QUIRKY) as server, _client(server) as client:
        with scope:
            await run_export(client, _options(out), io.StringIO())
        saved = load_state(checkpoint_path(out))  # at once: nothing may still be writing
    assert scope.cancelled_caught
    assert saved is not None
    assert saved.pages >= 2, "the group written when the cancellation came is in it"
    assert not saved.done
    assert out.stat().st_size == saved.offset
    assert out.read_bytes().count(b"\n") == saved.items


async def test_a_failed_write_stops_the_export_with_that_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk error in the writer ends the export with it; the checkpoint still matches."""
    out = tmp_path / "messages.jsonl"
    commit_group = Output.commit_group
    groups: list[int] = []

    def failing(self: Output, pages: Sequence[PageLines]) -> None:
        groups.append(len(pages))
        if len(groups) == 2:
            raise OSError(28, "No space left on device")
        commit_group(self, pages)

    monkeypatch.setattr(Output, "commit_group", failing)
    async with FakePostpress(dataset=QUIRKY) as server, _client(server) as client:
        with pytest.raises(OSError, match="No space left"):
            await run_export(client, _options(out), io.StringIO())
    saved = load_state(checkpoint_path(out))
    assert saved is not None
    assert saved.pages == groups[0]
    assert out.stat().st_size == saved.offset


def test_a_group_is_appended_whole_then_checkpointed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three pages: one fsync of the output, one checkpoint naming each stream's last page."""
    out = tmp_path / "x.jsonl"
    command = ExportCommand(resource="messages", source="s", filters={})
    state = ExportState(
        fingerprint=command.fingerprint(), command=command, streams=[Checkpoint(), Checkpoint()]
    )
    output = Output(out, state)
    saves: list[int] = []
    save = output.save

    def counted() -> None:
        saves.append(output.state.pages)
        save()

    monkeypatch.setattr(output, "save", counted)
    output.commit_group(
        [
            PageLines(b'{"id":"a"}\n', 1, 0, Checkpoint(cursor="a1")),
            PageLines(b'{"id":"b"}\n{"id":"c"}\n', 2, 1, Checkpoint(cursor="b1")),
            PageLines(b'{"id":"d"}\n', 1, 0, Checkpoint(cursor="a2")),
        ]
    )
    assert saves == [3]
    saved = load_state(checkpoint_path(out))
    assert saved is not None
    assert (saved.offset, saved.items, saved.pages) == (out.stat().st_size, 4, 3)
    assert saved.streams == [Checkpoint(cursor="a2"), Checkpoint(cursor="b1")]
    assert out.read_bytes() == b'{"id":"a"}\n{"id":"b"}\n{"id":"c"}\n{"id":"d"}\n'
    output.close()


def test_short_writes_are_continued_where_they_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `writev` that writes only part of the buffers is called again for the rest."""
    calls: list[int] = []

    def stingy(fd: int, buffers: Sequence[memoryview]) -> int:
        calls.append(len(buffers))
        return os.write(fd, bytes(buffers[0][:3]))  # at most 3 bytes a call

    monkeypatch.setattr(_checkpoint, "_writev", stingy)
    out = tmp_path / "x.jsonl"
    output = Output(out, _state())
    output.commit_group(
        [PageLines(b"0123456\n", 1, 0, Checkpoint()), PageLines(b"ab\n", 1, 0, Checkpoint())]
    )
    output.close()
    assert out.read_bytes() == b"0123456\nab\n"
    assert len(calls) == 4  # 3 + 3 + 2 bytes of the first buffer, then the second whole
