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
            ["watch", "messages", "--fake-live-rate", "3"],
            "--fake-live-rate does nothing without --fake",
            id="live-rate-without-fake",
        ),
        pytest.param(
            ["export", "messages", "--out", "x", "--follow", "--fake-late-ms", "0"],
            "--fake-late-ms does nothing without --fake",
            id="late-ms-without-fake",
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
        ["export", "accounts", "--to", "sqlite:///x.db"],
        ["watch", "messages"],
        ["verify", "messages", "--to", "sqlite:///x.db"],
        ["verify", "accounts", "--out", "x"],
        ["demo"],
    ):
        args = parse(argv)
        assert args.cli_words == " ".join(argv[:2] if argv[0] != "demo" else argv[:1])
        seen[args.cli_words] = args.run
    assert seen["accounts list"] is seen["messages list"]
    assert seen["verify messages"] is seen["verify accounts"] is not seen["export messages"]
    assert seen["chats get"] is not seen["messages get"]


def test_shared_option_defaults_are_filled_in_when_not_given() -> None:
    args = parse(["messages", "list"])
    assert (args.api_key, args.fake, args.fake_messages, args.debug) == (None, False, 1000, False)


def _not_found(
    endpoint: str, type_: str | None, url: str = "https://example.com/v9/messages?limit=2"
) -> NotFoundError:
    return NotFoundError(
        status=404, type=type_, title="Not Found", method="GET", url=url, endpoint=endpoint
    )


@pytest.mark.parametrize(
    ("error", "hint", "not_said"),
    [
        pytest.param(
            _not_found(
                "messages.list",
                "errors/resource_not_found",
                "https://example.com/v9/messages?limit=2&account_id=chat_1",
            ),
            "check the ids",
            "check --base-url",
            id="list-endpoint-with-envelope",
        ),
        pytest.param(
            _not_found("messages.list", "errors/resource_not_found"),
            "check --base-url",
            "check the ids",
            id="list-without-ids-with-envelope",
        ),
        pytest.param(
            _not_found("messages.retrieve", None),
            "check --base-url",
            "check the ids",
            id="retrieve-no-envelope",
        ),
        pytest.param(
            _not_found("messages.list", None),
            "check --base-url",
            "check the ids",
            id="list-no-envelope",
        ),
        pytest.param(
            _not_found("messages.retrieve", "errors/resource_not_found"),
            "check the ids",
            "check --base-url",
            id="retrieve-with-envelope",
        ),
    ],
)
def test_only_a_404_without_the_api_envelope_points_at_the_base_url(
    error: NotFoundError, hint: str, not_said: str
) -> None:
    """The API's own 404 ("No account 'chat_...'") is about an id, even on a list endpoint."""
    code, message = describe(error)
    assert code == ExitCode.API_ERROR
    assert hint in message
    assert not_said not in message


async def test_an_unknown_account_on_a_listing_blames_the_id_not_the_base_url() -> None:
    """`messages list --account-id chat_...`: the API's envelope says which id, nothing more."""
    from postpress_async.testing import Dataset, FakePostpress

    from ._helpers import arun

    async with FakePostpress(dataset=Dataset(messages=5), api_key="pp_test_key") as server:
        result = await arun(
            "--api-key", "pp_test_key", "--base-url", server.url, "--retries", "0",
            "messages", "list", "--account-id", "chat_not_an_account",
        )  # fmt: skip
    assert result.returncode == ExitCode.API_ERROR
    text = result.stderr.decode()
    assert "No account 'chat_not_an_account'" in text
    assert "--base-url" not in text
    assert "does not look like the postpress API" not in text


async def test_a_server_that_is_not_the_api_says_to_check_the_base_url() -> None:
    """A plain 404 page (no error envelope), as a wrong host or path answers: check --base-url."""
    from aiohttp import web

    from ._helpers import arun

    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        result = await arun(
            "--api-key", "pp_test_key", "--base-url", f"http://127.0.0.1:{port}/v9",
            "--retries", "0", "messages", "list",
        )  # fmt: skip
    finally:
        await runner.cleanup()
    assert result.returncode == ExitCode.API_ERROR
    text = result.stderr.decode()
    assert "check --base-url" in text
    assert "does not look like the postpress API" in text
    assert "check the ids" not in text


async def test_a_listing_without_ids_that_is_not_found_says_to_check_the_base_url() -> None:
    """The base URL without its /api/v1: the server's own 404 envelope, and no id to blame."""
    from postpress_async.testing import Dataset, FakePostpress

    from ._helpers import arun

    async with FakePostpress(dataset=Dataset(messages=5), api_key="pp_test_key") as server:
        root = server.url.removesuffix("/api/v1")
        result = await arun(
            "--api-key", "pp_test_key", "--base-url", root, "--retries", "0",
            "messages", "list",
        )  # fmt: skip
    assert result.returncode == ExitCode.API_ERROR
    text = result.stderr.decode()
    assert "404" in text
    assert "check --base-url" in text
    assert "check the ids" not in text


def test_an_option_the_command_has_itself_may_come_before_it() -> None:
    """``postpress --fake-seed 3 demo`` is demo's own seed option, as after the command."""
    assert parse(["--fake-seed", "3", "demo"]).seed == 3
    assert parse(["demo", "--fake-seed", "3"]).seed == 3
    assert not hasattr(parse(["--fake-seed", "3", "demo"]), "fake_seed")
