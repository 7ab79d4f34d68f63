"""``postpress export``: stream everything matching to JSON lines, resumable, exactly once.

One consumer takes pages in the order the stream (or the merged windows) hands them
out, encodes each page's lines with one encoder call and queues them, with the
stream's checkpoint right after that page, for a single writer (see :mod:`._checkpoint`
for the invariant). The walk goes on fetching and decoding while the writer, in a
worker thread, appends, fsyncs and replaces the checkpoint. When the writer falls
behind, it takes every page queued and commits them as one group: one fsync, one
checkpoint for the last of them, never ahead of the data on disk. The queue holds at
most ``QUEUE_PAGES`` pages (their encoded lines), so memory stays bounded and a slow
disk slows the walk down instead of piling up pages. At the end, or when the stream
fails (an error at its page), every queued page is committed before the run ends;
cancellation (Ctrl-C) only waits for the group being written, so the checkpoint on
disk always matches the output.

With ``--windows N`` the range ``(after, before)`` is cut exactly as
``messages.list_windows`` cuts it (``split_window``), one ``messages.list`` stream a
window, merged with ``merge``; building the streams here rather than calling
``list_windows`` is what lets each window resume from its own checkpoint and a
finished window be skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

import anyio

from postpress_async import (
    AsyncPostpress,
    Checkpoint,
    ListStream,
    encode_json_lines,
    format_datetime,
    lock_output,
    merge,
    split_window,
)

from ._checkpoint import (
    ExportCommand,
    ExportState,
    Output,
    PageLines,
    checkpoint_path,
    load_state,
)
from ._errors import UsageError
from ._progress import Progress, format_rate, format_retries

__all__ = ["ExportOptions", "ExportResult", "run_export"]

ExportResource = Literal["messages", "chats"]

#: Pages encoded and waiting for the writer, at most (their JSON lines, ~250 KB each at
#: 250 messages a page): enough to let the writer group them, bounded so a slow disk
#: holds the walk back rather than filling memory.
QUEUE_PAGES = 16


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExportOptions:
    """An export, as the command line asked for it."""

    resource: ExportResource
    out: Path
    #: Keyword arguments of ``messages.list`` / ``chats.list`` (the filters only).
    filters: dict[str, Any]
    #: Where the data comes from: the base URL, or the fake's identity.
    source: str
    windows: int | None = None
    limit: int | None = None
    prefetch: int = 4
    max_items: int | None = None
    resume: bool = False
    force: bool = False
    #: ``None``: a progress line if stderr is a terminal; ``True``: always; ``False``:
    #: quiet (no progress line, no summary).
    progress: bool | None = None
    #: Print the closing summary on stderr (unless quiet).
    summary: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExportResult:
    """What an export did."""

    items: int
    pages: int
    #: Items already in the file when this run started (a resume).
    resumed_items: int
    elapsed: float
    complete: bool


def _normalise(filters: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if key in {"after", "before"}:
            value = format_datetime(value)
        elif key == "account_id" and not isinstance(value, str):
            value = list(value)
        out[key] = value
    return out


Windows = list[tuple[datetime, datetime]]


def _windows(options: ExportOptions) -> Windows | None:
    """The ``(after, before)`` of each window with ``--windows``, else ``None``."""
    if options.windows is None:
        return None
    after, before = options.filters.get("after"), options.filters.get("before")
    if after is None or before is None:
        raise UsageError(
            "--windows needs both --after and --before: the time range to cut into windows"
        )
    if options.max_items is not None:
        raise UsageError("--max-items cannot be combined with --windows")
    return split_window(after, before, options.windows)


def _command(options: ExportOptions, windows: Windows | None = None) -> ExportCommand:
    """What the checkpoint records (and a resume must ask for again)."""
    filters = dict(options.filters)
    if windows is not None:
        del filters["after"], filters["before"]
    return ExportCommand(
        resource=options.resource,
        source=options.source,
        filters=_normalise(filters),
        windows=None
        if windows is None
        else [(format_datetime(low), format_datetime(high)) for low, high in windows],
        max_items=options.max_items,
    )


def _stream(
    client: AsyncPostpress,
    options: ExportOptions,
    window: tuple[datetime, datetime] | None,
    resume: Checkpoint,
    max_items: int | None,
) -> ListStream[Any]:
    common: dict[str, Any] = {
        "limit": options.limit,
        "prefetch": options.prefetch,
        "resume": resume,
        "max_items": max_items,
    }
    if options.resource == "chats":
        return client.chats.list(**options.filters, **common)
    filters = dict(options.filters)
    if window is not None:
        filters["after"], filters["before"] = window
    return client.messages.list(**filters, **common)


def _prepare(options: ExportOptions, command: ExportCommand, err: TextIO) -> ExportState:
    """The state to start from, after refusing what would lose or mix up data."""
    out = options.out
    fresh = ExportState(
        fingerprint=command.fingerprint(),
        command=command,
        streams=[Checkpoint() for _ in range(len(command.windows or ()) or 1)],
    )
    size = out.stat().st_size if out.exists() else 0
    if not options.resume:
        if size and not options.force:
            raise UsageError(
                f"{out} already exists and is not empty: add --resume to continue an "
                "interrupted export, or --force to overwrite it"
            )
        return fresh
    saved = load_state(checkpoint_path(out))
    if saved is None:
        if size:
            raise UsageError(
                f"nothing to resume: {out} has no checkpoint ({checkpoint_path(out).name}); "
                "the export finished, or the file was not written by postpress export. "
                "Use --force to start over"
            )
        print(f"nothing to resume in {out}; starting a new export", file=err)
        return fresh
    if saved.fingerprint != fresh.fingerprint:
        changes = "; ".join(saved.command.differences(command)) or "options changed"
        raise UsageError(
            f"{out} was exported with other options ({changes}): resume with the same "
            "options, or use --force to start over"
        )
    if size < saved.offset:
        raise UsageError(
            f"{out} is shorter than its checkpoint records ({size} < {saved.offset} bytes), "
            "so it changed since; use --force to start over"
        )
    return saved


async def run_export(client: AsyncPostpress, options: ExportOptions, err: TextIO) -> ExportResult:
    """Run an export to ``options.out``; see the module docstring."""
    windows = _windows(options)
    command = _command(options, windows)
    # The SDK validates every filter when a stream is built, before any request or file.
    _stream(client, options, windows[0] if windows else None, Checkpoint(), None)
    # One writer per output, from before the file is looked at until the run ends
    # (the kernel drops the lock if the process dies): a second export, even with
    # --force, is refused here with OutputLockedError and touches nothing.
    with lock_output(options.out):
        return await _locked(client, options, windows, command, err)


async def _locked(
    client: AsyncPostpress,
    options: ExportOptions,
    windows: Windows | None,
    command: ExportCommand,
    err: TextIO,
) -> ExportResult:
    state = _prepare(options, command, err)
    resumed_items = state.items
    progress = Progress(
        err,
        noun=options.resource,
        enabled=bool(options.progress) if options.progress is not None else _tty(err),
        retries=lambda: client.stats().total_retries,
    )
    progress.start(items=state.items, pages=state.pages)
    output = Output(options.out, state)
    if state.done:
        output.finish()
        if options.progress is not False:
            print(
                f"{options.out} is already complete ({state.items:,} {options.resource})", file=err
            )
        return ExportResult(
            items=state.items,
            pages=state.pages,
            resumed_items=state.items,
            elapsed=0.0,
            complete=True,
        )
    try:
        async with _ticking(progress):
            await _consume(client, options, windows, output, progress)
        output.finish()
    finally:
        output.close()
        progress.close()
    result = ExportResult(
        items=state.items,
        pages=state.pages,
        resumed_items=resumed_items,
        elapsed=progress.elapsed,
        complete=True,
    )
    if options.summary and options.progress is not False:
        print(_summary(options, result, client), file=err)
    return result


async def _consume(
    client: AsyncPostpress,
    options: ExportOptions,
    windows: Windows | None,
    output: Output,
    progress: Progress,
) -> None:
    if windows is None:
        remaining = None
        if options.max_items is not None:
            remaining = max(0, options.max_items - output.state.items)
        stream = _stream(client, options, None, output.state.streams[0], remaining)
        async with stream, _committing(output, progress) as commit:
            async for page in stream.pages():
                await commit(page.items, 0, stream.checkpoint)
        return
    pending = [index for index, saved in enumerate(output.state.streams) if not saved.done]
    if not pending:
        return
    streams = [
        _stream(client, options, windows[index], output.state.streams[index], None)
        for index in pending
    ]
    async with merge(*streams) as merged, _committing(output, progress) as commit:
        async for batch in merged.pages():
            await commit(batch.page.items, pending[batch.source], batch.checkpoint)


@contextlib.asynccontextmanager
async def _committing(
    output: Output, progress: Progress
) -> AsyncIterator[Callable[[Sequence[Any], int, Checkpoint], Awaitable[None]]]:
    """Yield ``commit(items, stream, checkpoint)``: encode a page, queue it for the writer
    (see the module docstring).

    The writer is a task this block owns and reaps (as :func:`_ticking`'s ticker): it
    takes every page queued, commits them in a worker thread as one group, and updates
    the progress line. ``commit`` waits while ``QUEUE_PAGES`` pages are queued and
    raises the writer's error if the writer failed. Leaving the block normally or with
    an error commits what is queued first (the writer's error is raised if there is no
    other); leaving it cancelled (also while draining) lets only the group being written
    finish. The writer task is never cancelled itself: a cancelled task stops waiting for
    its worker thread, which would go on writing after the export has returned.
    """
    state = output.state
    send, receive = anyio.create_memory_object_stream[PageLines](QUEUE_PAGES)
    stop = False

    async def write() -> None:
        with receive:
            async for page in receive:
                group = [page]
                with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
                    while True:
                        group.append(receive.receive_nowait())
                await anyio.to_thread.run_sync(output.commit_group, group)
                progress.items, progress.pages = state.items, state.pages
                progress.update()
                if stop:
                    return

    writer = asyncio.get_running_loop().create_task(write())

    async def commit(items: Sequence[Any], stream: int, checkpoint: Checkpoint) -> None:
        page = PageLines(encode_json_lines(items), len(items), stream, checkpoint)
        try:
            await send.send(page)
        except anyio.BrokenResourceError:
            await asyncio.wait([writer])
            writer.result()  # it stopped on an error: raise that one
            raise

    cancelled = anyio.get_cancelled_exc_class()
    failed = True
    try:
        yield commit
        failed = False
    except cancelled:
        stop = True
        raise
    finally:
        send.close()
        try:
            await asyncio.wait([writer])
        except cancelled:  # Ctrl-C while draining: stop after the group in hand
            stop = True
            with anyio.CancelScope(shield=True):
                await asyncio.wait([writer])
            raise
        if failed:
            writer.exception()  # seen; the body's own error is the one raised
        else:
            writer.result()


@contextlib.asynccontextmanager
async def _ticking(progress: Progress) -> AsyncIterator[None]:
    """Redraw the progress line while the body runs (also while it waits out a retry).

    The ticker is a task this block owns and reaps, not a task group: a task group
    would wrap the export's own error in an ExceptionGroup.
    """
    if not progress.enabled:
        yield
        return

    async def tick() -> None:
        while True:
            await anyio.sleep(0.25)
            progress.update()

    task = asyncio.get_running_loop().create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait([task])


def _tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _summary(options: ExportOptions, result: ExportResult, client: AsyncPostpress) -> str:
    stats = client.stats()
    fetched = result.items - result.resumed_items
    resumed = f" ({result.resumed_items:,} from before the resume)" if result.resumed_items else ""
    return (
        f"exported {result.items:,} {options.resource}{resumed} in {result.pages:,} pages "
        f"to {options.out} in {result.elapsed:.1f} s ({format_rate(fetched, result.elapsed)}); "
        f"{stats.requests:,} requests, retries: {format_retries(stats.retries)}"
    )
