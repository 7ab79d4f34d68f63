"""The command line, as argparse parsers built from one table of commands.

Each command module under :mod:`.commands` calls :meth:`CommandTable.add` once per
command: its words (``"messages list"``), the async function that runs it, and which
shared option sets it takes. ``add`` returns the command's parser for its own options.

The shared options (``--api-key``, ``--fake``, ...) are accepted before or after the
command; a command that does not take a set refuses its options wherever they are
given (``postpress demo --api-key K`` is an error, and ``demo --help`` does not list
them). :func:`parse` is the one place where option combinations are checked; what
values the API accepts (``--limit`` 1..250, datetimes, account types) is the SDK's
call, and each command runs the SDK's own validation before it connects.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from postpress_async import __version__
from postpress_async._filters import FILTERS, TIMED, ResourceName
from postpress_async._params import MAX_LIMIT
from postpress_async._time import parse_datetime

from ._argparse import EPILOG, Formatter, Parser, epilog, group_epilog
from ._errors import UsageError
from ._output import FORMATS
from ._values import Once, count, interval, offset, rate, retries, seconds

if TYPE_CHECKING:
    from ._context import Context

__all__ = [
    "CONNECTION",
    "FAKE",
    "CommandTable",
    "Run",
    "Stopped",
    "check_args",
    "filter_options",
    "filters_of",
    "format_option",
    "paging_options",
    "root_parser",
    "time_option",
]

#: What a command runs: an async function of the parsed arguments and the context.
Run = Callable[[argparse.Namespace, "Context"], Awaitable[None]]


@dataclasses.dataclass(frozen=True, slots=True)
class _Option:
    flags: tuple[str, ...]
    default: object
    kwargs: dict[str, Any]

    @property
    def dest(self) -> str:
        return self.flags[0].lstrip("-").replace("-", "_")


@dataclasses.dataclass(frozen=True, slots=True)
class _OptionSet:
    """Shared options, accepted before or after the commands that take them."""

    title: str
    options: tuple[_Option, ...]


def _option(*flags: str, default: object = None, **kwargs: Any) -> _Option:
    return _Option(flags, default, kwargs)


#: How to reach the API.
CONNECTION: Final = _OptionSet(
    "global options",
    (
        _option("--api-key", help="API key (default: $POSTPRESS_API_KEY)"),
        _option(
            "--base-url",
            help="API base URL (default: $POSTPRESS_BASE_URL, else https://api.postpress.ai/api/v1)",
        ),
        _option(
            "--timeout",
            type=interval,
            metavar="SECONDS",
            help="timeout of one HTTP attempt (default: 120)",
        ),
        _option(
            "--retries",
            type=retries,
            metavar="N",
            help="retries of a failed request (default: 4; 0 turns retrying off)",
        ),
        _option(
            "--allow-insecure-http",
            action="store_true",
            default=False,
            help="allow a plain http:// --base-url to a host other than this machine "
            "(the API key then travels unencrypted)",
        ),
        _option(
            "--chat-time",
            choices=("activity", "created"),
            default="activity",
            help="what GET /chats' before/after filter by, which the API docs leave "
            "contradictory: last activity (default), or a creation time the chats do not "
            "show; then a chats watch or sync lists every chat each poll",
        ),
    ),
)

#: The embedded fake server instead of the API.
FAKE: Final = _OptionSet(
    "fake server (no account needed)",
    (
        _option(
            "--fake",
            action="store_true",
            default=False,
            help="run against an embedded fake postpress server with synthetic data",
        ),
        _option(
            "--fake-messages",
            type=count,
            default=1000,
            metavar="N",
            help="messages in the fake dataset (default: 1000)",
        ),
        _option("--fake-seed", type=int, default=1, metavar="N", help="dataset seed (default: 1)"),
        _option(
            "--fake-latency",
            type=seconds,
            default=0.0,
            metavar="SECONDS",
            help="delay the fake adds to every request",
        ),
        _option(
            "--fake-fault-rate",
            type=rate,
            default=0.0,
            metavar="RATE",
            help="share of requests failed with a retryable error (503/504/500/429)",
        ),
        _option(
            "--fake-bad-records",
            action="store_true",
            default=False,
            help="serve 7 messages with the bad bytes the real API sometimes sends (lone "
            "surrogates, a NUL, a number for a timestamp or an id, null): an export keeps "
            "the unreadable ones aside as rejects",
        ),
        _option(
            "--fake-clock-skew",
            type=offset,
            default=0.0,
            metavar="S",
            help="the fake's clock runs S seconds ahead of this machine's (negative: behind); "
            "a watch or follow never reads the local clock, so it survives either",
        ),
        _option(
            "--fake-chat-time",
            choices=("activity", "created"),
            default="activity",
            help="what the fake's GET /chats before/after filter by (default: activity); "
            "with created, only --chat-time created follows chats whose activity moved",
        ),
        _option(
            "--fake-cursors",
            choices=("keyset", "offset"),
            default="keyset",
            help="what the fake's list cursors hold: the last item returned (default) or "
            'a count to skip, {"skip": N}, so a message arriving between two pages '
            "repeats an item on the next",
        ),
    ),
)

#: Taken by every command.
_ALWAYS: Final = _OptionSet(
    "global options",
    (
        _option(
            "--debug",
            action="store_true",
            default=False,
            help="log requests and retries, and show tracebacks",
        ),
    ),
)

_SHARED: Final = (CONNECTION, FAKE, _ALWAYS)


def _add_shared(
    parser: argparse.ArgumentParser, sets: Sequence[_OptionSet], *, hidden: bool = False
) -> None:
    """Add shared options with ``SUPPRESS`` defaults: present in the result only if given.

    ``hidden`` ones are parsed (so :func:`parse` can say they do nothing here) but not
    listed in ``--help``.
    """
    groups: dict[str, Any] = {}
    for option_set in sets:
        group = groups.get(option_set.title)
        if group is None:
            group = groups[option_set.title] = parser.add_argument_group(option_set.title)
        for option in option_set.options:
            if hidden and any(flag in parser._option_string_actions for flag in option.flags):
                continue  # the command has an option of that name itself (demo's --fake-seed)
            kwargs = {**option.kwargs, "help": argparse.SUPPRESS} if hidden else option.kwargs
            group.add_argument(*option.flags, default=argparse.SUPPRESS, **kwargs)


#: Called with the arguments, the command line and what happened ("interrupted",
#: "stopped") when a command stops early, after the error line: prints a resume hint,
#: one line that starts with what happened, and says whether it printed one (after
#: Ctrl-C, a hint is the only line; without one, "interrupted" is).
Stopped = Callable[[argparse.Namespace, Sequence[str], str], bool]


class CommandTable:
    """The registry the command modules add their commands to (see the module docstring)."""

    def __init__(self, root: argparse.ArgumentParser) -> None:
        self._commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
        self._groups: dict[str, Any] = {}
        #: Each group's parser, and the examples of each command in it (for its --help).
        self._group_parsers: dict[str, argparse.ArgumentParser] = {}
        self._group_examples: dict[str, list[Sequence[str]]] = {}
        self._leaves: list[tuple[argparse.ArgumentParser, tuple[_OptionSet, ...]]] = []

    def group(self, name: str, help_text: str) -> None:
        """Declare a command group (``postpress chats ...``) with its help line."""
        if name in self._groups:
            return
        parser = self._commands.add_parser(
            name, help=help_text, description=help_text, formatter_class=Formatter
        )
        self._group_parsers[name] = parser
        self._group_examples[name] = []
        self._groups[name] = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def add(
        self,
        words: str,
        run: Run,
        help_text: str,
        *,
        takes: Sequence[_OptionSet] = (CONNECTION, FAKE),
        stopped: Stopped | None = None,
        examples: Sequence[str] = (),
    ) -> argparse.ArgumentParser:
        """Register the command ``words`` (``"demo"``, ``"chats get"``); return its parser.

        ``takes`` names the shared option sets the command uses (``--debug`` is always
        taken); ``stopped`` prints a hint when the command stops early; ``examples``
        are whole command lines ``--help`` shows as written (a test parses each). Add
        the command's own options to the returned parser.
        """
        *group, name = words.split()
        into = self._groups[group[0]] if group else self._commands
        if group:
            self._group_examples[group[0]].append(examples)
        parser: argparse.ArgumentParser = into.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=epilog(examples),
            formatter_class=Formatter,
        )
        sets = (*takes, _ALWAYS)
        parser.set_defaults(
            run=run,
            stopped=stopped,
            cli_words=words,
            cli_parser=parser,
            cli_takes=frozenset(option.dest for s in sets for option in s.options),
        )
        self._leaves.append((parser, sets))
        return parser

    def finish(self) -> None:
        """Add the shared options to every command, after its own (so ``--help`` lists those first)."""
        for parser, sets in self._leaves:
            _add_shared(parser, sets)
            _add_shared(parser, [s for s in _SHARED if s not in sets], hidden=True)
        for name, parser in self._group_parsers.items():
            parser.epilog = group_epilog(self._group_examples[name])


def root_parser() -> tuple[argparse.ArgumentParser, CommandTable]:
    """The ``postpress`` parser with its shared options, and the table commands register in.

    Call :meth:`CommandTable.finish` once every command is registered
    (``cli/_app.build_parser`` does).
    """
    root = Parser(
        prog="postpress",
        description="Command line for the postpress messaging API (postpress-async).",
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    root.add_argument("--version", action="version", version=f"postpress {__version__}")
    _add_shared(root, _SHARED)
    return root, CommandTable(root)


def check_args(args: argparse.Namespace) -> argparse.Namespace:
    """Check a parsed command line; a bad one exits (``SystemExit``) with code 2.

    Shared options are present only if given (their parsers default to ``SUPPRESS``):
    a given one the command does not take is refused, then the defaults of the rest
    are filled in. Combinations that cannot do what they say are refused here too,
    before anything starts.
    """
    parser: argparse.ArgumentParser = args.cli_parser
    given = set(vars(args))
    for option_set in _SHARED:
        for option in option_set.options:
            if option.dest not in args.cli_takes:
                if option.dest not in given:
                    continue
                own = parser._option_string_actions.get(option.flags[0])
                if own is None or own.dest == option.dest:
                    parser.error(f"{option.flags[0]} does nothing for `postpress {args.cli_words}`")
                # Given before a command that has an option of that name itself
                # (``postpress --fake-seed 3 demo``): it is that option, unless given again.
                value = getattr(args, option.dest)
                delattr(args, option.dest)
                if getattr(args, own.dest) == own.default:
                    setattr(args, own.dest, value)
            elif option.dest not in given:
                setattr(args, option.dest, option.default)
    if "fake" in args.cli_takes and not args.fake:
        for option in FAKE.options[1:]:
            if option.dest in given:
                parser.error(f"{option.flags[0]} does nothing without --fake")
        shared = {option.dest for option in FAKE.options}
        for action in parser._actions:  # a command's own --fake-* (default None: given or not)
            flag = action.option_strings[0] if action.option_strings else ""
            commands_own = flag.startswith("--fake-") and action.dest not in shared
            if commands_own and getattr(args, action.dest, None) is not None:
                parser.error(f"{flag} does nothing without --fake")
    if "fake" in args.cli_takes and args.fake and getattr(args, "base_url", None) is not None:
        parser.error("--base-url and --fake cannot be combined: --fake runs its own server")
    if "fake" in args.cli_takes and args.fake and args.fake_bad_records:
        from postpress_async.testing._dataset._bad import MIN_MESSAGES  # only with --fake

        if args.fake_messages < MIN_MESSAGES:
            parser.error(
                f"--fake-bad-records needs --fake-messages {MIN_MESSAGES} or more, "
                f"got {args.fake_messages}"
            )
    return args


def format_option(parser: argparse.ArgumentParser) -> None:
    """``--format json|table``."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="json: one JSON object a line (default); table: fixed-width columns",
    )


