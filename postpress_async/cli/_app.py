"""Running a parsed command: the client (or fake server), the command, and the exit code.

Errors end as one line on stderr (``error: ...``) and an exit code from
:class:`ExitCode`; a traceback only with ``--debug``. Ctrl-C (and SIGTERM) cancel the
running command like any other cancellation, so streams, prefetch tasks and the fake
server all shut down through their ``async with`` blocks before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from postpress_async import parse_datetime
from postpress_async._client import AsyncPostpress
from postpress_async._config import RetryPolicy, Timeout
from postpress_async._pagination import ListStream
from postpress_async._params import AccountTypeParam, encode_id, path_segment
from postpress_async._transport import Request, Response

from ._checkpoint import checkpoint_path, load_state
from ._errors import ExitCode, UsageError, describe
from ._export import ExportOptions, run_export
from ._fake import fake_identity, fake_server
from ._output import Resource, Writer
from ._parser import build_parser

__all__ = ["main"]


class _Run:
    """What one invocation needs to know beyond its arguments."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.signal: int | None = None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``postpress`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a bad command line
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    if args.debug:
        _log_debug()
    run = _Run(argv)
    try:
        return asyncio.run(_amain(args, run))
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C before the handler was installed, a second Ctrl-C, or a signal that
        # landed after the command's last await (the task then ends cancelled).
        _interrupted(args, run)
        return ExitCode.INTERRUPTED if run.signal is None else 128 + run.signal
    except BrokenPipeError:  # `postpress ... | head`: the reader has all it wants
        _silence_stdout()
        return ExitCode.OK
    except Exception as exc:
        code, message = describe(exc)
        if args.debug:
            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr)
        if code != ExitCode.USAGE:
            _resume_hint(args, run, "the export stopped")
        return code


async def _amain(args: argparse.Namespace, run: _Run) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    installed: list[int] = []

    def stop(signum: int) -> None:
        run.signal = signum
        task.cancel()
        # A second Ctrl-C (or SIGTERM) gets the default behaviour: stop now.
        for installed_signum in installed:
            loop.remove_signal_handler(installed_signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, non-main thread
            loop.add_signal_handler(signum, stop, signum)
            installed.append(signum)
    try:
        await _dispatch(args)
        return ExitCode.OK
    except asyncio.CancelledError:
        if run.signal is None:
            raise
        _interrupted(args, run)
        return 128 + run.signal
    finally:
        for installed_signum in installed:
            loop.remove_signal_handler(installed_signum)


def _interrupted(args: argparse.Namespace, run: _Run) -> None:
    print("interrupted", file=sys.stderr)
    _resume_hint(args, run, "interrupted")


def _resume_hint(args: argparse.Namespace, run: _Run, what: str) -> None:
    if args.command != "export":
        return
    out = Path(args.out)
    try:
        state = load_state(checkpoint_path(out))
    except (UsageError, OSError):  # no hint is better than a traceback after the error
        return
    if state is None or state.done:
        return
    argv = [arg for arg in run.argv if arg not in {"--force", "--resume"}]
    command = shlex.join(["postpress", *argv, "--resume"])
    print(
        f"{what} with {state.items:,} {args.resource} saved in {out}; "
        f"the checkpoint is kept. Continue with:\n  {command}",
        file=sys.stderr,
    )


def _log_debug() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("postpress_async")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _silence_stdout() -> None:
    # Python would report the broken pipe again when it flushes stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


@contextlib.asynccontextmanager
async def _connect(args: argparse.Namespace) -> AsyncIterator[tuple[AsyncPostpress, str]]:
    """The client for the command, and the source an export records (URL or fake identity)."""
    retry = None if args.retries is None else RetryPolicy(attempts=args.retries + 1)
    if not args.fake:
        async with AsyncPostpress(
            api_key=args.api_key, base_url=args.base_url, timeout=args.timeout, retry=retry
        ) as client:
            yield client, client.base_url
        return
    if args.base_url is not None:
        raise UsageError("--base-url and --fake cannot be combined: --fake runs its own server")
    server = fake_server(
        seed=args.fake_seed,
        messages=args.fake_messages,
        latency=args.fake_latency,
        fault_rate=args.fake_fault_rate,
    )
    async with server:
        # An explicit --api-key is sent as given, so a wrong key shows the API's answer.
        key = server.api_key if args.api_key is None else args.api_key
        async with AsyncPostpress(
            api_key=key, base_url=server.url, timeout=args.timeout, retry=retry
        ) as client:
            yield client, fake_identity(server.dataset)


def _time(name: str, text: str | None) -> datetime | None:
    """A time from the command line: like the SDK's, but a zone is required."""
    return None if text is None else parse_datetime(name, text, naive="refuse")


def _account_ids(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",")]


