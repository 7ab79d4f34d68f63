"""``postpress watch messages|chats``: new items as they arrive, to stdout or into a store.

To stdout it prints JSON lines (at-least-once with ``--state``: a batch is printed
before its position is saved). Into a store (``--to URL``, or ``--out FILE --state
STATE``) it is the follow of :func:`postpress_async.ingest.ingest` without the
backfill: each batch is committed with the position after it, exactly once.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from postpress_async import AsyncPostpress, InvalidParameterError, WatchState, WatchStream
from postpress_async._durable import write_atomic
from postpress_async._filters import ResourceName
from postpress_async._params import MAX_LIMIT
from postpress_async.cli._errors import UsageError, reason_of
from postpress_async.cli._parser import CommandTable, filter_options, filters_of, time_option
from postpress_async.cli._values import positive
from postpress_async.cli.commands.export import (
    fake_live_options,
    follow_options,
    live_feed,
    store_options,
)

if TYPE_CHECKING:
    from postpress_async.cli._context import Context

__all__ = ["StdoutState", "load_stdout_state", "register", "run", "since_of", "stopped_hint"]

_DESCRIPTION = """\
{what}

To stdout (no --out, no --to) each is printed as one JSON object a line, and delivery
is at-least-once: with --state, a crash (kill -9) between printing a batch and saving
STATE prints that batch again on restart. An item that cannot be read is passed with a
warning line on stderr (each time a poll lists it; a store keeps it as a reject).

