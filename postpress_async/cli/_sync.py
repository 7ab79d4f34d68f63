"""What ``export``, ``watch`` and ``verify`` share: the store, the client, the engine, the lines.

Each of them runs :mod:`postpress_async.ingest` against one store (a sink): the
command line only turns options into its arguments. The store is opened (its URL
checked, ``--to m.db`` refused with the URL it meant) before the client connects, so
a store that cannot serve is a usage error (exit 2) before any request.

Imported only when one of those commands runs: ``postpress --help`` never loads the
ingest package.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

import anyio

from postpress_async import AsyncPostpress, OutputLockedError, PollPolicy
from postpress_async.ingest import ClientConfig, Engine, LocalEngine, open_sink

from ._errors import UsageError
from ._progress import Line, is_terminal

if TYPE_CHECKING:
    from postpress_async._filters import ResourceName
    from postpress_async.ingest import Sink

__all__ = [
    "client_config",
    "engine_of",
    "is_one_file",
    "kept_if_used",
    "open_store",
    "option_note",
    "policy_of",
    "print_notes",
    "progress_line",
    "store_of",
    "ticking",
    "upgraded",
]


def store_of(args: argparse.Namespace) -> str:
    """The store ``--to URL`` or ``--out FILE|DIR/`` names (one of them, and only one)."""
    to: str | None = getattr(args, "to", None)
    out: str | None = getattr(args, "out", None)
    if to and out:
        raise UsageError("give --to URL or --out FILE|DIR/, not both")
    target = to or out
    if not target:
        raise UsageError(
            "say where the rows go: --to sqlite:///FILE.db (sqlite:////ABSOLUTE/PATH.db), "
            "--to postgresql://USER@HOST/DB, --to duckdb:///FILE.duckdb, --out FILE.jsonl "
            "or --out DIR/"
        )
    if target == "-":
        raise UsageError(
            "--out - : a store is not stdout (an export or watch into a store resumes from "
            "its file and sidecar): give --out FILE.jsonl, or print JSON lines to stdout "
            "with `postpress messages list` or `postpress watch messages`"
        )
    return target


def open_store(target: str, *, state: str | None = None, force: bool = False) -> Sink:
    """The sink ``target`` names, not opened yet; a bad URL raises SinkUnavailableError.

    ``force``: a file store's file that is not an export's is overwritten instead of
    refused. A JSON lines file is built again here for what only the command line says:
    ``state`` (its sidecar kept elsewhere: ``watch --out FILE --state STATE``).
    """
    from postpress_async.ingest.sinks.files import JsonLinesSink

    sink = open_sink(target, force=force)
    if not isinstance(sink, JsonLinesSink):
        if state is not None:
            raise UsageError(
                "--state goes with --out FILE (one JSON lines file); a store keeps its own"
            )
        return sink
    if state is None:
        return sink
    return JsonLinesSink(sink.path, state=state, force=force)


@contextlib.asynccontextmanager
async def kept_if_used(
    args: argparse.Namespace, sink: Sink, endpoint: ResourceName
) -> AsyncIterator[None]:
    """Run the block; if it fails (an error, Ctrl-C) and the store is a file or directory
    this run created that holds nothing (no row, reject or position), remove what the
    run created, so that no empty file looks like an export. A store that existed before
    the run is never touched, nor one another writer holds. Sets ``args.store_removed``.
    """
    made = _made_by_run(sink)
    if made is None:
        yield
        return
    try:
        yield
    except OutputLockedError:
        raise
    except BaseException:
        with anyio.CancelScope(shield=True):
            again = open_store(store_of(args), state=getattr(args, "state", None))
            if await _holds_nothing(again, endpoint):
                for path in made():
                    with contextlib.suppress(OSError):
                        shutil.rmtree(path) if path.is_dir() else path.unlink()
                args.store_removed = True
        raise


def _made_by_run(sink: Sink) -> Callable[[], list[Path]] | None:
    """What the run will have created next to the store (its file or directory, the
    sidecar, a lock, a journal: the names that start with the store's), or ``None`` when
    the store exists already or is not a file (a PostgreSQL database)."""
    main = getattr(sink, "directory", None) or getattr(sink, "path", None)
    state = getattr(sink, "state_path", None)
    others = [state] if isinstance(state, Path) else []
    if not isinstance(main, Path) or any(os.path.lexists(p) for p in [main, *others]):
        return None
    folder, name = main.parent, main.name

    def near() -> set[str]:
        try:
            names = os.listdir(folder)
        except OSError:
            return set()
        return {n for n in names if n == name or n.startswith((name + ".", name + "-"))}

    before = near()

    def made() -> list[Path]:
        paths = [folder / n for n in sorted(near() - before)]
        return paths + [p for p in others if os.path.lexists(p) and p not in paths]

    return made


async def _holds_nothing(sink: Sink, endpoint: ResourceName) -> bool:
    """Whether ``sink`` (opened again, with its lock) has no row, reject or position of
    ``endpoint``; ``False`` when it cannot tell."""
    try:
        await sink.open(writer=True)
        try:
            return (
                not await sink.positions(endpoint)
                and await sink.count(endpoint) == 0
                and await sink.rejects(endpoint) == 0
            )
        finally:
            await sink.close()
    except Exception:
        return False


def is_one_file(sink: Sink) -> bool:
    """Whether the store is one JSON lines file (a plain stream suits it best)."""
    from postpress_async.ingest.sinks.files import JsonLinesSink

    return isinstance(sink, JsonLinesSink)


def upgraded(sink: Sink) -> str | None:
    """What opening the store converted from an older state file (a sentence), if anything."""
    from postpress_async.ingest.sinks.files import JsonLinesSink

    return sink.upgraded if isinstance(sink, JsonLinesSink) else None


#: ingest's keywords in its notes -> the options a command line user types.
_NOTE_OPTIONS: Final = (
    (re.compile(r"^shards=(\d+) ignored"), r"--shards \1 ignored"),
    (re.compile(r"^by='(\w+)' ignored"), r"--by \1 ignored"),
    (re.compile(r"cut by='(\w+)'"), r"cut by \1"),
    (re.compile(r"^since ignored"), "--since ignored"),
)
#: Where a note says ``force=True`` starts over, in a command that has no ``--force``.
_FORCE_ADVICE: Final = re.compile(r" \([^()]*force=True[^()]*\)|; force=True[^;()]*")


def option_note(note: str, *, force: bool) -> str:
    """One of ingest's notes as the command line says it: ``--shards 3``, not ``shards=3``;
    ``force=True`` is ``--force`` where the command has it (``force``), else left out."""
    for pattern, replacement in _NOTE_OPTIONS:
        note = pattern.sub(replacement, note)
    if force:
        return note.replace("force=True", "--force")
    return _FORCE_ADVICE.sub("", note)


def print_notes(err: TextIO, sink: Sink, notes: list[str], *, force: bool) -> None:
    """``note: ...`` on ``err`` for each of the run's notes (see :func:`option_note`), after
    what opening the store converted (if anything)."""
    converted = upgraded(sink)
    notes = [option_note(note, force=force) for note in notes]
    for note in [*([converted] if converted else []), *notes]:
        print(f"note: {note}", file=err)


def client_config(client: AsyncPostpress, args: argparse.Namespace) -> ClientConfig:
    """The client's configuration as ingest's workers rebuild it, with the command's paging."""
    config = ClientConfig.from_client(
        client, limit=getattr(args, "limit", None), prefetch=getattr(args, "prefetch", 2)
    )
    in_flight: int | None = getattr(args, "max_in_flight", None)
    if in_flight is not None and getattr(args, "engine", None) != "dask":  # Dask: engine_of
        import msgspec

        config = msgspec.structs.replace(config, max_in_flight=in_flight)
    return config


def engine_of(args: argparse.Namespace) -> Engine:
    """``--engine local`` (the default) or ``--engine dask --workers N | --scheduler ADDR``."""
    engine: str | None = getattr(args, "engine", None)
    workers: int | None = getattr(args, "workers", None)
    scheduler: str | None = getattr(args, "scheduler", None)
    if engine != "dask":
        if workers or scheduler:
            raise UsageError("--workers and --scheduler need --engine dask")
        return LocalEngine()
    if workers and scheduler:
        raise UsageError("--workers starts a local Dask cluster; --scheduler uses an existing one")
    from postpress_async.ingest.engines.dask import DaskEngine

    # The budget of the whole cluster: every worker's requests share it.
    in_flight: int | None = getattr(args, "max_in_flight", None)
    return DaskEngine(workers=workers or None, scheduler=scheduler, max_in_flight=in_flight)


def policy_of(args: argparse.Namespace) -> PollPolicy:
    """``--poll-interval``, ``--max-interval``, ``--overlap`` (each optional) as a poll policy."""
    defaults = PollPolicy()
    every = defaults.interval if args.poll_interval is None else args.poll_interval
    longest = defaults.max_interval if args.max_interval is None else args.max_interval
    return PollPolicy(
        interval=every,
        max_interval=max(longest, every),
        overlap=defaults.overlap if args.overlap is None else args.overlap,
    )


def progress_line(args: argparse.Namespace, err: TextIO, text: Callable[[], str]) -> Line:
    """The progress line: on a terminal, or always with ``--progress`` (elsewhere a whole
    line now and then); never with ``--quiet``."""
    shown: bool | None = getattr(args, "progress", None)
    terminal = is_terminal(err)
    return Line(err, text, enabled=terminal if shown is None else shown, terminal=terminal)


@contextlib.asynccontextmanager
async def ticking(line: Line) -> AsyncIterator[None]:
    """Redraw ``line`` while the body runs (also while it waits out a retry), then close it.

    The ticker is a task this block owns and reaps, not a task group: a task group
    would wrap the command's own error in an ExceptionGroup.
    """
    if not line.enabled:
        yield
        return

    async def tick() -> None:
        while True:
            await anyio.sleep(0.25)
            line.update()

    task = asyncio.get_running_loop().create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait([task])
        line.close()
