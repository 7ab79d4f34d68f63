"""The live feed: messages arriving while the fake server runs, listed in order, some late."""

from __future__ import annotations

import aiohttp
import pytest

from postpress_async.testing import Dataset, FakePostpress, LiveFeed
from postpress_async.testing.__main__ import build_parser, live_from_args
from postpress_async.testing._api import Api
from postpress_async.testing._time import format_ms

NOW_MS = 1_790_000_000_000  # after every built message (2026-05-17 is the dataset's newest)


class Clock:
    def __init__(self, ms: int = NOW_MS) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def api_with_clock(dataset: Dataset, clock: Clock) -> Api:
    api = Api(dataset, api_key="k", page_cache_bytes=1 << 20)
    api.live.clock = clock
    return api


def walk(api: Api, between: object = None, **query: str) -> list[str]:
    """Every id of a listing, page by page; ``between()`` runs after each page."""
    import msgspec

    ids: list[str] = []
    cursor = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        reply = api.messages_list(params)
        assert reply.status == 200, reply.body
        page = msgspec.json.decode(reply.body)
        ids += [item["id"] for item in page["items"]]
        cursor = page.get("cursor")
        if callable(between):
            between()
        if not cursor:
            return ids


def test_added_messages_are_listed_first_and_in_the_ground_truth() -> None:
    dataset = Dataset(seed=1, messages=50)
    api = api_with_clock(dataset, Clock())
    added = [api.live.add(chat=c % dataset.chat_count) for c in range(5)]
    ids = walk(api, limit="7")
    assert ids == dataset.expected_message_ids()
    assert ids[:5] == [dataset.message_id(i) for i in added]  # one millisecond: by id
    assert len(ids) == 55


def test_a_page_boundary_does_not_move_when_messages_arrive_between_pages() -> None:
    dataset = Dataset(seed=2, messages=40)
    clock = Clock()
    api = api_with_clock(dataset, clock)
    api.live.add()
    before = dataset.expected_message_ids()

    def arrive() -> None:
        clock.ms += 1
        api.live.add()

    ids = walk(api, arrive, limit="6")
    assert ids == before  # nothing repeated, nothing skipped; the newcomers wait for a new walk


def test_a_late_message_is_listed_only_once_its_listing_time_comes() -> None:
    dataset = Dataset(seed=3, messages=10)
    clock = Clock()
    api = api_with_clock(dataset, clock)
    late = dataset.message_id(api.live.add(listed_after_ms=50))
    clock.ms += 10
    on_time = dataset.message_id(api.live.add())
    assert walk(api)[:1] == [on_time]
    assert late not in walk(api)
    assert late in dataset.expected_message_ids()
    clock.ms += 40
    assert walk(api)[:2] == [on_time, late]


def test_filters_and_bounds_apply_to_added_messages() -> None:
    dataset = Dataset(seed=4, messages=30)
    clock = Clock()
    api = api_with_clock(dataset, clock)
    for k in range(12):
        clock.ms += k % 3
        api.live.add()
    row = dataset.message_row(dataset.message_count - 1)
    after = format_ms(NOW_MS + 2)
    checks = [
        {"account_id": row.account_id},
        {"sender_id": row.sender_id},
        {"after": after},
        {"before": format_ms(NOW_MS + 5), "after": format_ms(NOW_MS)},
    ]
    for query in checks:
        assert walk(api, limit="4", **query) == dataset.expected_message_ids(**query), query


def test_the_chat_of_a_new_message_moves_to_the_top_of_the_chats() -> None:
    dataset = Dataset(seed=5, messages=30)
    api = api_with_clock(dataset, Clock())
    chat = dataset.chat_count - 1
    api.live.add(chat=chat)
    assert dataset.expected_chat_ids()[0] == dataset.chat_id(chat)
    import msgspec

    listed = msgspec.json.decode(api.chats_list({}).body)["items"]
    assert listed[0]["id"] == dataset.chat_id(chat)
    assert listed[0]["timestamp"] == format_ms(NOW_MS)