def paging_options(
    parser: argparse.ArgumentParser, *, cursor: bool = True, prefetch: int = 2
) -> None:
    """``--limit``, ``--cursor`` (unless ``cursor=False``), ``--max-items``, ``--prefetch``."""
    parser.add_argument(
        "--limit", type=int, metavar="N", help=f"page size, 1..{MAX_LIMIT} (default: 100)"
    )
    if cursor:
        parser.add_argument("--cursor", help="start from this cursor (from a previous page)")
    parser.add_argument(
        "--max-items", type=count, metavar="N", help="stop after N items (default: all)"
    )
    parser.add_argument(
        "--prefetch",
        type=count,
        default=prefetch,
        metavar="N",
        help=f"pages fetched ahead (default: {prefetch})",
    )


def filter_options(
    parser: argparse.ArgumentParser,
    resource: ResourceName,
    *,
    watched: bool = False,
    times: bool = True,
) -> None:
    """The options of ``resource``'s filters (``_filters.FILTERS``), and ``--after``/``--before``.

    ``watched``: only the filters a watch takes, and no time bounds (a watch has ``--since``);
    ``times=False``: no time bounds (``verify`` compares the span the store holds).
    """
    for spec in FILTERS[resource]:
        if watched and not spec.watched:
            continue
        flag = "--" + spec.name.replace("_", "-")
        if spec.flag:
            group = parser.add_mutually_exclusive_group()
            group.add_argument(
                flag,
                dest=spec.name,
                action="store_const",
                const=True,
                help=f"only {spec.help} {resource}",
            )
            group.add_argument(
                "--" + _NEGATED.get(spec.name, "no-" + spec.name),
                dest=spec.name,
                action="store_const",
                const=False,
                help=f"only {_NEGATED.get(spec.name, 'not ' + spec.name)} {resource}",
            )
        elif spec.many:
            parser.add_argument(
                flag,
                action="append",
                metavar=spec.metavar,
                help=f"only {resource} {spec.help} (repeat, or separate with commas)",
            )
        else:
            parser.add_argument(
                flag, action=Once, metavar=spec.metavar, help=f"only {resource} {spec.help}"
            )
    if resource in TIMED and times and not watched:
        what = "chats last active" if resource == "chats" else "messages sent"
        _time_options(parser, what)


