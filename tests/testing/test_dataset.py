"""The synthetic dataset: deterministic, complete in features, consistent, lean."""

from __future__ import annotations

import gc
import subprocess
import sys
import tracemalloc
from collections import Counter
from typing import Any

import msgspec
import pytest

from postpress_async.testing import ACCOUNT_TYPES, CHAT_ACCOUNT_TYPES, Dataset, DatasetConfig
from postpress_async.testing._api import Api


def all_messages(ds: Dataset) -> list[dict[str, Any]]:
    return [ds.message(i) for i in range(ds.message_count)]


def test_same_seed_gives_same_bytes() -> None:
    """Two builds with the same arguments serve byte-identical pages and objects."""
    a = Dataset(seed=5, chats=20, messages=500, quirks=True, hostile_ids=True)
    b = Dataset(seed=5, chats=20, messages=500, quirks=True, hostile_ids=True)
    assert a == b
    assert hash(a) == hash(b)
    for i in range(a.message_count):
        assert a.message_json(i) == b.message_json(i)
    for c in range(a.chat_count):
        assert a.chat_with_last_message(c) == b.chat_with_last_message(c)
    assert [a.account(i) for i in range(a.account_count)] == [
        b.account(i) for i in range(b.account_count)
    ]
    api_a = Api(a, api_key="k", page_cache_bytes=0)
    api_b = Api(b, api_key="k", page_cache_bytes=0)
    assert api_a.messages_list({"limit": "250"}) == api_b.messages_list({"limit": "250"})
    assert api_a.chats_list({"limit": "7"}) == api_b.chats_list({"limit": "7"})


def test_other_seed_gives_other_data() -> None:
    """The seed changes ids and content."""
    a, b = Dataset(seed=1, messages=50), Dataset(seed=2, messages=50)
    assert a != b
    assert a.message_id(0) != b.message_id(0)
    assert a.message_json(0) != b.message_json(0)


def test_config_is_a_frozen_keyword_only_value() -> None:
    """The configuration can be compared and cannot be changed."""
    ds = Dataset(seed=3, messages=10)
    assert ds.config == DatasetConfig(seed=3, messages=10)
    with pytest.raises(AttributeError):
        ds.config.seed = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        Dataset(3)  # type: ignore[misc]
    with pytest.raises(ValueError, match="at least one chat"):
        Dataset(chats=0, messages=5)
    assert "seed=3" in repr(ds)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"messages": 10.5}, "messages must be an int, got 10.5", id="float"),
        pytest.param({"messages": "100"}, "messages must be an int, got '100'", id="str"),
        pytest.param({"chats": True}, "chats must be an int, got True", id="bool"),
        pytest.param({"seed": None}, "seed must be an int, got None", id="no-seed"),
    ],
)
def test_a_count_or_seed_that_is_no_int_is_named(kwargs: dict[str, Any], message: str) -> None:
    """They broke deep in the build: "'float' object cannot be interpreted as an integer",
    "unsupported operand type(s) for &", with no parameter named."""
    with pytest.raises(TypeError, match=message):
        Dataset(**kwargs)


def test_every_account_type_source_status_and_shape(postpress_dataset: Dataset) -> None:
    """14 accounts cover every documented type and every source status."""
    accounts = [postpress_dataset.account(i) for i in range(postpress_dataset.account_count)]
    assert {a["type"] for a in accounts} == set(ACCOUNT_TYPES)
    statuses = {s["status"] for a in accounts for s in a["sources"]}
    assert statuses == {"OK", "STOPPED", "ERROR", "CREDENTIALS", "PERMISSIONS", "CONNECTING"}
    for account in accounts:
        assert account["object"] == "Account"
        assert {"id", "name", "created_at", "connection_params", "groups", "sources"} <= set(
            account
        )
    assert any("signatures" not in a for a in accounts)
    assert any(a.get("signatures") == [] for a in accounts)
    assert any(a.get("signatures") for a in accounts)
    assert any("current_signature" in a for a in accounts)
    assert any(a["groups"] for a in accounts)
    by_type = {a["type"]: a["connection_params"] for a in accounts}
    assert set(by_type["MOBILE"]) == {"im", "call", "last_fetched_at"}
    assert set(by_type["GOOGLE_OAUTH"]) == {"mail", "calendar"}
    assert "calendar" in by_type["GOOGLE_CALENDAR"]
    assert {"imap_host", "imap_port", "smtp_host", "smtp_port"} <= set(by_type["MAIL"]["mail"])
    assert {"url", "user", "user_id", "team", "team_id"} == set(by_type["SLACK"]["im"])
    assert {"premiumId", "premiumContractId", "organizations"} <= set(by_type["LINKEDIN"]["im"])


