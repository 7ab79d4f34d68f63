"""What ``--help`` says a command does, it does: no option named that the command refuses."""

from __future__ import annotations

import argparse
import re

import pytest

from postpress_async.cli._app import build_parser

_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _subcommands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(" ".join(words), parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                found += _subcommands(sub, (*words, word))
    return found


COMMANDS = _subcommands(build_parser())


@pytest.mark.parametrize(("words", "parser"), COMMANDS, ids=[w or "postpress" for w, _ in COMMANDS])
def test_a_description_names_only_options_its_command_takes(
    words: str, parser: argparse.ArgumentParser
) -> None:
    offered = {flag for action in parser._actions for flag in action.option_strings}
    named = set(_OPTION.findall(parser.description or ""))
    assert named <= offered, f"postpress {words} --help names {sorted(named - offered)}"


@pytest.mark.parametrize(("words", "parser"), COMMANDS, ids=[w or "postpress" for w, _ in COMMANDS])
def test_every_option_says_what_it_does_not_only_its_default(
    words: str, parser: argparse.ArgumentParser
) -> None:
    """`--fault-rate RATE  default: 0.03` leaves a reader guessing what the rate is of."""
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        said = (action.help or "").strip()
        assert said, f"postpress {words} {action.option_strings[0]} has no help"
        assert not re.fullmatch(r"\(?default: [^ ]+\)?", said), (
            f"postpress {words} {action.option_strings[0]} says only its default: {said!r}"
        )
