"""Errors for people: one line on stderr, a documented exit code, no traceback without --debug."""

from __future__ import annotations

import errno
import io
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from postpress_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    InvalidParameterError,
    MissingAPIKeyError,
    NotFoundError,
    OutputLockedError,
    PermissionDeniedError,
    ResponseDecodeError,
    ServiceUnavailableError,
    StateMismatchError,
)
from postpress_async._decoding import UnreadableItem
from postpress_async._exceptions import (
    EngineUnavailableError,
    SinkFailedError,
    SinkUnavailableError,
    UnreadableItemError,
)
from postpress_async._status_errors import DOCUMENTED_ERROR_TYPES
from postpress_async.cli import ExitCode, main
from postpress_async.cli._errors import CommandError, UsageError, describe
from postpress_async.testing import Dataset, FakePostpress
from tests.helpers import asyncpg_or_skip

from ._helpers import DATASET, WAIT, Result, arun, cli_env, file_ids, ids, run

STANDALONE = Dataset(messages=50, chats=200)


@pytest.fixture
async def standalone() -> AsyncIterator[str]:
    """A fake server the CLI reaches over HTTP, as a user's would be; yields its base URL."""
    async with FakePostpress(dataset=STANDALONE, api_key="pp_test_key") as server:
        yield server.url


def one_error_line(result: Result) -> str:
    """The single stderr line, checked to be an error and not a traceback."""
    text = result.stderr.decode()
    assert "Traceback" not in text
    assert text.count("\n") == 1, text
    assert "error: " in text
    return text


async def test_key_and_url_come_from_the_environment(standalone: str) -> None:
    """POSTPRESS_API_KEY and POSTPRESS_BASE_URL are used when no option is given."""
    env = {"POSTPRESS_API_KEY": "pp_test_key", "POSTPRESS_BASE_URL": standalone}
    result = await arun("messages", "list", env=env)
    assert result.returncode == 0, result.stderr
    assert ids(result.stdout) == STANDALONE.expected_message_ids()


def test_a_bad_base_url_from_the_environment_names_the_variable() -> None:
    """Not --base-url, which was not given."""
    env = {"POSTPRESS_API_KEY": "k", "POSTPRESS_BASE_URL": "api.postpress.ai"}
    result = run("accounts", "list", env=env)
    assert result.returncode == ExitCode.USAGE
    assert "POSTPRESS_BASE_URL: must start with http://" in one_error_line(result)


def test_an_empty_base_url_is_refused_not_read_as_none_given() -> None:
    """As ``--api-key ""`` is: an empty option is a mistake (an unset shell variable), not
    a cue to read POSTPRESS_BASE_URL."""
    env = {"POSTPRESS_BASE_URL": "http://127.0.0.1:9/api/v1"}
    result = run("--api-key", "k", "--base-url", "", "accounts", "list", env=env)
    assert result.returncode == ExitCode.USAGE
    assert "error: --base-url: must not be empty" in one_error_line(result)


@pytest.mark.parametrize(
    ("options", "env", "named"),
    [
        pytest.param(["--base-url", "http://u:s3cret@127.0.0.1:1"], {}, "--base-url", id="option"),
        pytest.param(
            [],
            {"POSTPRESS_BASE_URL": "https://u:s3cret@api.example"},
            "POSTPRESS_BASE_URL",
            id="env",
        ),
    ],
)
@pytest.mark.parametrize("key", [["--api-key", "k"], []], ids=["with-key", "without-key"])
def test_a_base_url_with_a_password_is_refused_with_advice_for_the_command_line(
    options: list[str], env: dict[str, str], named: str, key: list[str], tmp_path: Path
) -> None:
    """The SDK's advice (`default_headers=...`) is for Python code: the command line says
    which option or variable to fix, and never echoes the password. Without a key too:
    "no API key" first would send a user who thought the password was one after a key,
    to be refused again for the URL."""
    out = tmp_path / "x.jsonl"
    result = run("export", "messages", *key, *options, "--out", str(out), env=env)
    assert result.returncode == ExitCode.USAGE
    line = one_error_line(result)
    assert line.startswith(f"error: {named}: must not carry credentials (user:password@)"), line
    assert "--api-key" in line and "POSTPRESS_API_KEY" in line, line
    assert "default_headers" not in line and "s3cret" not in result.stderr.decode(), line
    assert not out.exists()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"POSTPRESS_API_KEY": "pp key"},
            "error: POSTPRESS_API_KEY: must be printable ASCII",
            id="api-key",
        ),
        pytest.param(
            {"POSTPRESS_API_KEY": "k", "POSTPRESS_LOG": "loud"},
            "error: POSTPRESS_LOG: must be one of debug, info, warning",
            id="log",
        ),
    ],
)
def test_a_bad_environment_variable_is_named_as_set(env: dict[str, str], expected: str) -> None:
    """The variable the person set, not an option (--api-key, --POSTPRESS-LOG) they did not."""
    result = run("accounts", "list", env=env)
    assert result.returncode == ExitCode.USAGE
    assert expected in one_error_line(result)