def _chat_filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "account_id": _account_ids(args.account_id),
        "account_type": cast("AccountTypeParam | None", args.account_type),
        "unread": args.unread,
        "after": _time("after", args.after),
        "before": _time("before", args.before),
    }


def _message_filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "account_id": args.account_id,
        "sender_id": args.sender_id,
        "after": _time("after", args.after),
        "before": _time("before", args.before),
    }


class _Offline:
    """A transport that sends nothing: the client it serves exists only to validate."""

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        raise RuntimeError("the validation client sends no request")

    async def aclose(self) -> None:
        pass


def _list(client: AsyncPostpress, resource: Resource, **kwargs: Any) -> ListStream[Any]:
    """``client.<resource>.list(**kwargs)``."""
    lists: dict[Resource, Callable[..., ListStream[Any]]] = {
        "accounts": client.accounts.list,
        "chats": client.chats.list,
        "messages": client.messages.list,
    }
    return lists[resource](**kwargs)


def _validate(args: argparse.Namespace, resource: Resource, filters: dict[str, Any]) -> None:
    """Run the SDK's own parameter checks before any key lookup, connection or file change."""
    client = AsyncPostpress(
        api_key="validation-only",
        base_url="https://validation.invalid",
        timeout=args.timeout,
        transport=_Offline(),
    )
    handler: str = args.handler
    if handler == "chats.get":
        path_segment("chat_id", args.id)
        if args.account_id is not None:
            encode_id("account_id", args.account_id)
        return
    if handler == "messages.get":
        path_segment("message_id", args.id)
        return
    paging = {"limit": args.limit, "prefetch": args.prefetch, "max_items": args.max_items}
    _list(client, resource, **filters, **paging)


def _writer(args: argparse.Namespace, resource: Resource) -> Writer:
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    return Writer(sys.stdout.buffer, args.format, resource, encoding)


async def _dispatch(args: argparse.Namespace) -> None:
    handler: str = args.handler
    if handler == "demo":
        from ._demo import run_demo

        await run_demo(args)
        return
    # Validate what can be checked without a connection before starting anything.
    resource = cast("Resource", args.resource if handler == "export" else handler.split(".")[0])
    filters: dict[str, Any] = {}
    if handler in {"chats.list", "messages.list", "export"}:
        filters = _chat_filters(args) if resource == "chats" else _message_filters(args)
    _validate(args, resource, filters)
    async with _connect(args) as (client, source):
        if handler == "export":
            options = ExportOptions(
                resource=args.resource,
                out=Path(args.out),
                filters=filters,
                source=source,
                windows=getattr(args, "windows", None),
                limit=args.limit,
                prefetch=args.prefetch,
                max_items=args.max_items,
                resume=args.resume,
                force=args.force,
                progress=args.progress,
            )
            await run_export(client, options, sys.stderr)
            return
        writer = _writer(args, resource)
        if handler == "chats.get":
            writer.write([await client.chats.retrieve(args.id, account_id=args.account_id)])
            return
        if handler == "messages.get":
            writer.write([await client.messages.retrieve(args.id)])
            return
        stream = _list(
            client,
            resource,
            **filters,
            limit=args.limit,
            cursor=args.cursor,
            prefetch=args.prefetch,
            max_items=args.max_items,
        )
        async with stream:
            async for page in stream.pages():
                writer.write(page.items)
        writer.finish()
