"""Each command against ``--fake``: output parses, matches the dataset, and obeys every filter."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from postpress_async import AsyncPostpress
from postpress_async.testing import FakePostpress

from ._helpers import (
    DATASET,
    arun,
    assert_messages_match,
    ids,
    lines,
    moment,
    run,
    run_process,
)

CHATTY = DATASET.chat_row(DATASET.find_chat(DATASET.expected_chat_ids()[0]) or 0)
SENDER = DATASET.message_row(0).sender_id
ACCOUNT = DATASET.message_row(0).account_id


def test_accounts_list_is_every_account_in_order() -> None:
    """`accounts list` prints one JSON object a line, the accounts in the API's order."""
    result = run("--fake", "accounts", "list", "--limit", "3")
    assert result.returncode == 0, result.stderr
    objects = lines(result.stdout)
    assert [o["id"] for o in objects] == DATASET.expected_account_ids()
    assert {o["type"] for o in objects} >= {"WHATSAPP", "MAIL", "LINKEDIN"}


def test_messages_list_matches_the_dataset() -> None:
    """`messages list` prints every message, newest first, with the dataset's fields."""
    result = run("--fake", "messages", "list", "--limit", "250")
    assert result.returncode == 0, result.stderr
    objects = lines(result.stdout)
    assert [o["id"] for o in objects] == DATASET.expected_message_ids()
    assert_messages_match(objects, DATASET)


def test_chats_list_matches_the_dataset() -> None:
    """`chats list` prints every chat in the API's order."""
    result = run("--fake", "chats", "list")
    assert result.returncode == 0, result.stderr
    objects = lines(result.stdout)
    assert [o["id"] for o in objects] == DATASET.expected_chat_ids()
    for obj in objects:
        row = DATASET.chat_row(DATASET.find_chat(obj["id"]) or 0)
        assert (obj["account_id"], obj["account_type"]) == (row.account_id, row.account_type)


def test_global_options_work_after_the_command() -> None:
    """`--fake` and friends are accepted before or after the command."""
    before = run("--fake", "--fake-messages", "30", "messages", "list")
    after = run("messages", "list", "--fake", "--fake-messages", "30")
    assert before.returncode == after.returncode == 0
    assert before.stdout == after.stdout
    assert len(ids(after.stdout)) == 30


@pytest.mark.slow
def test_python_dash_m_runs_the_cli_and_exits_with_its_code() -> None:
    """`python -m postpress_async` runs the CLI, and main()'s code is the process's status."""
    result = run_process("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(b"postpress ")
    refused = run_process("messages", "list", "--limit", "999")
    assert refused.returncode == 2
    assert refused.stderr.startswith(b"error: ")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--sender-id", SENDER], DATASET.expected_message_ids(sender_id=SENDER), id="sender"
        ),
        pytest.param(
            ["--account-id", ACCOUNT],
            DATASET.expected_message_ids(account_id=ACCOUNT),
            id="account",
        ),
        pytest.param(
            ["--after", "2026-05-17T00:00:00Z", "--before", "2026-05-17T06:00:00+00:00"],
            DATASET.expected_message_ids(
                after="2026-05-17T00:00:00Z", before="2026-05-17T06:00:00Z"
            ),
            id="after-before",
        ),
        pytest.param(
            ["--after", "2026-05-17T02:00:00+02:00"],
            DATASET.expected_message_ids(after="2026-05-17T00:00:00Z"),
            id="offset",
        ),
        pytest.param(
            ["--max-items", "7", "--limit", "3"], DATASET.expected_message_ids()[:7], id="max"
        ),
    ],
)
def test_message_filters_reach_the_request(args: list[str], expected: list[str]) -> None:
    """Every `messages list` filter changes the result exactly as the API defines it."""
    assert expected, "a filter case must select something"
    result = run("--fake", "messages", "list", *args)
    assert result.returncode == 0, result.stderr
    assert ids(result.stdout) == expected


