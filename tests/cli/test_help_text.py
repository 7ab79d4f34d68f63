"""What ``--help`` says a command does, it does: no option named that the command refuses."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

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


LEAVES = [(words, parser) for words, parser in COMMANDS if parser.get_default("run")]


def _examples(parser: argparse.ArgumentParser) -> list[str]:
    text = parser.format_help()
    if "\nexamples:\n" not in text:
        return []
    block = text.split("\nexamples:\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in block.splitlines()]


@pytest.mark.parametrize(("words", "parser"), LEAVES, ids=[w for w, _ in LEAVES])
def test_every_command_shows_examples_that_parse_as_written(
    words: str, parser: argparse.ArgumentParser
) -> None:
    """`--help` ends with examples, as gh's do; each is that command, and parses as typed
    (a `# comment` as a shell reads it)."""
    import shlex

    from postpress_async.cli._app import parse

    examples = _examples(parser)
    assert examples, f"postpress {words} --help shows no examples"
    for line in examples:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "postpress", line
        args = parse(argv[1:])  # a bad one exits 2 (SystemExit) and fails the test
        assert args.cli_words == words, line


@pytest.mark.parametrize(
    "words",
    [
        "accounts list",
        "messages list",
        "export messages",
        pytest.param("watch messages", marks=pytest.mark.slow),  # waits for live messages
    ],
)
def test_the_fake_examples_run_as_written(
    words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An example that needs no account (`--fake`) runs to exit 0 as printed."""
    import shlex

    from ._helpers import run

    parser = dict(LEAVES)[words]
    fake = [line for line in _examples(parser) if "--fake" in line]
    assert fake, f"postpress {words} --help has no example to try without an account"
    monkeypatch.chdir(tmp_path)  # where an example's store lands
    for line in fake:
        result = run(*shlex.split(line, comments=True)[1:])
        assert result.returncode == 0, (line, result.stderr)


@pytest.mark.parametrize(("words", "parser"), COMMANDS, ids=[w or "postpress" for w, _ in COMMANDS])
def test_help_fits_the_terminal_but_for_the_examples(
    words: str, parser: argparse.ArgumentParser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An 80-column terminal shows `--help` without lines it has to break mid-word (the
    exit codes were one 200-character line under some commands); an example command line
    stays whole, to be copied."""
    monkeypatch.setenv("COLUMNS", "80")
    text = parser.format_help()
    examples = set(_examples(parser))
    long = [line for line in text.splitlines() if len(line) > 80 and line.strip() not in examples]
    assert long == [], f"postpress {words} --help: {long}"


GROUPS = [(words, parser) for words, parser in COMMANDS if words and not parser.get_default("run")]


@pytest.mark.parametrize(("words", "parser"), GROUPS, ids=[w for w, _ in GROUPS])
def test_a_command_group_shows_examples_of_its_commands_within_80_columns(
    words: str, parser: argparse.ArgumentParser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`postpress export --help` shows how its commands are typed, as each command's
    `--help` does: one of each command's own examples, whole lines that fit 80 columns."""
    import shlex

    from postpress_async.cli._app import parse

    monkeypatch.setenv("COLUMNS", "80")
    examples = _examples(parser)
    assert examples, f"postpress {words} --help shows no examples"
    leaves = {leaf: set(_examples(sub)) for leaf, sub in LEAVES if leaf.startswith(words + " ")}
    shown = set()
    for line in examples:
        args = parse(shlex.split(line, comments=True)[1:])
        assert line in leaves[args.cli_words], line  # as the command's own --help has it
        shown.add(args.cli_words)
    assert shown == set(leaves), f"postpress {words} --help: no example of {set(leaves) - shown}"
    long = [line for line in parser.format_help().splitlines() if len(line) > 80]
    assert long == [], f"postpress {words} --help: {long}"
