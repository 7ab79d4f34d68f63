"""Running a command line: parse it, run its command, and map the outcome to an exit code.

Errors end as one line on stderr (``error: ...``) and an exit code from
:class:`ExitCode`; a traceback only with ``--debug``. Ctrl-C (and SIGTERM) cancel the
running command like any other cancellation, so streams, prefetch tasks and the fake
server all shut down through their ``async with`` blocks before the process exits.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence

from postpress_async._exceptions import SinkUnavailableError

from ._argparse import nearest_option
from ._context import Context
from ._errors import ExitCode, OutputError, describe
from ._output import STDOUT
from ._parser import check_args, root_parser
from .commands import register_all

__all__ = ["build_parser", "main", "parse"]


def build_parser() -> argparse.ArgumentParser:
    """The ``postpress`` parser, with every command of :mod:`.commands` registered."""
    root, table = root_parser()
    register_all(table)
    table.finish()
    return root


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse and check a command line; a bad one exits (``SystemExit``) with code 2."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # said by the command's parser, so the help it points at lists its options
        parser = args.cli_parser
        parser.error(
            f"unrecognized arguments: {' '.join(unknown)}{nearest_option(parser, unknown)}"
        )
    return check_args(args)


class _Run:
    """What one invocation needs to know beyond its arguments."""

    def __init__(self, args: argparse.Namespace, argv: Sequence[str]) -> None:
        self.args = args
        self.argv = list(argv)
        self.signal: int | None = None
        self._said = False

    def stopped(self, what: str) -> bool:
        """Let the command say what survives an early stop (its resume hint), once.

        Whether a hint was printed.
        """
        if self._said:
            return True
        self._said = True
        if self.args.stopped is None:
            return False
        try:
            return bool(self.args.stopped(self.args, self.argv, what))
        except (OSError, ValueError):  # stderr on a full disk: the exit code says it
            return True

    def interrupted(self) -> None:
        """Say "interrupted" (with what survives, if the command says) once.

        Once however many ways the stop surfaces: a second Ctrl-C during the clean
        shutdown raises KeyboardInterrupt out of ``asyncio.run`` after (or while) the
        cancelled command said it. A command's hint starts with the word itself.
        """
        if self._said:
            return
        if not self.stopped("interrupted"):
            _say("interrupted")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``postpress`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    _text_never_fails()
    if sys.stderr is None:  # closed (``2>&-``): print(file=None) would write to stdout
        sys.stderr = _Nowhere()
    return _output_flushed(_main(argv))


def _say(line: str) -> None:
    """``line`` on stderr, if stderr can still be written: on a full disk (``2>/dev/full``)
    the exit code alone says what happened, never a traceback of the failed write."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


class _Nowhere(io.TextIOBase):
    """Stderr when it is closed: what is meant for it (an error line, a summary) goes
    nowhere, never among the rows on stdout."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def _text_never_fails() -> None:
    """Text on stdout (a verify's report, the help) shows what its encoding cannot hold
    as an escape, as stderr does, instead of failing the command: a path with a byte that
    is not UTF-8, a non-ASCII id under PYTHONIOENCODING=ascii. Rows are bytes and never
    pass here. Python's own surrogateescape (a C locale) is kept: it writes such a path
    back as the bytes it was given."""
    if getattr(sys.stdout, "errors", None) == "strict":
        sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse(argv)
    except SystemExit as exit_:  # --help, --version, or a bad command line
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    if args.debug:
        _log_debug()
    run = _Run(args, argv)
    # Imported once there is a command to run: `postpress --help` never needs an event
    # loop, and asyncio (with ssl) is a sixth of its start-up.
    import asyncio

    try:
        return asyncio.run(_amain(run))
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C before the handler was installed, a second Ctrl-C, or a signal that
        # landed after the command's last await (the task then ends cancelled).
        run.interrupted()
        return ExitCode.INTERRUPTED if run.signal is None else 128 + run.signal
    except BrokenPipeError:  # `postpress ... | head`: the reader has all it wants
        _silence_stdout()
        return ExitCode.OK
    except Exception as exc:
        if run.signal is not None and _after_interrupt(exc):
            # A second Ctrl-C while asyncio.run shuts down can leave its loop stopped
            # under a later step, which then fails ("Event loop stopped before Future
            # completed"): still the same interruption.
            run.interrupted()
            return 128 + run.signal
        code, message = describe(exc)
        if args.debug:
            with contextlib.suppress(OSError, ValueError):
                traceback.print_exc()
        _say(f"error: {message}")
        # No resume hint where the same command would fail the same way (a refused run,
        # a rejected key), for another export's store (LOCKED), for a store that could
        # not be reached (it holds nothing of this run to continue from), or after work
        # that is done (only its summary was lost).
        if code not in {ExitCode.USAGE, ExitCode.AUTH, ExitCode.LOCKED} and not isinstance(
            exc, (SinkUnavailableError, OutputError)
        ):
            run.stopped("stopped")
        return code


async def _amain(run: _Run) -> int:
    import asyncio

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
        await run.args.run(run.args, Context(run.args, run.argv))
        return ExitCode.OK
    except asyncio.CancelledError:
        if run.signal is None:
            raise
        run.interrupted()
        return 128 + run.signal
    finally:
        for installed_signum in installed:
            loop.remove_signal_handler(installed_signum)


def _after_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a KeyboardInterrupt was being handled."""
    seen: BaseException | None = exc.__context__
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__context__
    return False


def _log_debug() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("postpress_async")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _output_flushed(code: int) -> int:
    """``code``, once stdout is flushed: a write that fails now (a full disk under
    ``> out.jsonl``, ``--help`` included) is one line and exit 1, not Python's own
    "Exception ignored" and exit 120 when it flushes at exit."""
    if sys.stdout is None:  # closed (``>&-``): nothing held, nothing to say
        return code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        if code == ExitCode.OK:
            _say(f"error: cannot write {STDOUT}: {exc.strerror or exc}")
            return ExitCode.API_ERROR
    return code


def _silence_stdout() -> None:
    # Python would report the broken pipe (or the full disk) again when it flushes
    # stdout at exit: what it still holds goes nowhere instead.
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no real stdout
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
