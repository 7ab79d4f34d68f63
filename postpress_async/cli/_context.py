"""What a running command gets besides its arguments: the client, checks, and output."""

from __future__ import annotations

import argparse
import contextlib
import errno
import inspect
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, BinaryIO, TextIO

from postpress_async import AsyncPostpress, RetryPolicy, Timeout
from postpress_async.transports import Request, Response

from ._output import STDOUT, Resource, Writer

__all__ = ["Context"]


class _Checked(Exception):
    """Raised by the offline transport: the call passed validation and would now send."""


class _Offline:
    """A transport that sends nothing: the client it serves exists only to validate."""

    async def send(self, request: Request, *, timeout: Timeout) -> Response:
        raise _Checked

    async def aclose(self) -> None:
        pass


class Context:
    """The running command's view of the world: connect, check a call, write rows."""

    def __init__(
        self,
        args: argparse.Namespace,
        argv: Sequence[str],
        *,
        stdout: BinaryIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.args = args
        self.argv: list[str] = list(argv)
        self._stdout = stdout
        self.stderr: TextIO = sys.stderr if stderr is None else stderr

    @property
    def stdout(self) -> BinaryIO:
        """Where rows go; looked up when a command writes, so one that never does (an
        export) also runs with descriptor 1 closed (``>&-``)."""
        if self._stdout is None:
            if sys.stdout is None:
                raise OSError(errno.EBADF, "it is closed", STDOUT)
            self._stdout = sys.stdout.buffer
        return self._stdout

    def _retry(self) -> RetryPolicy | None:
        retries: int | None = self.args.retries
        return None if retries is None else RetryPolicy(attempts=retries + 1)

    async def check(self, call: Callable[[AsyncPostpress], Any]) -> None:
        """Run the SDK's own validation of ``call`` with no key, connection or server.

        ``call`` builds the request the command will make (a stream, or a coroutine
        such as ``client.messages.retrieve(id)``) on a client that cannot send, so a
        bad option fails as the SDK's :class:`InvalidParameterError` before anything
        starts.
        """
        client = AsyncPostpress(
            api_key="validation-only",
            base_url="https://validation.invalid",
            timeout=self.args.timeout,
            retry=self._retry(),
            transport=_Offline(),
            chat_time=self.args.chat_time,
        )
        result = call(client)
        if inspect.iscoroutine(result):  # a stream validates as it is built
            with contextlib.suppress(_Checked):
                await result

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[tuple[AsyncPostpress, str]]:
        """The client, and the source an export records (the base URL or the fake's identity)."""
        args = self.args
        if not args.fake:
            async with AsyncPostpress(
                api_key=args.api_key,
                base_url=args.base_url,
                timeout=args.timeout,
                retry=self._retry(),
                allow_insecure_http=args.allow_insecure_http,
                chat_time=args.chat_time,
            ) as client:
                yield client, client.base_url
            return
        # The fake (aiohttp.web) is imported only with --fake.
        from postpress_async.testing import fake_identity, fake_server

        server = fake_server(
            seed=args.fake_seed,
            messages=args.fake_messages,
            latency=args.fake_latency,
            fault_rate=args.fake_fault_rate,
            live=getattr(args, "fake_live", None),  # a command that follows the present
            bad_records=args.fake_bad_records,
            clock_skew=args.fake_clock_skew,
            chat_time=args.fake_chat_time,
            cursors=args.fake_cursors,
        )
        async with server:
            # An explicit --api-key is sent as given, so a wrong key shows the API's answer.
            key = server.api_key if args.api_key is None else args.api_key
            async with AsyncPostpress(
                api_key=key,
                base_url=server.url,
                timeout=args.timeout,
                retry=self._retry(),
                chat_time=args.chat_time,
            ) as client:
                yield client, fake_identity(server.dataset)

    @contextlib.contextmanager
    def skipped_items_said(self) -> Iterator[None]:
        """Each item the SDK skips as unreadable (``on_unreadable="skip"``) as one
        ``warning:`` line on stderr while the block runs (``--debug`` logs them already)."""
        if self.args.debug:
            yield
            return
        import logging  # only a command that skips pays for it

        stream = self.stderr

        class SkippedItems(logging.Handler):
            """The SDK's record of a skipped item (it names the item's JSON path)."""

            def emit(self, record: logging.LogRecord) -> None:
                if getattr(record, "postpress_path", None) is not None:
                    print(f"warning: {record.getMessage()}", file=stream, flush=True)

        handler = SkippedItems(logging.WARNING)
        logger = logging.getLogger("postpress_async")
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)

    def writer(self, resource: Resource) -> Writer:
        """Rows of ``resource`` on stdout, in the ``--format`` asked for."""
        stream = self.stdout
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        return Writer(stream, self.args.format, resource, encoding)