Into a store it is exactly once: --out FILE --state STATE appends each batch to FILE
(fsynced) before STATE (the position in FILE and the watch's position) is replaced
atomically, and a restart with the same command cuts FILE back to what STATE vouches
for; --to URL (sqlite:///m.db, postgresql://..., duckdb:///m.duckdb) commits each
batch with its position in one transaction. Ctrl-C stops cleanly (exit 130) with the
position saved. "now" (the default --since) is the server's newest {resource}, never
this machine's clock.
"""

#: The first line of each description: what is handed out, and when.
_WHAT = {
    "messages": "Poll for new messages and hand each out once, oldest first.",
    "chats": "Poll for chats whose last activity moved (a message arrived) and hand out\n"
    "each move once, oldest first: a chat comes again when its activity moves again.",
}


#: What each watch's ``--help`` shows as examples.
_EXAMPLES = {
    "messages": (
        "postpress watch messages --account-id acc_01HX --poll-interval 1   # JSON lines",
        "postpress watch messages --out new.jsonl --state new.state   # exactly once; rerun",
        "postpress watch messages --to sqlite:///m.db   # from the newest message, no backfill",
        "postpress watch messages --fake --max-items 5   # no account needed",
    ),
    "chats": (
        "postpress watch chats --account-type LINKEDIN",
        "postpress watch chats --to sqlite:///chats.db --since 2026-05-01T00:00:00Z",
    ),
}


def register(table: CommandTable) -> None:
    """``watch messages`` and ``watch chats``."""
    table.group("watch", "follow new messages or chat activity as it arrives")
    for resource in ("messages", "chats"):
        parser = table.add(
            f"watch {resource}",
            run,
            f"print new {resource} as they arrive, or follow them into a store"
            if resource == "messages"
            else "print chats as their activity moves, or follow them into a store",
            stopped=stopped_hint,
            examples=_EXAMPLES[resource],
        )
        parser.description = _DESCRIPTION.format(resource=resource, what=_WHAT[resource])
        parser.set_defaults(resource=resource)
        filter_options(parser, resource, watched=True)
        _watch_options(parser)
        parser.set_defaults(format="json")


def _watch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="start after this moment (ISO 8601 with Z or an offset, or 'now': the server's "
        "newest item, the default); ignored when a position is already saved",
    )
    follow_options(parser, flag=False)
    parser.add_argument("--limit", type=int, metavar="N", help=f"page size, 1..{MAX_LIMIT}")
    parser.add_argument(
        "--max-items", type=positive, metavar="N", help="stop after N items (to stdout)"
    )
    store_options(parser, out_help="append to this JSON lines file, exactly once")
    parser.add_argument(
        "--state",
        metavar="STATE",
        help="where the position is saved and resumed from (with --out: the file's sidecar, "
        "default FILE.checkpoint)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=positive,
        metavar="N",
        help="requests in flight at once, at most (default: the client's 16)",
    )
    fake_live_options(parser)


def since_of(text: str | None) -> Any:
    """``--since``: None (not given), ``"now"`` in any case, or an ISO datetime with a zone."""
    if text is None or text.strip().lower() == "now":
        return None if text is None else "now"
    try:
        return time_option("since", text)
    except InvalidParameterError as exc:
        raise UsageError(
            f"--since: {reason_of(exc)}, or give 'now' (the server's newest item)"
        ) from None


def _check(args: argparse.Namespace) -> None:
    if args.to is not None and args.out is not None:
        raise UsageError("give --to URL or --out FILE, not both")
    if args.to is not None and args.state is not None:
        raise UsageError("--state goes with --out FILE or stdout; a store keeps its own position")
    if (args.to is not None or args.out is not None) and args.max_items is not None:
        raise UsageError(
            "--max-items works to stdout; a watch into a store commits whole batches and "
            "runs until Ctrl-C (exit 130, the position committed)"
        )


async def run(args: argparse.Namespace, ctx: Context) -> None:
    """Watch until stopped (or ``--max-items`` to stdout)."""
    _check(args)
    resource: ResourceName = args.resource
    filters = {k: v for k, v in filters_of(args, resource, watched=True).items() if v is not None}
    since = since_of(args.since)

    def call(client: AsyncPostpress) -> object:
        lister = client.messages if resource == "messages" else client.chats
        return lister.watch(**filters, since=since or "now", limit=args.limit)

    await ctx.check(call)
    if args.fake:
        args.fake_live = live_feed(args)
    if args.to is None and args.out is None:
        await _to_stdout(args, ctx, resource, filters, since)
    else:
        await _to_store(args, ctx, resource, filters, since)


async def _to_store(
    args: argparse.Namespace,
    ctx: Context,
    resource: ResourceName,
    filters: dict[str, Any],
    since: Any,
) -> None:
    from postpress_async.cli import _sync
    from postpress_async.ingest import ingest
    from postpress_async.ingest._run import IngestProgress

    target = _sync.store_of(args)
    sink = _sync.open_store(target, state=args.state)  # exit 2 before anything starts
    progress = IngestProgress(noun=resource)
    try:
        async with _sync.kept_if_used(args, sink, resource), ctx.connect() as (client, _):
            config = _sync.client_config(client, args)
            async with _sync.ticking(_sync.progress_line(args, ctx.stderr, progress.text)):
                await ingest(
                    config,
                    resource,
                    sink,
                    follow=True,
                    backfill=False,
                    since=since,
                    policy=_sync.policy_of(args),
                    progress=progress,
                    **filters,
                )
    finally:  # a watch ends by Ctrl-C: its notes are on the progress, not in a result
        _sync.print_notes(ctx.stderr, sink, progress.notes, force=False)


# -- to stdout: at-least-once, the position in a small file of the CLI's own ------------------

VERSION = 1


class StdoutState(msgspec.Struct, kw_only=True):
    """The ``--state`` file of a watch to stdout: what it follows and where it stands."""

    version: int = VERSION
    #: A hash of the resource and the filters: a resume must ask for the same.
    fingerprint: str
    command: dict[str, Any]
    watch: WatchState
    #: Bytes of a file (0: stdout), kept for the format's readers.
    offset: int = 0
    items: int = 0


def _fingerprint(command: dict[str, Any]) -> str:
    return hashlib.sha256(msgspec.json.encode(command, order="sorted")).hexdigest()[:16]


def load_stdout_state(path: Path) -> StdoutState | None:
    """The saved state, ``None`` if there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:  # a directory, no permission: nothing to resume from here
        raise UsageError(f"{path}: cannot read the watch state ({exc.strerror or exc})") from None
    try:
        saved = msgspec.json.decode(data, type=StdoutState)
    except msgspec.DecodeError as exc:
        raise UsageError(f"{path} is not a readable watch state ({exc})") from None
    if saved.version != VERSION:
        raise UsageError(f"{path} has watch state version {saved.version}; expected {VERSION}")
    return saved


async def _to_stdout(
    args: argparse.Namespace,
    ctx: Context,
    resource: ResourceName,
    filters: dict[str, Any],
    since: Any,
) -> None:
    from postpress_async.cli import _sync

    path = None if args.state is None else Path(args.state)
    saved = None if path is None else load_stdout_state(path)
    async with ctx.connect() as (connected, source):
        # An item that cannot be read has no place in time: raising would stop the watch
        # at the same poll on every re-run. It is passed, with a warning line on stderr.
        client = connected.with_options(on_unreadable="skip")
        command = {"resource": resource, "source": source, "filters": filters}
        if saved is not None:
            if saved.fingerprint != _fingerprint(command):
                raise UsageError(
                    f"{path} was saved by another watch ({saved.command}); give the same "
                    "resource, filters and source, or another --state"
                )
            if since is not None:
                print(f"note: resuming from {path}; --since is ignored", file=ctx.stderr)
        lister = client.messages if resource == "messages" else client.chats
        stream: WatchStream[Any] = lister.watch(
            **filters,
            since=saved.watch if saved is not None else (since or "now"),
            policy=_sync.policy_of(args),
            limit=args.limit,
            max_items=args.max_items,
        )
        state = saved or StdoutState(
            fingerprint=_fingerprint(command), command=command, watch=stream.state
        )
        if path is not None:
            _first_save(path, state)
        writer = ctx.writer(resource)
        try:
            with ctx.skipped_items_said():
                async with stream:
                    async for batch in stream.batches():
                        # Printed (and flushed) before the state is saved: at-least-once.
                        writer.write(batch)
                        state.items += len(batch)
                        state.watch = stream.state
                        if path is not None:
                            write_atomic(path, msgspec.json.encode(state))
        finally:
            writer.finish()


def _first_save(path: Path, state: StdoutState) -> None:
    """Save the starting position before anything is printed: a STATE the OS refuses is
    a usage error (exit 2), not a watch that prints and then cannot say where it was."""
    try:
        write_atomic(path, msgspec.json.encode(state))
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the watch state ({exc.strerror or exc})") from None


def stopped_hint(args: argparse.Namespace, argv: Sequence[str], what: str) -> bool:
    """After a stop: where the position is, and that the same command continues."""
    where = args.state or args.to or args.out
    if where is None or getattr(args, "store_removed", False):  # nothing saved to resume
        return False
    from postpress_async.ingest.sinks import shown_url

    print(
        f"{what}; the position is saved in {shown_url(where)}. Run the same command to continue.",
        file=sys.stderr,
    )
    return True