def test_chats_cover_every_documented_state() -> None:
    """Types 0/1/2, archived, mute -1/date/null, read-only 0/1/2, pinned, folders, LinkedIn."""
    ds = Dataset(seed=0, chats=300, messages=3000)
    chats = [ds.chat(c) for c in range(ds.chat_count)]
    assert {c["type"] for c in chats} == {0, 1, 2}
    assert {c["archived"] for c in chats} == {0, 1}
    assert {c["read_only"] for c in chats} == {0, 1, 2}
    assert {c["pinned"] for c in chats} == {0, 1}
    mutes = {type(c["muted_until"]).__name__ for c in chats}
    assert mutes == {"int", "str", "NoneType"}
    assert {c["muted_until"] for c in chats if isinstance(c["muted_until"], int)} == {-1}
    assert {c["account_type"] for c in chats} == CHAT_ACCOUNT_TYPES
    assert any(c["name"] is None for c in chats)
    assert any(c["timestamp"] is None for c in chats)
    assert any("disabledFeatures" in c for c in chats)
    assert any("subject" in c for c in chats)
    assert any("attendee_provider_id" in c for c in chats)
    linkedin = [c for c in chats if c["account_type"] == "LINKEDIN"]
    assert {c.get("content_type") for c in linkedin} >= {"inmail", "sponsored", "linkedin_offer"}
    assert any("organization_id" in c and "mailbox_id" in c for c in linkedin)
    assert all("folder" in c for c in linkedin)
    others = [c for c in chats if c["account_type"] != "LINKEDIN"]
    assert not any("content_type" in c or "organization_id" in c for c in others)


@pytest.mark.slow
def test_messages_use_every_documented_field() -> None:
    """Attachments of all six kinds, reactions, quotes, replies, events, nulls, long text."""
    ds = Dataset(seed=0, chats=60, messages=6000)
    messages = all_messages(ds)
    attachment_types = Counter(a["type"] for m in messages for a in m["attachments"])
    assert set(attachment_types) == {
        "img",
        "video",
        "audio",
        "file",
        "linkedin_post",
        "video_meeting",
    }
    assert any(a.get("starts_at", 0) is None for m in messages for a in m["attachments"])
    assert any(m["reactions"] for m in messages)
    assert any("quoted" in m for m in messages)
    assert any(m.get("quoted", {}).get("attachments") for m in messages)
    assert any("reply_to" in m for m in messages)
    assert any("parent" in m for m in messages)
    assert any(m.get("replies") and m.get("reply_by") for m in messages)
    assert any("message_id" in m for m in messages)
    assert any("is_forwarded" in m for m in messages)
    seen_values = {type(v).__name__ for m in messages for v in m["seen_by"].values()}
    assert seen_values == {"str", "bool"}
    events = [m for m in messages if m["is_event"]]
    assert events
    assert all(0 <= m["event_type"] <= 13 for m in events)
    assert not any("event_type" in m for m in messages if not m["is_event"])
    assert any(m["text"] is None for m in messages)
    assert any(m["text"] == "" for m in messages)
    assert any(len((m["text"] or "").encode()) > 4096 for m in messages)
    assert any(any(ord(ch) > 0xFFFF for ch in m["text"] or "") for m in messages)
    assert any(m["behavior"] is None for m in messages)
    for flag in ("hidden", "deleted", "edited", "delivered", "seen", "is_sender"):
        assert {m[flag] for m in messages} == {0, 1}, flag
    linkedin = [m for m in messages if "message_type" in m]
    assert {m["message_type"] for m in linkedin} == {
        "MESSAGE",
        "INVITATION",
        "INMAIL",
        "INMAIL_DECLINE",
        "INMAIL_REPLY",
        "INMAIL_ACCEPT",
    }
    assert {m["attendee_distance"] for m in linkedin} == {1, 2, 3, 4, -1}
    assert any(m.get("subject", "") is None for m in linkedin)


