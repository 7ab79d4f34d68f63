"""The command line, as argparse parsers.

Global options (``--api-key``, ``--fake``, ...) are accepted before or after the
command: each leaf parser repeats them with ``SUPPRESS`` defaults, so a value given
after the command overrides the root's default and an absent one leaves it alone.

Option values are checked here only for their shape (an int, a float); what values
the API accepts (``--limit`` 1..250, datetimes, account types) is the SDK's call, so
its own validation runs and its :class:`InvalidParameterError` names the option.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from postpress_async._version import __version__

from ._errors import ExitCode
from ._output import FORMATS

__all__ = ["build_parser"]

EPILOG = """\
exit codes: 0 ok, 1 API error, 2 bad usage or input, 3 no or rejected API key,
4 network failure, 130 interrupted (Ctrl-C).
"""


class _Parser(argparse.ArgumentParser):
    """Reports a bad command line as one line on stderr, with where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            ExitCode.USAGE,
            f"{self.prog}: error: {message} (see: {self.prog} --help)\n",
        )


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


# argparse shows a type's __name__ in "invalid <name> value" messages.
_count.__name__ = "count"
_positive.__name__ = "positive int"
_seconds.__name__ = "seconds"
_rate.__name__ = "rate"


def _global_options(parser: argparse.ArgumentParser, *, leaf: bool) -> None:
    def default(value: object) -> object:
        return argparse.SUPPRESS if leaf else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--api-key", default=default(None), help="API key (default: $POSTPRESS_API_KEY)"
    )
    group.add_argument(
        "--base-url",
        default=default(None),
        help="API base URL (default: $POSTPRESS_BASE_URL, else https://api.postpress.ai/api/v1)",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=default(None),
        metavar="SECONDS",
        help="timeout of one HTTP attempt (default: 120)",
    )
    group.add_argument(
        "--retries",
        type=_count,
        default=default(None),
        metavar="N",
        help="retries of a failed request (default: 4; 0 turns retrying off)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="log requests and retries, and show tracebacks",
    )
    fake = parser.add_argument_group("fake server (no account needed)")
    fake.add_argument(
        "--fake",
        action="store_true",
        default=default(False),
        help="run against an embedded fake postpress server with synthetic data",
    )
    fake.add_argument(
        "--fake-messages",
        type=_count,
        default=default(1000),
        metavar="N",
        help="messages in the fake dataset (default: 1000)",
    )
    fake.add_argument(
        "--fake-seed", type=int, default=default(1), metavar="N", help="dataset seed (default: 1)"
    )
    fake.add_argument(
        "--fake-latency",
        type=_seconds,
        default=default(0.0),
        metavar="SECONDS",
        help="delay the fake adds to every request",
    )
    fake.add_argument(
        "--fake-fault-rate",
        type=_rate,
        default=default(0.0),
        metavar="RATE",
        help="share of requests failed with a retryable error (503/504/500/429)",
    )


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="json: one JSON object a line (default); table: fixed-width columns",
    )


def _paging_options(parser: argparse.ArgumentParser, *, export: bool = False) -> None:
    parser.add_argument("--limit", type=int, metavar="N", help="page size, 1..250 (default: 100)")
    if not export:
        parser.add_argument("--cursor", help="start from this cursor (from a previous page)")
    parser.add_argument(
        "--max-items", type=_count, metavar="N", help="stop after N items (default: all)"
    )
    parser.add_argument(
        "--prefetch",
        type=_count,
        default=4 if export else 2,
        metavar="N",
        help=f"pages fetched ahead (default: {4 if export else 2})",
    )


def _time_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--after",
        metavar="TIME",
        help=f"only {what} strictly after TIME (ISO 8601 with a zone, e.g. 2026-05-01T00:00:00Z)",
    )
    parser.add_argument(
        "--before", metavar="TIME", help=f"only {what} strictly before TIME (ISO 8601 with a zone)"
    )