def test_a_listing_stopped_by_an_unreadable_item_says_how_to_go_on_past_it() -> None:
    """`messages list` prints the page's good items, exits 1, and names the --cursor that
    lists on from the next page: the same command again would stop at the same item."""
    first = run("--fake", "--fake-bad-records", "messages", "list", "--limit", "100")
    assert first.returncode == ExitCode.API_ERROR
    text = one_error_line(first)
    assert "--cursor " in text, text
    cursor = text.rsplit("--cursor ", 1)[1].split()[0]
    rest = run(
        "--fake", "--fake-bad-records", "messages", "list", "--limit", "100", "--cursor", cursor
    )
    assert rest.stdout, rest.stderr
    printed = ids(first.stdout) + ids(rest.stdout)
    assert len(printed) == len(set(printed))
    assert set(ids(rest.stdout)).isdisjoint(ids(first.stdout))


def test_missing_api_key_exits_3() -> None:
    """No key anywhere: say how to give one (or to try --fake)."""
    result = run("accounts", "list")
    assert result.returncode == ExitCode.AUTH == 3
    text = one_error_line(result)
    assert "no API key: pass --api-key or set POSTPRESS_API_KEY (or try --fake)" in text


async def test_rejected_api_key_exits_3(standalone: str) -> None:
    """A key the API rejects (401) names the API's reason and where the key came from."""
    result = await arun("--api-key", "pp_wrong", "--base-url", standalone, "accounts", "list")
    assert result.returncode == 3
    assert "401 errors/invalid_credentials" in one_error_line(result)


async def test_a_rejected_key_into_a_store_says_no_resume_hint(
    standalone: str, tmp_path: Path
) -> None:
    """A 401 at the first request: one error line about the key, not "run the same
    command again to continue" (the same command fails the same way)."""
    store = f"sqlite:///{tmp_path / 'k.db'}"
    result = await arun(
        "--api-key", "pp_wrong", "--base-url", standalone, "export", "messages", "--to", store
    )
    assert result.returncode == ExitCode.AUTH == 3
    assert "the API rejected the API key" in one_error_line(result)


def test_connection_refused_exits_4() -> None:
    """Nothing listening: a network error naming the URL to check."""
    result = run(
        "--api-key", "k", "--base-url", "http://127.0.0.1:9", "--retries", "1", "messages", "list"
    )
    assert result.returncode == ExitCode.NETWORK == 4
    text = one_error_line(result)
    assert "cannot reach the API at http://127.0.0.1:9" in text
    assert "--base-url" in text


def test_a_store_or_scheduler_out_of_reach_exits_4_and_a_refusal_2() -> None:
    """A database or Dask scheduler that cannot be reached is a network failure (a cron
    job tries again later); a store that refuses the run is bad usage (fix the command)."""
    down = SinkUnavailableError("postgresql://etl@db/pp: cannot connect", unreachable=True)
    refused = SinkUnavailableError("postgresql://etl@db/pp: cannot connect (password failed)")
    assert describe(down)[0] == ExitCode.NETWORK
    assert describe(refused)[0] == ExitCode.USAGE
    scheduler = EngineUnavailableError("cannot reach the Dask scheduler", unreachable=True)
    assert describe(scheduler)[0] == ExitCode.NETWORK
    assert describe(EngineUnavailableError("install the dask extra"))[0] == ExitCode.USAGE