@pytest.mark.slow
def test_messages_are_consistent_with_their_chat_and_account() -> None:
    """A message's account and chat agree; quotes and replies point into the same chat."""
    ds = Dataset(seed=2, chats=25, messages=2000)
    chats = {ds.chat_id(c): ds.chat(c) for c in range(ds.chat_count)}
    ids = {ds.message_id(i): i for i in range(ds.message_count)}
    for m in all_messages(ds):
        chat = chats[m["chat_id"]]
        assert m["account_id"] == chat["account_id"]
        assert m["chat_provider_id"] == chat["provider_id"]
        assert chat["account_type"] in CHAT_ACCOUNT_TYPES
        assert m["sender_attendee_id"] not in m["seen_by"]
        if "reply_to" in m:
            target = ds.message(ids[m["reply_to"]["id"]])
            assert target["chat_id"] == m["chat_id"]
            assert target["timestamp"] <= m["timestamp"]
    newest_first = ds.expected_message_ids()
    for c, chat in chats.items():
        mine = [m for m in newest_first if ds.message_row(ids[m]).chat_id == c]
        if mine:
            assert chat["timestamp"] == ds.message(ids[mine[0]])["timestamp"]
        else:
            assert chat["timestamp"] is None


def test_quirks_add_the_real_apis_habits() -> None:
    """Unknown types and enum values and undocumented fields appear only with quirks."""
    plain = Dataset(seed=1, chats=30, messages=1500)
    quirky = Dataset(seed=1, chats=30, messages=1500, quirks=True)
    for ds, expected in ((plain, False), (quirky, True)):
        accounts = [ds.account(i) for i in range(ds.account_count)]
        messages = all_messages(ds)
        chats = [ds.chat(c) for c in range(ds.chat_count)]
        found = {
            "account type": any(a["type"] not in ACCOUNT_TYPES for a in accounts),
            "source status": any(
                s["status"] == "SUSPENDED" for a in accounts for s in a["sources"]
            ),
            "attachment": any(a["type"] == "location" for m in messages for a in m["attachments"]),
            "message_type": any(m.get("message_type") == "SPONSORED_MESSAGE" for m in messages),
            "event_type": any(m.get("event_type") == 99 for m in messages),
            "pinned": any("pinned" in m for m in messages),
            "unread": any("unread" in c for c in chats),
            "reaction object": any("object" in r for m in messages for r in m["reactions"]),
        }
        assert found == dict.fromkeys(found, expected)
    last = Api(quirky, api_key="k", page_cache_bytes=0).accounts_list({"limit": "250"})
    assert "cursor" not in msgspec.json.decode(last.body)


_MEASURE = """
import gc, resource, sys
from postpress_async.testing import Dataset
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ds = Dataset(seed=0, chats=2000, messages=int(sys.argv[1]))
gc.collect()
m = ds.message(ds.message_count // 2)
assert ds.find_message(m["id"]) == ds.message_count // 2
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
# ru_maxrss is in bytes on macOS, in KiB on Linux and the BSDs.
unit = 1 if sys.platform == "darwin" else 1024
print(ds.message_count, ds.nbytes(), (after - before) * unit)
"""


