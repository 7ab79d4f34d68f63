"""``postpress watch``: follow a watch stream to stdout, or to a file exactly once.

With ``--out FILE --state STATE`` each poll's new items are appended to ``FILE``
(write, fsync) and only then ``STATE`` is replaced atomically with the new byte offset
and the stream's :class:`~postpress_async.WatchState` — the export's discipline and its
writer (:class:`._checkpoint.AppendOnly`). A restart truncates ``FILE`` to the offset
``STATE`` vouches for and continues the watch from ``STATE``: lines written after the
last state (a ``kill -9`` between the two steps) are cut and handed out again, so the
file holds every item exactly once.

To stdout the same order gives at-least-once: a batch is written and flushed before the
state is saved, and a crash in between prints that batch again on restart.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import msgspec

from postpress_async import (
    AsyncPostpress,
    PollPolicy,
    WatchState,
    WatchStream,
    encode_json_lines,
    write_atomic,
)

from ._checkpoint import AppendOnly
from ._errors import UsageError
from ._output import Writer

__all__ = ["WatchFile", "WatchOptions", "load_watch_file", "run_watch"]

VERSION = 1


class WatchFile(msgspec.Struct, kw_only=True):
    """The ``--state`` file: what the watch follows and where it stands."""

    version: int = VERSION
    #: A hash of the resource, the source and the filters: a resume must ask for the same.
    fingerprint: str
    command: dict[str, Any]
    watch: WatchState
    #: Bytes of ``--out`` that are complete (0 without ``--out``).
    offset: int = 0
    items: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WatchOptions:
    """What ``postpress watch`` was asked for."""

    resource: str
    filters: dict[str, Any]
    source: str
    since: Any
    policy: PollPolicy
    limit: int | None
    out: Path | None
    state: Path | None
    max_items: int | None

    def command(self) -> dict[str, Any]:
        """The part of the options a resume must repeat."""
        return {"resource": self.resource, "source": self.source, "filters": self.filters}

    def fingerprint(self) -> str:
        """A stable hash of :meth:`command`."""
        raw = msgspec.json.encode(self.command(), order="sorted")
        return hashlib.sha256(raw).hexdigest()[:16]


def load_watch_file(path: Path) -> WatchFile | None:
    """The saved state, ``None`` if there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        saved = msgspec.json.decode(data, type=WatchFile)
    except msgspec.DecodeError as exc:
        raise UsageError(f"{path} is not a readable watch state ({exc})") from None
    if saved.version != VERSION:
        raise UsageError(f"{path} has watch state version {saved.version}; expected {VERSION}")
    return saved


def _start(options: WatchOptions, err: TextIO) -> WatchFile | None:
    if options.state is None:
        return None
    saved = load_watch_file(options.state)
    if saved is None:
        if options.out is not None and options.out.exists() and options.out.stat().st_size:
            raise UsageError(
                f"{options.out} exists but {options.state} does not: nothing vouches for its "
                "lines; give a new --out, or remove the file"
            )
        return None
    if saved.fingerprint != options.fingerprint():
        raise UsageError(
            f"{options.state} was saved by another watch ({saved.command}); "
            "give the same resource, filters and source, or another --state"
        )
    if options.since is not None:
        print(f"note: resuming from {options.state}; --since is ignored", file=err)
    return saved


async def run_watch(
    client: AsyncPostpress,
    options: WatchOptions,
    stdout: Callable[[], Writer],
    err: TextIO,
) -> int:
    """Follow ``options.resource`` until stopped (or ``max_items``); how many items were written."""
    saved = _start(options, err)
    resource = client.messages if options.resource == "messages" else client.chats
    since: Any = saved.watch if saved is not None else (options.since or "now")
    stream: WatchStream[Any] = resource.watch(
        **options.filters,
        since=since,
        policy=options.policy,
        limit=options.limit,
        max_items=options.max_items,
    )
    state = saved or WatchFile(
        fingerprint=options.fingerprint(), command=options.command(), watch=stream.state
    )
    output = None if options.out is None else AppendOnly(options.out, state.offset)
    writer = stdout() if output is None else None
    written = 0
    try:
        if options.state is not None:
            _save(options.state, state)
        async with stream:
            async for batch in stream.batches():
                data = encode_json_lines(batch)
                # A batch and the state after it are one step with no await inside (the
                # fsyncs block the loop for a moment, once a poll): Ctrl-C cancels before or
                # after it, never between, so the state on disk accounts for every line.
                if output is not None:
                    output.append(data)
                    state.offset += len(data)
                elif writer is not None:
                    writer.write(batch)
                written += len(batch)
                state.items += len(batch)
                state.watch = stream.state
                if options.state is not None:
                    _save(options.state, state)
    finally:
        if output is not None:
            output.close()
        if writer is not None:
            writer.finish()
    return written


def _save(path: Path, state: WatchFile) -> None:
    write_atomic(path, msgspec.json.encode(state))
