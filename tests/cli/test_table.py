"""The command table: each command takes only its options, and says so when given others."""

from __future__ import annotations

import pytest

from postpress_async import NotFoundError
from postpress_async.cli import ExitCode, main
from postpress_async.cli._app import parse
from postpress_async.cli._errors import describe


def test_demo_help_lists_only_what_demo_uses(capsys: pytest.CaptureFixture[str]) -> None:
    """``demo`` runs its own fake: no --api-key, --base-url or --fake-* in its help."""
    assert main(["demo", "--help"]) == ExitCode.OK
    text = capsys.readouterr().out
    for option in ("--messages", "--seed", "--windows", "--fault-rate", "--latency", "--debug"):
        assert option in text
    for option in ("--api-key", "--base-url", "--timeout", "--retries", "--fake-messages"):
        assert option not in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["demo", "--api-key", "k"], "--api-key does nothing for", id="after"),
        pytest.param(["--fake", "demo"], "--fake does nothing for `postpress demo`", id="before"),
        pytest.param(
            ["--fake-messages", "30", "messages", "list"],
            "--fake-messages does nothing without --fake",
            id="fake-option-without-fake",
        ),
        pytest.param(
            ["--fake", "--base-url", "http://x", "accounts", "list"],
            "--base-url and --fake cannot be combined",
            id="base-url-with-fake",
        ),
    ],
)
def test_an_option_that_does_nothing_is_a_usage_error(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before anything starts, with exit code 2."""
    assert main(argv) == ExitCode.USAGE
    assert expected in capsys.readouterr().err


def test_every_command_is_registered_once_with_its_runner() -> None:
    """Each command line resolves to the command's own async function."""
    seen = {}
    for argv in (
        ["accounts", "list"],
        ["chats", "list"],
        ["chats", "get", "c"],
        ["messages", "list"],
        ["messages", "get", "m"],
        ["export", "messages", "--out", "x"],
        ["export", "chats", "--out", "x"],
        ["demo"],
    ):
        args = parse(argv)
        assert args.cli_words == " ".join(argv[:2] if argv[0] != "demo" else argv[:1])
        seen[args.cli_words] = args.run
    assert seen["accounts list"] is seen["messages list"]
    assert seen["chats get"] is not seen["messages get"]


def test_shared_option_defaults_are_filled_in_when_not_given() -> None:
    args = parse(["messages", "list"])
    assert (args.api_key, args.fake, args.fake_messages, args.debug) == (None, False, 1000, False)


def _not_found(endpoint: str, type_: str | None) -> NotFoundError:
    return NotFoundError(
        status=404,
        type=type_,
        title="Not Found",
        method="GET",
        url="https://example.com/v9/messages?limit=2",
        endpoint=endpoint,
    )


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        pytest.param(
            _not_found("messages.list", "errors/resource_not_found"),
            "check --base-url",
            id="list-endpoint",
        ),
        pytest.param(_not_found("messages.retrieve", None), "check --base-url", id="no-envelope"),
        pytest.param(
            _not_found("messages.retrieve", "errors/resource_not_found"),
            "check the ids",
            id="retrieve-with-envelope",
        ),
    ],
)
def test_a_404_points_at_the_base_url_unless_an_id_explains_it(
    error: NotFoundError, hint: str
) -> None:
    code, message = describe(error)
    assert code == ExitCode.API_ERROR
    assert hint in message


async def test_a_wrong_base_url_says_to_check_the_base_url() -> None:
    """A server that answers 404 on a list endpoint: the base URL is wrong, not an id."""
    from postpress_async.testing import Dataset, FakePostpress

    from ._helpers import arun

    async with FakePostpress(dataset=Dataset(messages=5), api_key="pp_test_key") as server:
        wrong = server.url.rsplit("/", 2)[0] + "/v9"
        result = await arun(
            "--api-key", "pp_test_key", "--base-url", wrong, "--retries", "0", "messages", "list"
        )
    assert result.returncode == ExitCode.API_ERROR
    text = result.stderr.decode()
    assert "check --base-url" in text
    assert "check the ids" not in text


def test_an_option_the_command_has_itself_may_come_before_it() -> None:
    """``postpress --fake-seed 3 demo`` is demo's own seed option, as after the command."""
    assert parse(["--fake-seed", "3", "demo"]).seed == 3
    assert parse(["demo", "--fake-seed", "3"]).seed == 3
    assert not hasattr(parse(["--fake-seed", "3", "demo"]), "fake_seed")