TWO_ACCOUNTS = DATASET.expected_account_ids()[:2]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--account-id", TWO_ACCOUNTS[0], "--account-id", TWO_ACCOUNTS[1]],
            DATASET.expected_chat_ids(account_id=TWO_ACCOUNTS),
            id="account-repeated",
        ),
        pytest.param(
            ["--account-id", ",".join(TWO_ACCOUNTS)],
            DATASET.expected_chat_ids(account_id=TWO_ACCOUNTS),
            id="account-commas",
        ),
        pytest.param(
            ["--account-type", "LINKEDIN"],
            DATASET.expected_chat_ids(account_type="LINKEDIN"),
            id="account-type",
        ),
        pytest.param(["--unread"], DATASET.expected_chat_ids(unread=True), id="unread"),
        pytest.param(["--read"], DATASET.expected_chat_ids(unread=False), id="read"),
        pytest.param(
            ["--after", "2026-05-17T06:00:00Z", "--before", "2026-05-17T09:00:00Z"],
            DATASET.expected_chat_ids(after="2026-05-17T06:00:00Z", before="2026-05-17T09:00:00Z"),
            id="after-before",
        ),
    ],
)
def test_chat_filters_reach_the_request(args: list[str], expected: list[str]) -> None:
    """Every `chats list` filter changes the result exactly as the API defines it."""
    assert expected, "a filter case must select something"
    assert len(expected) < DATASET.chat_count
    result = run("--fake", "chats", "list", *args)
    assert result.returncode == 0, result.stderr
    assert ids(result.stdout) == expected


async def test_cursor_starts_from_a_saved_page() -> None:
    """`--cursor` continues a listing from a cursor the API handed out."""
    async with (
        FakePostpress(dataset=DATASET) as server,
        AsyncPostpress(api_key=server.api_key, base_url=server.url) as client,
    ):
        first = await client.messages.list(limit=10)
    assert first.cursor is not None
    result = await arun("--fake", "messages", "list", "--cursor", first.cursor, "--max-items", "5")
    assert result.returncode == 0, result.stderr
    assert ids(result.stdout) == DATASET.expected_message_ids()[10:15]


def test_messages_get_prints_that_message() -> None:
    """`messages get ID` prints the one message."""
    wanted = DATASET.message_row(42).id
    result = run("--fake", "messages", "get", wanted)
    assert result.returncode == 0, result.stderr
    objects = lines(result.stdout)
    assert [o["id"] for o in objects] == [wanted]
    assert_messages_match(objects, DATASET)


def test_chats_get_resolves_a_provider_id_with_its_account() -> None:
    """`chats get PROVIDER_ID --account-id` resolves the chat, with its last message."""
    row = DATASET.chat_row(DATASET.find_chat(DATASET.expected_chat_ids()[0]) or 0)
    result = run("--fake", "chats", "get", row.provider_id, "--account-id", row.account_id)
    assert result.returncode == 0, result.stderr
    (chat,) = lines(result.stdout)
    assert chat["id"] == row.id
    assert chat["last_message"]["chat_id"] == row.id


@pytest.mark.parametrize(
    ("command", "header"),
    [
        pytest.param(["accounts", "list"], ["ID", "TYPE", "NAME", "CREATED", "STATUS"], id="acc"),
        pytest.param(
            ["chats", "list"], ["ID", "ACCOUNT_TYPE", "NAME", "UNREAD", "LAST_ACTIVITY"], id="chats"
        ),
        pytest.param(
            ["messages", "list", "--max-items", "25"],
            ["ID", "TIMESTAMP", "CHAT_ID", "SENDER_ID", "TEXT"],
            id="messages",
        ),
    ],
)
def test_table_format_has_a_header_and_one_line_a_row(
    command: list[str], header: list[str]
) -> None:
    """`--format table`: a header, a rule, then one aligned line per object."""
    result = run("--fake", *command, "--format", "table")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.decode().split("\n")[:-1]
    assert rows[0].split() == header
    assert set(rows[1]) == {"-", " "}
    json_ids = ids(run("--fake", *command).stdout)
    assert [row.split()[0] for row in rows[2:]] == json_ids


def test_table_of_nothing_is_just_the_header() -> None:
    """A listing with no match still prints the table's header."""
    result = run(
        "--fake", "messages", "list", "--after", "2030-01-01T00:00:00Z", "--format", "table"
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.decode().splitlines()) == 2