def test_a_backdated_message_does_not_move_its_chat_back_in_time() -> None:
    """A message stamped before its chat's newest one (a provider's lag) leaves the chat's
    activity and ``lastMessage`` on the newest, and answers nothing newer than itself."""
    import msgspec

    dataset = Dataset(seed=5, messages=30)
    api = api_with_clock(dataset, Clock())
    chat = dataset.find_chat(dataset.message_row(0).chat_id)  # a chat with built messages
    assert chat is not None
    newest = api.live.add(chat=chat)
    late = [api.live.add(chat=chat, timestamp_ms=NOW_MS - 60_000 - k) for k in range(200)]
    assert dataset.chat_row(chat).timestamp_ms == NOW_MS
    listed = msgspec.json.decode(api.chats_list({}).body)["items"]
    assert listed[0]["id"] == dataset.chat_id(chat)
    assert listed[0]["timestamp"] == format_ms(NOW_MS)
    retrieved = msgspec.json.decode(api.chat_retrieve(dataset.chat_id(chat), {}).body)
    assert retrieved["lastMessage"]["id"] == dataset.message_id(newest)
    replies = [dataset.message(index) for index in late]
    replies = [message for message in replies if "reply_to" in message]
    assert replies  # 200 messages: a few reply to an older one
    for message in replies:
        assert message["reply_to"]["timestamp"] < message["timestamp"]


def test_a_chat_moving_up_between_two_pages_shifts_no_other_chat() -> None:
    """Chats page by keyset too: a chat whose activity moves to the top between two pages
    (it is behind the walk now) leaves every other chat listed exactly once."""
    import msgspec

    dataset = Dataset(seed=5, messages=300)
    clock = Clock()
    api = api_with_clock(dataset, clock)
    before = dataset.expected_chat_ids()
    moved = before[8]
    ids: list[str] = []
    query = {"limit": "5"}
    while True:
        page = msgspec.json.decode(api.chats_list(query).body)
        ids += [chat["id"] for chat in page["items"]]
        if len(ids) == 5:
            clock.ms += 1
            api.live.add(chat=dataset.find_chat(moved))
        if page.get("cursor") is None:
            break
        query = {"limit": "5", "cursor": page["cursor"]}
    assert ids == [chat_id for chat_id in before if chat_id != moved]


async def test_add_messages_grows_a_copy_and_the_sdk_sees_them() -> None:
    shared = Dataset(seed=6, messages=20)
    async with FakePostpress(dataset=shared) as server:
        ids = server.add_messages(3, listed_after=0.0)
        assert server.dataset is not shared
        assert shared.message_count == 20
        assert server.dataset.message_count == 23
        async with aiohttp.ClientSession() as http:
            headers = {"X-API-KEY": server.api_key}
            async with http.get(f"{server.url}/messages?limit=3", headers=headers) as response:
                page = await response.json()
            async with http.get(f"{server.url}/messages/{ids[0]}", headers=headers) as response:
                assert response.status == 200
        assert [item["id"] for item in page["items"]] == ids


async def test_a_live_feed_adds_messages_until_it_ends() -> None:
    feed = LiveFeed(rate=2000.0, burst=4, late_ms=5, live_for=0.02, seed=1)
    async with FakePostpress(dataset=Dataset(seed=7, messages=10), live=feed) as server:
        added = await server.live_finished()
        assert added > 0
        assert server.dataset.message_count == 10 + added


def test_the_command_line_configures_a_feed() -> None:
    args = build_parser().parse_args(["--live-rate", "50", "--late-ms", "200", "--live-for", "3"])
    assert live_from_args(args) == LiveFeed(rate=50.0, late_ms=200, live_for=3.0)
    assert live_from_args(build_parser().parse_args([])) is None


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"rate": 0.0}, id="rate"),
        pytest.param({"burst": 0}, id="burst"),
        pytest.param({"late_ms": -1}, id="late"),
        pytest.param({"late_share": 2.0}, id="share"),
        pytest.param({"live_for": -1.0}, id="live-for"),
    ],
)
def test_a_bad_feed_is_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        LiveFeed(**changes)  # type: ignore[arg-type]


def test_a_feed_on_a_dataset_without_chats_is_refused_up_front() -> None:
    """New messages need a chat: refused when the server is built, not by a feed task that
    dies unseen and raises from ``aclose()`` (or a standalone server's exit)."""
    with pytest.raises(ValueError, match="a live feed needs a dataset with at least one chat"):
        FakePostpress(dataset=Dataset(chats=0, messages=0), live=LiveFeed())


@pytest.fixture
def postpress_live() -> LiveFeed:
    return LiveFeed(rate=1000.0, live_for=0.01, seed=3)


async def test_the_plugin_runs_a_live_feed_on_a_copy_of_the_dataset(
    postpress_server: FakePostpress, postpress_dataset: Dataset
) -> None:
    added = await postpress_server.live_finished()
    assert postpress_server.dataset.message_count == postpress_dataset.message_count + added
    assert postpress_server.dataset is not postpress_dataset