@pytest.mark.slow  # needs asyncpg, which CI's slow stage installs
def test_an_export_into_a_database_that_is_down_exits_4() -> None:
    """Nothing listening where the PostgreSQL store should be: exit 4, the store named
    without its password."""
    asyncpg_or_skip()
    import socket

    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://etl:s3cret@127.0.0.1:{port}/pp"
    result = run("--fake", "export", "messages", "--to", url)
    assert result.returncode == ExitCode.NETWORK == 4, result.stderr
    text = one_error_line(result)
    assert f"postgresql://etl@127.0.0.1:{port}/pp: cannot connect" in text
    assert "s3cret" not in text


def test_not_found_exits_1() -> None:
    """An unknown id is a 404 with the API's explanation."""
    result = run("--fake", "messages", "get", "msg_does_not_exist")
    assert result.returncode == ExitCode.API_ERROR == 1
    assert "not found (404 errors/resource_not_found" in one_error_line(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--limit", "999"], "--limit: must be between 1 and 250, got 999", id="limit"),
        pytest.param(["--after", "yesterday"], "--after: not an ISO 8601 datetime", id="garbage"),
        pytest.param(
            ["--before", "2026-05-01T10:00:00"],
            "--before: '2026-05-01T10:00:00' has no time zone",
            id="naive",
        ),
        pytest.param(["--after", "2026-05-01"], "add Z for UTC or an offset", id="date"),
        pytest.param(
            ["--limit", "ten"], "argument --limit: invalid int value: 'ten'", id="not-int"
        ),
        pytest.param(
            ["--no-such-option"], "unrecognized arguments: --no-such-option", id="unknown"
        ),
        pytest.param(["--retries", "-1"], "argument --retries: must be >= 0", id="retries"),
        pytest.param(
            ["--retries", "1000"], "argument --retries: must be at most 999", id="retries-1000"
        ),
        pytest.param(["--cursor", ""], "--cursor: must not be empty", id="empty-cursor"),
        pytest.param(
            ["--cursor", "c\n"], "--cursor: must not contain control characters", id="cursor-eol"
        ),
    ],
)
def test_bad_option_values_exit_2_without_an_api_key(args: list[str], expected: str) -> None:
    """Bad values are refused before any key lookup or request, naming the option."""
    result = run("messages", "list", *args)
    assert result.returncode == ExitCode.USAGE == 2
    assert expected in one_error_line(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["watch", "messages", "--overlap", "inf"],
            "argument --overlap: must be a finite number of seconds >= 0, got inf",
            id="overlap-inf",
        ),
        pytest.param(
            ["watch", "messages", "--poll-interval", "inf"],
            "argument --poll-interval: must be a finite number > 0, got inf",
            id="poll-interval-inf",
        ),
        pytest.param(
            ["export", "messages", "--out", "m.jsonl", "--follow", "--max-interval", "inf"],
            "argument --max-interval: must be a finite number > 0, got inf",
            id="max-interval-inf",
        ),
        pytest.param(
            ["watch", "messages", "--poll-interval", "-1"],
            "argument --poll-interval: must be a finite number > 0, got -1",
            id="poll-interval-negative",
        ),
        pytest.param(
            ["watch", "messages", "--fake-live-rate", "-1"],
            "argument --fake-live-rate: must be a finite number > 0, got -1",
            id="live-rate-negative",
        ),
        pytest.param(
            ["--fake-latency", "inf", "messages", "list"],
            "argument --fake-latency: must be a finite number of seconds >= 0, got inf",
            id="latency-inf",
        ),
        pytest.param(
            ["--timeout", "0", "messages", "list"],
            "argument --timeout: must be a finite number > 0, got 0",
            id="timeout-zero",
        ),
    ],
)
def test_bad_numbers_name_the_option_and_the_bound(args: list[str], expected: str) -> None:
    """A number out of range names the option typed and the bound it broke, not the SDK's."""
    result = run("--fake", *args)
    assert result.returncode == ExitCode.USAGE == 2
    line = one_error_line(result)
    assert expected in line


