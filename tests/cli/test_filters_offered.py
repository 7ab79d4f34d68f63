"""Every filter a resource's listing accepts is in the one filter table and on the command line.

Adding a query parameter touches the resource method (its keyword), one line of
``_filters.FILTERS`` and the fake server: these tests fail until the table and every
command that lists, exports, watches or verifies the resource offer it.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

import pytest

from postpress_async import AsyncPostpress
from postpress_async._filters import FILTERS, TIMED
from postpress_async.cli._app import build_parser
from postpress_async.transports import MockTransport, Request, Response
from tests.cli._helpers import run

#: Keywords of list()/watch() that are not filters: paging, positions, polling.
NOT_FILTERS = frozenset(
    {"limit", "cursor", "resume", "prefetch", "max_items", "since", "policy", "before", "after"}
)


def _never(request: Request) -> Response:
    raise AssertionError("no request is sent")


def _keywords(method: object) -> set[str]:
    return {
        name
        for name, parameter in inspect.signature(method).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _commands(words: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in words.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@pytest.mark.parametrize("resource", ["accounts", "chats", "messages"])
def test_the_table_holds_exactly_the_filters_the_listing_takes(resource: str) -> None:
    client = AsyncPostpress(api_key="k", transport=MockTransport(_never))
    listing = getattr(client, resource).list
    assert _keywords(listing) - NOT_FILTERS == {spec.name for spec in FILTERS[resource]}
    timed = {"before", "after"} <= _keywords(listing)
    assert timed == (resource in TIMED)


@pytest.mark.parametrize("resource", ["chats", "messages"])
def test_the_table_marks_exactly_the_filters_a_watch_takes(resource: str) -> None:
    client = AsyncPostpress(api_key="k", transport=MockTransport(_never))
    watched = _keywords(getattr(client, resource).watch) - NOT_FILTERS
    assert watched == {spec.name for spec in FILTERS[resource] if spec.watched}


#: Every command that takes a resource's filters: (command, resource, watched, timed).
COMMANDS = [
    pytest.param("messages list", "messages", False, True, id="messages-list"),
    pytest.param("chats list", "chats", False, True, id="chats-list"),
    pytest.param("export messages", "messages", False, True, id="export-messages"),
    pytest.param("export chats", "chats", False, True, id="export-chats"),
    pytest.param("watch messages", "messages", True, False, id="watch-messages"),
    pytest.param("watch chats", "chats", True, False, id="watch-chats"),
    pytest.param("verify messages", "messages", False, False, id="verify-messages"),
    pytest.param("verify chats", "chats", False, False, id="verify-chats"),
]


@pytest.mark.parametrize(("command", "resource", "watched", "timed"), COMMANDS)
def test_every_command_offers_every_filter_of_its_resource(
    command: str, resource: str, watched: bool, timed: bool
) -> None:
    options = _options(_commands(command))
    for spec in FILTERS[resource]:
        if watched and not spec.watched:
            continue
        assert _flag(spec.name) in options, f"`postpress {command}` lacks {_flag(spec.name)}"
    assert ({"--after", "--before"} <= options) == timed


@pytest.mark.parametrize(("command", "resource", "watched", "timed"), COMMANDS)
def test_a_single_value_filter_given_twice_is_a_usage_error_naming_it(
    command: str, resource: str, watched: bool, timed: bool
) -> None:
    """``--account-id A --account-id B`` where the API takes one: exit 2, never B alone."""
    single = [
        spec
        for spec in FILTERS[resource]
        if not spec.many and not spec.flag and (spec.watched or not watched)
    ]
    assert single or resource == "accounts"
    for spec in single:
        flag = _flag(spec.name)
        result = run(*command.split(), flag, "first", flag, "second")
        assert result.returncode == 2, (command, flag, result.stderr)
        line = result.stderr.decode().strip().splitlines()[-1]
        assert line.startswith(f"postpress {command}: error: argument {flag}:"), line
        assert "once" in line, line


@pytest.mark.parametrize(
    ("command", "resource", "watched", "timed"), [c for c in COMMANDS if c.values[3]]
)
def test_an_after_not_before_before_is_a_usage_error(
    command: str, resource: str, watched: bool, timed: bool, tmp_path: Path
) -> None:
    """Strict bounds with ``--after`` at or past ``--before`` hold nothing: exit 2 naming
    both, before any request (the base URL refuses connections), never an empty success."""
    for after, before in (
        ("2026-05-02T00:00:00Z", "2026-05-01T00:00:00Z"),
        ("2026-05-01T02:00:00+02:00", "2026-05-01T00:00:00Z"),  # the same instant
    ):
        result = run(
            *command.split(),
            *(["--out", str(tmp_path / "x.jsonl")] if command.startswith("export") else []),
            "--after",
            after,
            "--before",
            before,
            "--api-key",
            "k",
            "--base-url",
            "http://127.0.0.1:9",
            "--retries",
            "0",
        )
        assert result.returncode == 2, (command, result.stderr)
        line = result.stderr.decode().strip().splitlines()[-1]
        assert "--after" in line and "--before" in line, line