#: A yes/no filter's opposite option (``--unread`` / ``--read``).
_NEGATED: Final = {"unread": "read"}


def filters_of(
    args: argparse.Namespace,
    resource: ResourceName,
    *,
    watched: bool = False,
    times: bool = True,
) -> dict[str, Any]:
    """The keyword filters of ``resource``'s call, from the options :func:`filter_options` made."""
    out: dict[str, Any] = {}
    for spec in FILTERS[resource]:
        if watched and not spec.watched:
            continue
        value = getattr(args, spec.name, None)
        if spec.many and value is not None:
            value = [part.strip() for given in value for part in given.split(",")]
        out[spec.name] = value
    if resource in TIMED and times and not watched:
        out["after"] = after = time_option("after", args.after)
        out["before"] = before = time_option("before", args.before)
        if after is not None and before is not None and after >= before:
            raise UsageError(
                f"--after {args.after} is not earlier than --before {args.before}: both are "
                "strict bounds, so nothing lies between them (swapped?)"
            )
    return out


def time_option(name: str, text: str | None) -> datetime | None:
    """``--after``/``--before``/``--since``: as the SDK reads them, but a zone is required."""
    upper = name == "before"  # a strict upper bound rounds up (see parse_datetime)
    return None if text is None else parse_datetime(name, text, naive="refuse", upper=upper)


def _time_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--after",
        metavar="TIME",
        help=f"only {what} strictly after TIME (ISO 8601 with a zone, e.g. 2026-05-01T00:00:00Z)",
    )
    parser.add_argument(
        "--before", metavar="TIME", help=f"only {what} strictly before TIME (ISO 8601 with a zone)"
    )
