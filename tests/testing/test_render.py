"""The page renderer: the same bytes as version 0.1's, and the next page rendered ahead."""

from __future__ import annotations

import random
from array import array

import msgspec
import pytest

from postpress_async.testing import Dataset
from postpress_async.testing._api import Api
from postpress_async.testing._dataset._ids import mix, mix_many
from postpress_async.testing._dataset._quirks import QUIRKS
from tests.testing._render_0_1 import MessageRenderer01

CONFIGS = [
    pytest.param({}, id="plain"),
    pytest.param({"quirks": True}, id="quirks"),
    pytest.param({"hostile_ids": True}, id="hostile"),
    pytest.param(
        {"seed": 7, "accounts": 15, "chats": 30, "quirks": True, "hostile_ids": True},
        id="quirks-hostile",
    ),
    pytest.param({"seed": 3, "accounts": 30, "chats": 300}, id="many-chats"),
    pytest.param({"seed": 11, "accounts": 1, "chats": 1}, id="one-chat"),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_messages_match_the_version_0_1_renderer(config: dict[str, object]) -> None:
    """Every message, alone, in pages and in filtered runs, is 0.1's bytes exactly."""
    ds = Dataset(messages=1500, **config)  # type: ignore[arg-type]
    reference = MessageRenderer01(ds._cols, ds._ids, QUIRKS if ds.config.quirks else None)
    want = [reference.message_json(i) for i in range(ds.message_count)]
    assert [ds.message_json(i) for i in range(ds.message_count)] == want
    for start in range(0, ds.message_count, 250):
        page = range(start, min(ds.message_count, start + 250))
        assert ds.messages_json(page) == b",".join(want[i] for i in page)
    picked = array("i", sorted(random.Random(5).sample(range(ds.message_count), 300)))
    assert ds.messages_json(picked) == b",".join(want[i] for i in picked)
    assert ds.messages_json(range(0)) == b""


def test_mix_many_is_mix_for_every_value() -> None:
    """The whole-page hash gives each value's ``mix``, in blocks and at the edges."""
    rng = random.Random(1)
    top = (1 << 64) - 1
    for count in (0, 1, 7, 8, 9, 250, 256, 257, 700):
        values = [rng.getrandbits(64) for _ in range(count)]
        salt = rng.getrandbits(64)
        first, second = mix_many(values, salt, 2)
        assert first == [mix(salt ^ v) for v in values]
        assert second == [mix(h) for h in first]
        start = rng.getrandbits(31)
        assert mix_many(range(start, start + count), salt) == [
            [mix(salt ^ v) for v in range(start, start + count)]
        ]
    assert mix_many([top] * 20, top) == [[mix(0)] * 20]


def _bodies(api: Api, **query: str) -> list[bytes]:
    bodies = []
    cursor = None
    while True:
        reply = api.messages_list({**query, **({"cursor": cursor} if cursor else {})})
        assert reply.status == 200, reply.body
        bodies.append(reply.body)
        api.render_ahead()
        cursor = msgspec.json.decode(reply.body).get("cursor")
        if cursor is None:
            return bodies


@pytest.mark.parametrize(
    "query", [{"limit": "90"}, {"limit": "7", "account_id": "acc_01HX"}], ids=["all", "account"]
)
def test_rendering_ahead_serves_the_same_pages(query: dict[str, str]) -> None:
    """A walk whose next pages were rendered ahead sees the bytes of one without."""
    ds = Dataset(seed=2, chats=20, messages=700, quirks=True)
    if "account_id" in query:
        query = {**query, "account_id": ds.account_id(2)}
    ahead = Api(ds, api_key="k", page_cache_bytes=1 << 22)
    plain = Api(ds, api_key="k", page_cache_bytes=0)
    assert _bodies(ahead, **query) == _bodies(plain, **query)
    assert len(_bodies(plain, **query)) > 3


def test_the_next_page_is_ready_after_a_page_is_served() -> None:
    """Serving a page leaves its successor to render; rendering it fills the cache once."""
    ds = Dataset(messages=600)
    api = Api(ds, api_key="k", page_cache_bytes=1 << 22)
    first = api.messages_list({"limit": "250"})
    assert api.ahead_pending
    cached = api._cache.size
    api.render_ahead()
    assert not api.ahead_pending
    assert api._cache.size > cached
    cursor = msgspec.json.decode(first.body)["cursor"]
    second = api.messages_list({"limit": "250", "cursor": cursor})
    fresh = Api(ds, api_key="k", page_cache_bytes=0)
    assert second == fresh.messages_list({"limit": "250", "cursor": cursor})
    last = api.messages_list({"limit": "250", "cursor": msgspec.json.decode(second.body)["cursor"]})
    assert msgspec.json.decode(last.body)["cursor"] is None
    api.render_ahead()  # the last page's successor was pending: nothing after it
    assert not api.ahead_pending


def test_nothing_is_rendered_ahead_once_the_data_changed() -> None:
    """A message arriving between a page and its successor cancels rendering ahead."""
    ds = Dataset(messages=600)
    api = Api(ds, api_key="k", page_cache_bytes=1 << 22)
    api.messages_list({"limit": "100"})
    assert api.ahead_pending
    api.live.add(timestamp_ms=1_790_000_000_000, listed_after_ms=0)
    assert not api.ahead_pending
    api.render_ahead()
    assert api._cache.size == 0


def test_nothing_is_rendered_ahead_without_a_page_cache() -> None:
    """With ``page_cache_bytes=0`` a rendered-ahead page would be thrown away: none is."""
    api = Api(Dataset(messages=600), api_key="k", page_cache_bytes=0)
    api.messages_list({"limit": "100"})
    api.render_ahead()
    assert api._cache.size == 0