@pytest.mark.parametrize(
    "words",
    [
        pytest.param(["messages", "list"], id="messages-list"),
        pytest.param(["export", "accounts", "--out", "a.jsonl"], id="export-accounts"),
    ],
)
def test_an_unknown_option_points_at_the_commands_own_help(words: list[str]) -> None:
    """`postpress export accounts --follow`: the help to read is the command's, not the root's."""
    result = run(*words, "--follow")
    assert result.returncode == ExitCode.USAGE == 2
    command = " ".join(word for word in words if not word.startswith("-") and "." not in word)
    assert one_error_line(result) == (
        f"postpress {command}: error: unrecognized arguments: --follow "
        f"(see: postpress {command} --help)\n"
    )


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param(
            ["mesages", "list"],
            "postpress: error: argument COMMAND: invalid choice: 'mesages', did you mean "
            "'messages'? (choose from",
            id="command",
        ),
        pytest.param(
            ["export", "mesage", "--to", "sqlite:///m.db"],
            "postpress export: error: argument ACTION: invalid choice: 'mesage', did you mean "
            "'messages'? (choose from",
            id="action",
        ),
        pytest.param(
            ["messages", "list", "--max-itemz", "3"],
            "postpress messages list: error: unrecognized arguments: --max-itemz 3 "
            "(did you mean --max-items?) (see: postpress messages list --help)",
            id="option",
        ),
        pytest.param(
            ["export", "messages", "--too=sqlite:///m.db"],
            "postpress export messages: error: unrecognized arguments: --too=sqlite:///m.db "
            "(did you mean --to?) (see: postpress export messages --help)",
            id="option-with-value",
        ),
        pytest.param(
            ["messages", "list", "--max-item", "3"],
            "postpress messages list: error: unrecognized arguments: --max-item 3 "
            "(did you mean --max-items?)",
            id="prefix",
        ),
        pytest.param(
            ["export", "messages", "--t", "sqlite:///m.db"],
            "postpress export messages: error: unrecognized arguments: --t sqlite:///m.db",
            id="short-prefix",
        ),
    ],
)
def test_a_typo_gets_the_nearest_word_suggested(words: list[str], expected: str) -> None:
    """A misspelt command, action or option is refused (exit 2) with the word it most
    likely meant, as gh and git suggest one. A prefix of an option is refused too, not
    read as the option (argparse's `allow_abbrev`): a script written with one would change
    meaning the day another option starts with the same letters; gh, aws and git take
    whole option names only."""
    result = run(*words)
    assert result.returncode == ExitCode.USAGE
    assert one_error_line(result).startswith(expected), result.stderr


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param(
            [],
            "postpress: error: the following arguments are required: COMMAND, one of "
            "accounts, chats, messages, export, watch, verify, demo (see: postpress --help)\n",
            id="command",
        ),
        pytest.param(
            ["export"],
            "postpress export: error: the following arguments are required: ACTION, one of "
            "accounts, chats, messages (see: postpress export --help)\n",
            id="action",
        ),
    ],
)
def test_a_missing_command_lists_the_ones_to_choose_from(words: list[str], expected: str) -> None:
    """`postpress export` alone: say which words may follow, not only that one is missing."""
    result = run(*words)
    assert result.returncode == ExitCode.USAGE
    assert one_error_line(result) == expected


def test_a_word_far_from_any_gets_no_suggestion() -> None:
    result = run("messages", "list", "--zzzzzz")
    assert result.returncode == ExitCode.USAGE
    assert "did you mean" not in one_error_line(result)


def test_bad_records_in_a_fake_too_small_for_them_is_a_usage_error() -> None:
    """--fake-bad-records places its records across at least 40 messages: say so, exit 2."""
    result = run("--fake", "--fake-messages", "10", "--fake-bad-records", "messages", "list")
    assert result.returncode == ExitCode.USAGE == 2
    line = one_error_line(result)
    assert "--fake-bad-records needs --fake-messages 40 or more, got 10" in line
    assert "unexpected" not in line


def test_debug_shows_the_traceback() -> None:
    """--debug adds the traceback (and still ends with the one-line error)."""
    result = run("--fake", "--debug", "messages", "get", "msg_does_not_exist")
    assert result.returncode == 1
    text = result.stderr.decode()
    assert "Traceback" in text
    assert text.rstrip().splitlines()[-1].startswith("error: not found")


