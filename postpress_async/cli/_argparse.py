"""argparse as the command line wants it: a bad command line is one line on stderr with
the nearest word suggested (``mesages``: ``did you mean 'messages'?``), and a command's
``--help`` ends with its examples as written (a group's: one of each of its commands),
then the exit codes."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from typing import Any, Final, NoReturn

from ._errors import ExitCode, exit_codes_help

__all__ = ["EPILOG", "Formatter", "Parser", "epilog", "group_epilog", "nearest_option"]

EPILOG = exit_codes_help()


class Parser(argparse.ArgumentParser):
    """Reports a bad command line as one line on stderr, with where to find help; takes
    an option by its whole name only (``--max-item`` is not ``--max-items``: a script's
    prefix would change meaning the day another option shares it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # the subcommands' parsers are Parsers too
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        for action in self._actions:  # a missing COMMAND or ACTION: which ones there are
            if isinstance(action, argparse._SubParsersAction) and message.endswith(
                f"required: {action.metavar}"
            ):
                message += f", one of {', '.join(action.choices)}"
        self.exit(
            ExitCode.USAGE,
            f"{self.prog}: error: {message} (see: {self.prog} --help)\n",
        )

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """argparse's check of a choice, with the nearest one suggested (``mesages``)."""
        choices = action.choices
        if choices is not None and value not in choices:
            names = [str(choice) for choice in choices]
            close = difflib.get_close_matches(str(value), names, n=1)
            if close:
                listed = ", ".join(map(repr, names))
                raise argparse.ArgumentError(
                    action,
                    f"invalid choice: {value!r}, did you mean {close[0]!r}? (choose from {listed})",
                )
        super()._check_value(action, value)


def nearest_option(parser: argparse.ArgumentParser, unknown: Sequence[str]) -> str:
    """`` (did you mean --max-items?)`` for the first unknown option near one of
    ``parser``'s own (those its ``--help`` lists), else ``""``."""
    listed = [
        flag
        for flag, action in parser._option_string_actions.items()
        if flag.startswith("--") and action.help != argparse.SUPPRESS
    ]
    for word in unknown:
        if word.startswith("--"):
            close = difflib.get_close_matches(word.partition("=")[0], listed, n=1)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


class Formatter(argparse.HelpFormatter):
    """argparse's own, except that a block of indented lines (the examples) stays as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for block in text.split("\n\n"):
            lines = block.splitlines()
            if any(line.startswith("  ") for line in lines):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(super()._fill_text(block, width, indent))
        return "\n\n".join(blocks)


def epilog(examples: Sequence[str]) -> str:
    """The examples (``postpress ...`` lines) above the exit codes."""
    if not examples:
        return EPILOG
    return "examples:\n" + "".join(f"  {line}\n" for line in examples) + "\n" + EPILOG


#: The longest example a group's ``--help`` shows: two spaces of indent, 80 columns in all.
_GROUP_EXAMPLE_WIDTH: Final = 78


def group_epilog(examples: Sequence[Sequence[str]]) -> str:
    """A command group's epilog (``postpress export --help``): one example of each of its
    commands (``examples``: each command's own, as written), then the exit codes.

    Each command's first example that fits 80 columns, else its shortest: the command's
    own ``--help`` shows them all, a long one whole.
    """
    shown = []
    for own in examples:
        fitting = [line for line in own if len(line) <= _GROUP_EXAMPLE_WIDTH]
        if own:
            shown.append(fitting[0] if fitting else min(own, key=len))
    return epilog(shown)