def peak_growth(messages: int) -> tuple[int, int, int]:
    """Build a dataset in a fresh interpreter: (messages, column bytes, peak RSS growth)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(messages)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.split()
    count, nbytes, growth = map(int, out)
    return count, nbytes, growth


@pytest.mark.slow
def test_million_messages_build_into_compact_columns() -> None:
    """1,000,000 messages cost ~25 MB of arrays and under 80 MB peak: no per-message objects."""
    count, nbytes, growth = peak_growth(1_000_000)
    assert count == 1_000_000
    assert nbytes < 32 * 1024 * 1024
    assert growth < 80 * 1024 * 1024


@pytest.mark.slow
def test_memory_is_allocated_in_arrays_not_objects() -> None:
    """Under tracemalloc, 100,000 messages allocate about 25 bytes each, all told."""
    gc.collect()
    tracemalloc.start()
    try:
        ds = Dataset(seed=0, chats=500, messages=100_000)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ds.message_count == 100_000
    assert current < 40 * ds.message_count
    assert peak < 80 * ds.message_count


def test_ids_parse_back_and_reject_near_misses(hostile_dataset: Dataset) -> None:
    """Every id maps back to its index; altered ids do not."""
    ds = hostile_dataset
    for i in range(ds.message_count):
        assert ds.find_message(ds.message_id(i)) == i
    for c in range(ds.chat_count):
        assert ds.find_chat(ds.chat_id(c)) == c
        row = ds.chat_row(c)
        assert ds.find_provider_chat(ds.find_account(row.account_id) or 0, row.provider_id) == c
    for a in range(ds.account_count):
        assert ds.find_account(ds.account_id(a)) == a
    hostile = ds.message_id(1)
    assert "/" in hostile
    assert ds.find_message(hostile.split("/")[0]) is None
    assert ds.find_message(ds.message_id(0) + "x") is None
    assert ds.find_message(ds.message_id(0).lower()) is None
    assert ds.find_message("msg_" + "0" * 30) is None


# -- chat_time: what before/after bound on chats --------------------------------------------


def test_chat_time_created_bounds_a_creation_time_the_chats_do_not_show() -> None:
    """Under ``chat_time="created"`` the chats are the same bytes, listed in the same order;
    only ``before``/``after`` bound another time: one at or before each chat's first message."""
    activity = Dataset(seed=4, chats=30, messages=400)
    created = Dataset(seed=4, chats=30, messages=400, chat_time="created")
    assert activity.chat_created_ms(0) is None
    assert "chat_time" not in repr(activity)  # the default's cursors stay as they were
    assert "chat_time='created'" in repr(created)
    for c in range(created.chat_count):
        assert created.chat(c) == activity.chat(c)
        first = min(
            (created.message_timestamp_ms(i) for i in range(created.message_count)
             if created.message_row(i).chat_id == created.chat_id(c)),
            default=None,
        )  # fmt: skip
        at = created.chat_created_ms(c)
        assert at is not None
        assert first is None or first - 86_400_000 < at <= first
    plain = Api(activity, api_key="k", page_cache_bytes=0)
    bound = Api(created, api_key="k", page_cache_bytes=0)
    assert _ids(bound.chats_list({"limit": "250"})) == _ids(plain.chats_list({"limit": "250"}))
    # A bound in the middle of the creation times: the two readings list different chats.
    moments = sorted(created.chat_created_ms(c) or 0 for c in range(created.chat_count))
    middle = moments[len(moments) // 2]
    for name in ("after", "before"):
        query = {"limit": "250", name: _iso(middle)}
        listed = _ids(bound.chats_list(query))
        assert listed == created.expected_chat_ids(**{name: _iso(middle)})  # type: ignore[arg-type]
        assert listed != _ids(plain.chats_list(query))
        inside = [c for c in range(created.chat_count) if created.chat_id(c) in set(listed)]
        times = [created.chat_created_ms(c) or 0 for c in inside]
        assert all(t > middle for t in times) if name == "after" else all(t < middle for t in times)
    with pytest.raises(ValueError, match="chat_time"):
        Dataset(chat_time="creation")  # type: ignore[arg-type]


def _ids(reply: Any) -> list[str]:
    return [item["id"] for item in msgspec.json.decode(reply.body)["items"]]


def _iso(ms: int) -> str:
    from postpress_async._time import format_datetime, from_ms

    return format_datetime(from_ms(ms))