def test_help_exits_0() -> None:
    """--help documents the commands and the exit codes."""
    result = run("--help")
    assert result.returncode == 0
    listed = " ".join(result.stdout.decode().split())
    for code in ExitCode:  # every code of the one table, 5 included
        assert f" {int(code)} " in listed.split("exit codes:", 1)[1]
    assert b"exit codes: 0 ok, 1 API error" in result.stdout
    for command in (b"accounts", b"chats", b"messages", b"export", b"watch", b"verify", b"demo"):
        assert command in result.stdout


@pytest.mark.slow
def test_broken_pipe_is_quiet() -> None:
    """`postpress messages list | head -1` ends without an error."""
    with subprocess.Popen(
        [sys.executable, "-m", "postpress_async", "--fake", "messages", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    ) as producer:
        assert producer.stdout is not None
        assert producer.stderr is not None
        first = producer.stdout.readline()
        producer.stdout.close()
        stderr = producer.stderr.read()
        producer.wait(timeout=WAIT)
    assert first.startswith(b'{"id":"' + DATASET.message_row(0).id.encode())
    assert producer.returncode == 0, stderr
    assert b"Traceback" not in stderr


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--fake", "messages", "list"], id="json"),
        pytest.param(["--fake", "accounts", "list", "--format", "table"], id="table"),
        pytest.param(["--fake", "watch", "messages", "--max-items", "2"], id="watch"),
    ],
)
def test_a_full_disk_under_stdout_is_one_line_and_exit_1(args: list[str]) -> None:
    """`postpress ... > /full/disk/out`: the documented exit 1 and one line naming stdout,
    not Python's exit 120 with "Exception ignored" from its own flush at exit."""
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "postpress_async", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            env={k: v for k, v in cli_env().items() if k != "PYTHONUNBUFFERED"},  # as a shell
            timeout=WAIT,
            check=False,
        )
    assert result.returncode == ExitCode.API_ERROR, result.stderr
    text = result.stderr.decode()
    assert text == "error: cannot write standard output: No space left on device\n", text


def test_an_export_runs_with_stdout_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`postpress export ... >&-` (a daemon, a cron line): an export never needs stdout."""
    monkeypatch.setattr(sys, "stdout", None)  # what Python makes of a closed descriptor 1
    out = tmp_path / "m.jsonl"
    assert main(["--fake", "export", "messages", "--out", str(out), "--quiet"]) == 0
    assert len(file_ids(out)) == len(DATASET.expected_message_ids())
    assert capsys.readouterr().err == ""


def test_a_listing_with_stdout_closed_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    assert main(["--fake", "messages", "list", "--max-items", "1"]) == ExitCode.API_ERROR
    assert capsys.readouterr().err == "error: cannot write standard output: it is closed\n"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--fake", "messages", "list", "--limit", "0"], id="usage-error"),
        pytest.param(["--fake", "export", "messages", "--out", "{out}"], id="export-summary"),
    ],
)
def test_with_stderr_closed_nothing_meant_for_it_lands_on_stdout(
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`postpress ... 2>&-`: Python has no sys.stderr, and print(file=None) writes to
    stdout; an error line or a summary must not end up among the JSON lines."""
    monkeypatch.setattr(sys, "stderr", None)  # what Python makes of a closed descriptor 2
    code = main([arg.format(out=tmp_path / "m.jsonl") for arg in args])
    assert code in {ExitCode.OK, ExitCode.USAGE}
    assert capsys.readouterr().out == ""


class _Full(io.TextIOBase):
    """A stream on a full disk (``2>/dev/full``): each of its first ``failing`` writes
    (every one by default) raises ENOSPC, as a real one does."""

    def __init__(self, failing: int | None = None) -> None:
        self.failing = failing
        self.written = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.failing is None or self.failing > 0:
            if self.failing is not None:
                self.failing -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        self.written += text
        return len(text)


