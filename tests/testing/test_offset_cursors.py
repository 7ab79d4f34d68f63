"""``Dataset(cursors="offset")``: cursors that count items, as the API reference's example.

The reference's messages cursor ``eyJza2lwIjoxMDB9`` is ``{"skip":100}``: the real server
may page by offset into its newest-first listing. Then an item that arrives (or is
listed late) ahead of a walk's position between two pages shifts the later pages: the
item at the boundary is listed again, and nothing is skipped.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from postpress_async.testing import Dataset, fake_identity
from postpress_async.testing.__main__ import build_parser, server_from_args
from postpress_async.testing._api import Api

NOW_MS = 1_790_000_000_000  # after every built message


class Clock:
    def __init__(self, ms: int = NOW_MS) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def api_for(dataset: Dataset, clock: Clock | None = None) -> Api:
    api = Api(dataset, api_key="k", page_cache_bytes=1 << 20)
    api.live.clock = clock or Clock()
    return api


def pages(
    listing: Callable[[dict[str, str]], Any],
    between: Callable[[int], None] | None = None,
    **query: str,
) -> list[dict[str, Any]]:
    """Every page of a listing, decoded; ``between(n)`` runs after page ``n`` (from 1)."""
    out: list[dict[str, Any]] = []
    params = dict(query)
    while True:
        reply = listing(params)
        assert reply.status == 200, reply.body
        out.append(msgspec.json.decode(reply.body))
        if between is not None:
            between(len(out))
        cursor = out[-1].get("cursor")
        if not cursor:
            return out
        params = {**query, "cursor": cursor}


def ids(walked: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for page in walked for item in page["items"]]


def skip_of(cursor: str) -> int:
    value = msgspec.json.decode(base64.urlsafe_b64decode(cursor))
    assert isinstance(value, dict)
    skip = value["skip"]
    assert isinstance(skip, int)
    return skip


def test_offset_cursors_are_skip_counts_and_walk_every_listing_once() -> None:
    dataset = Dataset(seed=11, messages=120, cursors="offset")
    api = api_for(dataset)
    walked = pages(api.messages_list, limit="25")
    assert ids(walked) == dataset.expected_message_ids()
    assert [skip_of(page["cursor"]) for page in walked[:-1]] == [25, 50, 75, 100]
    assert walked[-1]["cursor"] is None
    first = base64.urlsafe_b64decode(walked[0]["cursor"])
    assert first.startswith(b'{"skip":25,')  # the reference's shape, plus the filters
    account = dataset.message_row(3).account_id
    filtered = pages(api.messages_list, limit="4", account_id=account)
    assert ids(filtered) == dataset.expected_message_ids(account_id=account)
    assert ids(pages(api.chats_list, limit="7")) == dataset.expected_chat_ids()
    assert ids(pages(api.chats_list, limit="3", unread="true")) == dataset.expected_chat_ids(
        unread=True
    )
    assert ids(pages(api.accounts_list, limit="4")) == dataset.expected_account_ids()


def test_the_default_stays_keyset_with_the_same_cursors() -> None:
    keyset = Dataset(seed=11, messages=60)
    assert keyset.config.cursors == "keyset"
    assert repr(keyset) == repr(Dataset(seed=11, messages=60, cursors="keyset"))
    assert "cursors" not in repr(keyset) and "cursors" not in fake_identity(keyset)
    offset = Dataset(seed=11, messages=60, cursors="offset")
    assert "cursors='offset'" in repr(offset)
    assert fake_identity(offset).endswith(",cursors=offset")
    first = pages(api_for(keyset).messages_list, limit="10")[0]
    assert base64.urlsafe_b64decode(first["cursor"]).startswith(b"m:9:")  # route:last:filters
    with pytest.raises(ValueError, match="cursors must be 'keyset' or 'offset'"):
        Dataset(cursors="page")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(base64.b64encode(b'{"skip":10}').decode(), id="no-filters"),
        pytest.param(base64.b64encode(b'{"skip":-1,"list":"m","filters":"0"}').decode(), id="neg"),
        pytest.param(base64.b64encode(b"[10]").decode(), id="not-an-object"),
        pytest.param("%%%", id="not-base64"),
    ],
)
def test_a_malformed_offset_cursor_is_refused(cursor: str) -> None:
    api = api_for(Dataset(seed=11, messages=60, cursors="offset"))
    reply = api.messages_list({"cursor": cursor})
    assert reply.status == 400
    assert b"cursor is invalid" in reply.body


def test_an_offset_cursor_is_bound_to_its_listing_and_filters() -> None:
    dataset = Dataset(seed=11, messages=60, cursors="offset")
    api = api_for(dataset)
    cursor = pages(api.messages_list, limit="10")[0]["cursor"]
    account = dataset.message_row(0).account_id
    for listing, query in [
        (api.messages_list, {"account_id": account}),
        (api.chats_list, {}),
        (api.accounts_list, {}),
    ]:
        reply = listing({**query, "cursor": cursor})
        assert reply.status == 400, query
    keyset_cursor = pages(api_for(Dataset(seed=11, messages=60)).messages_list, limit="10")[0]
    assert api.messages_list({"cursor": keyset_cursor["cursor"]}).status == 400
    assert api.messages_list({"cursor": cursor, "limit": "3"}).status == 200  # limit may change


def test_an_arrival_between_two_pages_repeats_the_boundary_message() -> None:
    """Each arrival pushes the listing down one: the next page starts with the last
    message of the page before. Nothing is skipped; the newcomers wait for a new walk."""
    dataset = Dataset(seed=12, messages=40, cursors="offset")
    clock = Clock()
    api = api_for(dataset, clock)
    before = dataset.expected_message_ids()

    def arrive(_: int) -> None:
        clock.ms += 1
        api.live.add()

    walked = pages(api.messages_list, arrive, limit="6")
    listed = ids(walked)
    boundaries = [page["items"][-1]["id"] for page in walked[:-1]]
    for page, boundary in zip(walked[1:], boundaries, strict=True):
        assert page["items"][0]["id"] == boundary
    assert sorted(set(listed)) == sorted(before)  # every message, none lost
    assert len(listed) == len(before) + len(boundaries)
    assert [i for i in listed if listed.count(i) > 1] == [i for i in listed if i in boundaries]


def test_a_late_listed_message_repeats_a_boundary_only_if_it_lands_ahead_of_the_walk() -> None:
    """A provider's late message (an older timestamp) listed between two pages: inside
    the pages already walked, it shifts the rest (one repeat); further on, it is simply
    listed where it belongs."""
    dataset = Dataset(seed=13, messages=40, cursors="offset")
    clock = Clock()
    api = api_for(dataset, clock)
    api.live.add()  # the listing is live from the start
    listed_before = dataset.expected_message_ids()
    inside = dataset.message_timestamp_ms(3) - 1  # among the first page's (limit 10)
    further = dataset.message_timestamp_ms(30) - 1

    def late(at_ms: int) -> Callable[[int], None]:
        def arrive(page: int) -> None:
            if page == 1:
                api.live.add(timestamp_ms=at_ms)

        return arrive

    listed = ids(pages(api.messages_list, late(inside), limit="10"))
    assert len(listed) == len(listed_before) + 1 and set(listed) == set(listed_before)
    listed_again = ids(pages(api.messages_list, late(further), limit="10"))
    assert len(listed_again) == len(set(listed_again)) == len(listed_before) + 2


def test_a_chat_moving_up_between_two_chat_pages_repeats_the_boundary_chat() -> None:
    """Under offset, a chat moving from ahead of the walk to the top shifts every chat
    between: the boundary chat is listed twice, and the moved chat is behind the walk
    (as under keyset, it waits for the next walk)."""
    dataset = Dataset(seed=5, messages=300, cursors="offset")
    clock = Clock()
    api = api_for(dataset, clock)
    before = dataset.expected_chat_ids()
    moved = before[8]

    def move(page: int) -> None:
        if page == 1:
            clock.ms += 1
            api.live.add(chat=dataset.find_chat(moved))

    listed = ids(pages(api.chats_list, move, limit="5"))
    assert listed == before[:5] + [before[4]] + [c for c in before[5:] if c != moved]


def test_the_standalone_fake_takes_cursors() -> None:
    plain = server_from_args(build_parser().parse_args([]))
    offset = server_from_args(build_parser().parse_args(["--cursors", "offset"]))
    assert (plain.dataset.config.cursors, offset.dataset.config.cursors) == ("keyset", "offset")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--cursors", "skip"])