def _chat_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--account-id",
        action="append",
        metavar="ID[,ID...]",
        help="only chats of these accounts (repeat, or separate with commas)",
    )
    parser.add_argument(
        "--account-type",
        metavar="TYPE",
        help="only chats of one provider: WHATSAPP, LINKEDIN, SLACK, TWITTER, MESSENGER, "
        "INSTAGRAM or TELEGRAM",
    )
    unread = parser.add_mutually_exclusive_group()
    unread.add_argument(
        "--unread", dest="unread", action="store_const", const=True, help="only unread chats"
    )
    unread.add_argument(
        "--read", dest="unread", action="store_const", const=False, help="only read chats"
    )
    _time_options(parser, "chats last active")


def _message_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account-id", metavar="ID", help="only messages of this account")
    parser.add_argument("--sender-id", metavar="ID", help="only messages from this sender")
    _time_options(parser, "messages sent")


def build_parser() -> argparse.ArgumentParser:
    """The ``postpress`` parser; each command sets ``handler`` to its name."""
    root = _Parser(
        prog="postpress",
        description="Command line for the postpress messaging API (postpress-async).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"postpress {__version__}")
    _global_options(root, leaf=False)
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def leaf(
        group: Any, name: str, handler: str, help_text: str, *extras: Callable[[Any], None]
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(
            name, help=help_text, description=help_text, epilog=EPILOG
        )
        parser.set_defaults(handler=handler)
        for extra in extras:
            extra(parser)
        _global_options(parser, leaf=True)
        return parser

    def namespace(name: str, help_text: str) -> Any:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        return parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    accounts = namespace("accounts", "accounts linked to the workspace")
    leaf(accounts, "list", "accounts.list", "list accounts", _paging_options, _format_option)

    chats = namespace("chats", "chats of the connected accounts")
    leaf(
        chats,
        "list",
        "chats.list",
        "list chats, most recent activity first",
        _chat_filters,
        _paging_options,
        _format_option,
    )
    get_chat = leaf(chats, "get", "chats.get", "retrieve one chat with its last message")
    get_chat.add_argument("id", metavar="ID", help="postpress chat id (or provider chat id)")
    get_chat.add_argument(
        "--account-id", metavar="ID", help="the account that resolves a provider chat id"
    )
    _format_option(get_chat)

    messages = namespace("messages", "messages across all chats and accounts")
    leaf(
        messages,
        "list",
        "messages.list",
        "list messages, newest first",
        _message_filters,
        _paging_options,
        _format_option,
    )
    get_message = leaf(messages, "get", "messages.get", "retrieve one message")
    get_message.add_argument("id", metavar="ID", help="postpress message id")
    _format_option(get_message)

    export = namespace(
        "export", "stream everything matching to a JSON lines file, resumable after a stop"
    )
    for name, filters in (("messages", _message_filters), ("chats", _chat_filters)):
        parser = leaf(
            export,
            name,
            "export",
            f"export {name} to a JSON lines file",
            filters,
            lambda p: _paging_options(p, export=True),
            _export_options,
        )
        parser.set_defaults(resource=name)
        if name == "messages":
            parser.add_argument(
                "--windows",
                type=_positive,
                metavar="N",
                help="fetch (--after, --before) as N time windows at once (needs both)",
            )

    demo = leaf(
        commands,
        "demo",
        "demo",
        "export a fake dataset with injected faults, and check every message arrived once",
    )
    demo.add_argument(
        "--messages", type=_positive, default=20_000, metavar="N", help="default: 20000"
    )
    demo.add_argument("--out", metavar="FILE", help="keep the export here (default: a temp file)")
    demo.add_argument(
        "--windows", type=_positive, default=4, metavar="N", help="concurrent windows (default: 4)"
    )
    demo.add_argument(
        "--fault-rate", type=_rate, default=0.03, metavar="RATE", help="default: 0.03"
    )
    demo.add_argument(
        "--latency", type=_seconds, default=0.005, metavar="SECONDS", help="default: 0.005"
    )
    return root


def _export_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="FILE", help="the JSON lines file")
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="continue an interrupted export of FILE"
    )
    again.add_argument(
        "--force", action="store_true", help="overwrite FILE and start from the beginning"
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        help="show the progress line even when stderr is not a terminal",
    )
    shown.add_argument(
        "--quiet",
        dest="progress",
        action="store_const",
        const=False,
        help="no progress line and no summary",
    )