@pytest.mark.parametrize("shown", [[], ["--progress"]], ids=["summary", "progress"])
def test_an_export_whose_summary_cannot_be_written_exits_1_with_its_rows_committed(
    shown: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`postpress export ... 2>/dev/full`: the rows are stored, but the summary asked for
    is lost: exit 1 as `ls > /dev/full`, no traceback; the same command then finds nothing new."""
    out = tmp_path / "m.jsonl"
    monkeypatch.setattr(sys, "stderr", _Full())
    assert main(["--fake", "export", "messages", "--out", str(out), *shown]) == ExitCode.API_ERROR
    monkeypatch.undo()
    assert file_ids(out) == DATASET.expected_message_ids()
    again = run("--fake", "export", "messages", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert again.stderr.startswith(b"exported 0 new messages"), again.stderr


def test_a_summary_lost_to_a_full_disk_is_said_where_stderr_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk full for the summary and freed for the error line: the line says the export
    itself finished, and no resume hint follows (there is nothing to resume)."""
    out = tmp_path / "m.jsonl"
    stderr = _Full(failing=1)
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(["--fake", "export", "messages", "--out", str(out)]) == ExitCode.API_ERROR
    assert stderr.written == (
        "error: cannot write the summary to standard error (No space left on device); "
        f"the export itself finished: every item is stored in {out}\n"
    )


# -- the pure mapping, without a process ------------------------------------------------


def _status(cls: type, status: int, error_type: str) -> Exception:
    return cls(
        status=status, type=error_type, title="Title", detail="Detail.", method="GET", url="u"
    )  # type: ignore[no-any-return]


def _unreadable() -> UnreadableItemError:
    error = ResponseDecodeError(
        "Expected `str`, got `int`", endpoint="messages.list", path="$.items[3].timestamp"
    )
    item = UnreadableItem(raw=b'{"timestamp": 1}', error=error, index=3)
    return UnreadableItemError([item], endpoint="messages.list")


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        pytest.param(UsageError("bad"), 2, "bad", id="usage"),
        pytest.param(CommandError("it failed"), 1, "it failed", id="command"),
        pytest.param(
            InvalidParameterError("account_type", "must be one of ..."),
            2,
            "--account-type: must be one of ...",
            id="param",
        ),
        pytest.param(
            InvalidParameterError("retry.attempts", "x"), 2, "--retries: x", id="param-retries"
        ),
        pytest.param(
            InvalidParameterError("policy.overlap", "x"), 2, "--overlap: x", id="param-overlap"
        ),
        pytest.param(MissingAPIKeyError("no"), 3, "no API key", id="missing-key"),
        pytest.param(
            _status(AuthenticationError, 401, "errors/invalid_credentials"),
            3,
            "rejected the API key (401 errors/invalid_credentials: Detail.)",
            id="401",
        ),
        pytest.param(
            _status(AuthenticationError, 401, "errors/expired_credentials"),
            3,
            "refused the connected account's credentials (401 errors/expired_credentials: "
            "Detail.): reconnect the account",
            id="401-account",
        ),
        pytest.param(
            _status(PermissionDeniedError, 403, "errors/account_restricted"),
            3,
            "the connected account may not do that (403 errors/account_restricted",
            id="403",
        ),
        pytest.param(
            _status(NotFoundError, 404, "errors/resource_not_found"), 1, "not found (404", id="404"
        ),
        pytest.param(
            _status(ServiceUnavailableError, 503, "errors/network_down"),
            1,
            "the API failed (503 errors/network_down: Detail.)",
            id="503",
        ),
        pytest.param(
            APIConnectionError("Connection failed: boom", method="GET", url="http://h/x?y=1"),
            4,
            "cannot reach the API at http://h/x (Connection failed: boom)",
            id="connect",
        ),
        pytest.param(
            APITimeoutError("Request timed out", method="GET", url="http://h/x"),
            4,
            "did not answer in time",
            id="timeout",
        ),
        pytest.param(
            SinkFailedError(
                "sqlite:///m.db: the disk is full (database or disk is full): free some "
                "space, then run the same command again"
            ),
            1,
            "sqlite:///m.db: the disk is full",
            id="sink-failed",
        ),
        pytest.param(
            SinkFailedError("postgresql://etl@db/pp: the connection was lost\nfor 60 s"),
            1,
            "postgresql://etl@db/pp: the connection was lost for 60 s",
            id="sink-failed-one-line",
        ),
        pytest.param(
            _unreadable(),
            1,
            "items this SDK cannot read: 1 item of messages.list could not be read",
            id="unreadable",
        ),
        pytest.param(
            StateMismatchError("this state was saved by a watch of chats, not of messages"),
            2,
            "belongs to another watch or export (this state was saved by a watch of chats",
            id="state-mismatch",
        ),
        pytest.param(
            OutputLockedError("postgresql://etl@db/pp"),
            5,
            "another export or follow is writing postgresql://etl@db/pp",
            id="locked",
        ),
        pytest.param(
            PermissionError(13, "Permission denied", "out.jsonl"),
            1,
            "cannot write out.jsonl: Permission denied",
            id="oserror",
        ),
    ],
)
def test_describe_maps_errors_to_codes_and_one_line(error: Exception, code: int, text: str) -> None:
    """Each error class has its exit code and a message that says what to do."""
    got_code, message = describe(error)
    assert got_code == code
    assert text in message
    assert "\n" not in message