def test_json_lines_are_snake_case_with_the_servers_timestamps() -> None:
    """`get` prints what ``to_builtins()`` gives: no wire camelCase, ``.sssZ`` timestamps."""
    row = DATASET.chat_row(DATASET.find_chat(DATASET.expected_chat_ids()[0]) or 0)
    result = run("--fake", "chats", "get", row.id)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    (chat,) = lines(result.stdout)
    assert "lastMessage" not in text and "disabledFeatures" not in text
    assert {"last_message", "disabled_features", "account_id"} <= set(chat)
    stamp = chat["last_message"]["timestamp"]
    assert stamp.endswith("Z") and len(stamp.rsplit(".", 1)[1]) == len("000Z")


def test_json_lines_keep_line_separators_inside_strings() -> None:
    """Text with U+2028/U+2029 stays inside its JSON string: one object is one line."""
    result = run("--fake", "messages", "list", "--limit", "250")
    raw_lines = [line for line in result.stdout.split(b"\n") if line]
    assert len(raw_lines) == DATASET.message_count
    assert any("\u2028" in (json.loads(line)["text"] or "") for line in raw_lines)


def test_fake_bad_records_reach_the_fake_server() -> None:
    """`--fake-bad-records`: a listing meets the unreadable items; one line, exit 1."""
    clean = run("--fake", "messages", "list", "--limit", "250")
    bad = run("--fake", "--fake-bad-records", "messages", "list", "--limit", "250")
    assert clean.returncode == 0, clean.stderr
    assert bad.returncode == 1
    text = bad.stderr.decode()
    assert "cannot read" in text
    assert "Traceback" not in text
    assert text.count("\n") == 1


@pytest.mark.parametrize("skew", ["3600", "-3600"])
def test_a_watch_survives_a_fake_clock_far_from_this_machines(skew: str) -> None:
    """`--fake-clock-skew`: "now" is the server's newest item, so an hour either way is fine."""
    local = datetime.now(timezone.utc)
    result = run(
        "watch", "messages", "--fake", "--fake-clock-skew", skew, "--fake-live-rate", "400",
        "--fake-late-ms", "0", "--poll-interval", "0.01", "--max-items", "4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = ids(result.stdout)
    assert len(set(got)) == 4
    assert not set(got) & set(DATASET.expected_message_ids()), "only messages that arrived"
    # The skew reached the fake: its new messages are stamped about an hour off this clock.
    shift = [moment(obj["timestamp"]) - local for obj in lines(result.stdout)]
    half_an_hour = timedelta(minutes=30)
    assert all(s > half_an_hour if skew[0] != "-" else s < -half_an_hour for s in shift), shift


def test_chat_time_created_follows_chats_the_fake_bounds_by_creation() -> None:
    """`--chat-time created` reaches the client, `--fake-chat-time created` the fake: the
    live feed moves old chats' activity, and the watch hands them out."""
    result = run(
        "watch", "chats", "--fake", "--fake-chat-time", "created", "--chat-time", "created",
        "--fake-live-rate", "400", "--fake-late-ms", "0", "--poll-interval", "0.01",
        "--max-items", "4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(ids(result.stdout)) == 4


def test_fake_cursors_offset_reaches_the_fake() -> None:
    """`--fake-cursors offset`: the fake's cursors count items, so a cursor the offset
    dataset issued resumes there, and the default (keyset) fake refuses it."""
    import msgspec

    from postpress_async.testing import fake_dataset
    from postpress_async.testing._api import Api

    offset = fake_dataset(seed=1, messages=50, cursors="offset")
    first = Api(offset, api_key="k", page_cache_bytes=0).messages_list({"limit": "10"})
    cursor = msgspec.json.decode(first.body)["cursor"]
    common = ("messages", "list", "--fake", "--fake-messages", "50", "--cursor", cursor)
    result = run(*common, "--fake-cursors", "offset")
    assert result.returncode == 0, result.stderr
    assert ids(result.stdout) == offset.expected_message_ids()[10:]
    assert run(*common).returncode != 0  # a keyset fake: not one of its cursors


def test_a_chat_time_that_is_not_a_choice_is_a_usage_error() -> None:
    result = run("chats", "list", "--chat-time", "creation")
    assert result.returncode == 2
    assert b"--chat-time" in result.stderr


def test_fake_options_without_fake_are_refused() -> None:
    for option in (
        ["--fake-bad-records"],
        ["--fake-clock-skew", "5"],
        ["--fake-chat-time", "created"],
        ["--fake-cursors", "offset"],
    ):
        result = run("messages", "list", *option)
        assert result.returncode == 2
        assert b"does nothing without --fake" in result.stderr