#: The 401 types the reference says are about the API key: missing, invalid, out of its scopes.
_KEY_401 = {
    "errors/missing_credentials",
    "errors/invalid_credentials",
    "errors/insufficient_privileges",
}


@pytest.mark.parametrize("error_type", sorted(DOCUMENTED_ERROR_TYPES[401]))
def test_a_401_blames_the_api_key_only_when_it_is_at_fault(error_type: str) -> None:
    """An expired or disconnected account, a checkpoint to solve: a new key mends none of
    them, so the message does not send the user to --api-key (the exit code stays 3)."""
    code, message = describe(_status(AuthenticationError, 401, error_type))
    assert code == 3
    blames_key = "check --api-key" in message
    assert blames_key is (error_type in _KEY_401), message
    assert ("connected account" in message) is not blames_key


#: The 403 types the reference says are about what the API key may do.
_KEY_403 = {"errors/insufficient_permissions", "errors/resource_access_restricted"}
#: The 403 types about the plan: a subscription or a feature not subscribed.
_PLAN_403 = {"errors/subscription_required", "errors/feature_not_subscribed"}


@pytest.mark.parametrize("error_type", sorted(DOCUMENTED_ERROR_TYPES[403]))
def test_a_403_names_what_is_refused_the_key_the_account_or_the_plan(error_type: str) -> None:
    """A provider's restriction of the connected account, a session or login step, or a
    feature the subscription lacks: "this API key may not do that" sent the user to the
    key for each (the exit code stays 3)."""
    code, message = describe(_status(PermissionDeniedError, 403, error_type))
    assert code == 3
    blames = {
        "key": "this API key may not do that" in message,
        "plan": "subscription" in message,
        "account": "connected account" in message,
    }
    expected = "key" if error_type in _KEY_403 else "plan" if error_type in _PLAN_403 else "account"
    assert [name for name, said in blames.items() if said] == [expected], message


def test_a_403_without_an_envelope_says_the_key_may_not() -> None:
    code, message = describe(_status(PermissionDeniedError, 403, None))  # type: ignore[arg-type]
    assert (code, "this API key may not do that" in message) == (3, True)


def test_a_401_without_an_envelope_blames_the_api_key() -> None:
    code, message = describe(_status(AuthenticationError, 401, None))  # type: ignore[arg-type]
    assert (code, "check --api-key" in message) == (3, True)


def test_describe_clips_a_huge_server_text() -> None:
    """A megabyte detail from the server is not a megabyte line on stderr."""
    error = _status(InternalServerError, 500, "errors/provider_error")
    assert isinstance(error, InternalServerError)
    error.detail = "x" * 1_000_000
    code, message = describe(error)
    assert (code, len(message) < 2_000) == (1, True), len(message)
    assert "more characters" in message


def test_describe_says_when_retries_ran_out() -> None:
    """A retryable error that surfaced after retries says so."""
    error = _status(ServiceUnavailableError, 503, "errors/no_channel")
    assert isinstance(error, ServiceUnavailableError)
    error.attempts = 5
    assert "after 5 attempts" in describe(error)[1]
    error.retry_budget_exhausted = True
    assert "retry budget is spent" in describe(error)[1]
