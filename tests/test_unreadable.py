"""Typed streams never lose a page to one item: ``on_unreadable`` = raise, skip or yield.

The fake serves ``Dataset(bad_records=True)``: four of its 1,000 messages no reader can
take (``null``, a string, a number for ``timestamp``, a number for ``id``) and three it
can (lone surrogates, a NUL). Each policy is walked over the whole listing and checked
against the fake's ground truth (``truth_report``): every readable id exactly once, the
unreadable items exactly as the truth lists them, whatever the prefetch.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest

from postpress_async import (
    AsyncPostpress,
    Checkpoint,
    InvalidParameterError,
    ListStream,
    PollPolicy,
    ResponseDecodeError,
    merge,
)
from postpress_async._decode_errors import message_and_path
from postpress_async._decoding import UnreadableItem
from postpress_async._exceptions import UnreadableItemError
from postpress_async._unreadable import LOGGED_BYTES, typed_reader
from postpress_async.models import Message, MessageList
from postpress_async.testing import Dataset, FakePostpress
from postpress_async.transports import MockTransport, Response

LIMIT = 100
BEFORE_ALL = datetime(2020, 1, 1, tzinfo=timezone.utc)
AFTER_ALL = datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset(seed=3, chats=30, messages=1_000, bad_records=True)


@pytest.fixture
async def server(dataset: Dataset) -> Any:
    async with FakePostpress(dataset=dataset) as fake:
        yield fake


def client_for(server: FakePostpress, **options: Any) -> AsyncPostpress[Any]:
    return AsyncPostpress(api_key=server.api_key, base_url=server.url, **options)


def unreadable_truth(server: FakePostpress) -> list[bytes]:
    return [entry["raw"].encode() for entry in server.truth_report("messages")["unreadable"]]


# -- the option ---------------------------------------------------------------------------


def test_the_policy_is_checked_before_any_request_and_views_keep_their_own() -> None:
    requests: list[object] = []

    def handler(request: Any) -> Any:
        requests.append(request)
        raise AssertionError("no request expected")

    transport = MockTransport(handler)
    with pytest.raises(InvalidParameterError, match=r"on_unreadable.*'raise', 'skip' or 'yield'"):
        AsyncPostpress(api_key="k", transport=transport, on_unreadable="ignore")  # type: ignore[call-overload]
    client = AsyncPostpress(api_key="k", transport=transport)
    assert client.on_unreadable == "raise"
    with pytest.raises(InvalidParameterError, match="on_unreadable"):
        client.with_options(on_unreadable=True)  # type: ignore[call-overload]
    view = client.with_options(on_unreadable="yield")
    assert (view.on_unreadable, client.on_unreadable) == ("yield", "raise")
    assert view.with_options(prefetch=2).on_unreadable == "yield"
    assert view.with_options(on_unreadable="skip").on_unreadable == "skip"
    with pytest.raises(AttributeError):
        client.on_unreadable = "skip"  # type: ignore[misc]
    assert requests == []


# -- raise --------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 1, 4])
async def test_raise_hands_out_the_page_then_raises_and_its_checkpoint_goes_on_past_it(
    server: FakePostpress, prefetch: int
) -> None:
    truth = server.truth_report("messages")
    ids: list[str] = []
    raised: list[UnreadableItemError] = []
    checkpoint: Checkpoint | None = None
    async with client_for(server) as client:
        for _ in range(10):
            stream = client.messages.list(limit=LIMIT, prefetch=prefetch, resume=checkpoint)
            try:
                async with stream:
                    async for message in stream:
                        ids.append(message.id)
            except UnreadableItemError as error:
                raised.append(error)
                # a saved checkpoint is bytes: resume from what would be stored
                saved = msgspec.json.encode(error.checkpoint)
                checkpoint = msgspec.json.decode(saved, type=Checkpoint | None)
                continue
            assert stream.checkpoint.done
            break
    assert ids == truth["ids"]  # every readable id once, in listing order
    assert all(error.checkpoint is not None for error in raised)
    assert [item.raw for error in raised for item in error.items] == unreadable_truth(server)
    assert all(isinstance(error, ResponseDecodeError) for error in raised)
    positions = [entry["position"] for entry in truth["unreadable"]]
    assert len(raised) == len({position // LIMIT for position in positions})


async def test_raise_is_raised_when_the_page_is_done_not_before(server: FakePostpress) -> None:
    truth = server.truth_report("messages")
    first_bad = truth["unreadable"][0]["position"]
    page_end = (first_bad // LIMIT + 1) * LIMIT
    bad_on_the_way = sum(1 for entry in truth["unreadable"] if entry["position"] < page_end)
    handed: list[str] = []
    async with client_for(server) as client:
        with pytest.raises(UnreadableItemError) as info:
            async for message in client.messages.list(limit=LIMIT):
                handed.append(message.id)
    assert len(handed) == page_end - bad_on_the_way  # up to the page's end, less the bad
    assert info.value.checkpoint is not None
    assert info.value.checkpoint.offset == 0  # after the page: the next one from its start
    assert "$.items[" in str(info.value)


async def test_raise_on_pages_hands_out_the_page_and_on_await_raises_for_the_first(
    server: FakePostpress,
) -> None:
    truth = server.truth_report("messages")
    first_bad_page = truth["unreadable"][0]["position"] // LIMIT
    async with client_for(server, prefetch=2) as client:
        pages = 0
        with pytest.raises(UnreadableItemError) as info:
            async for _page in client.messages.list(limit=LIMIT).pages():
                pages += 1
        assert pages == first_bad_page + 1
        resumed = client.messages.list(limit=LIMIT, resume=info.value.checkpoint)
        with pytest.raises(UnreadableItemError) as first:
            await resumed  # the next page: it starts with the next bad item
        assert first.value.items[0].raw == b'"oops"'  # the string item, first of its page
        assert first.value.checkpoint is not None and first.value.checkpoint.cursor is not None


# -- skip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 1, 4])
async def test_skip_logs_one_warning_an_item_and_hands_out_every_readable_id(
    server: FakePostpress, prefetch: int, caplog: pytest.LogCaptureFixture
) -> None:
    truth = server.truth_report("messages")
    caplog.set_level(logging.WARNING, logger="postpress_async")
    async with client_for(server, on_unreadable="skip") as client:
        ids = [m.id async for m in client.messages.list(limit=LIMIT, prefetch=prefetch)]
    assert ids == truth["ids"]
    records = [r for r in caplog.records if r.name == "postpress_async"]
    assert [r.levelno for r in records] == [logging.WARNING] * len(truth["unreadable"])
    for record, entry in zip(records, truth["unreadable"], strict=True):
        message = record.getMessage()
        path = f"$.items[{entry['position'] % LIMIT}]"
        assert path in message  # where
        assert "skipped" in message and "messages.list" in message
        assert entry["raw"][:LOGGED_BYTES] in message  # what, as sent
        assert getattr(record, "postpress_path", "").startswith(path)


def test_a_huge_unreadable_item_is_cut_in_its_log_record(caplog: pytest.LogCaptureFixture) -> None:
    huge = b'"' + b"x" * 50_000 + b'"'
    body = b'{"object":"MessageList","items":[' + huge + b'],"cursor":null}'
    read, after_page = typed_reader(MessageList, endpoint="GET /messages", policy="skip")
    assert after_page is None
    caplog.set_level(logging.WARNING, logger="postpress_async")
    page = read(body)
    assert page.items == []
    [record] = [r for r in caplog.records if r.name == "postpress_async"]
    message = record.getMessage()
    assert len(message) < 1_000
    assert "50,002 bytes" in message
    assert "$.items[0]" in message


def test_a_skipped_item_is_logged_on_one_line_whatever_it_holds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server that indents its JSON, or puts a C1 control or U+2028 in a text, must
    not split a skip record over lines (or reach the terminal that shows it)."""
    item = '{\n  "id": 5,\n  "text": "\u009b31m\u2028x"\n}'.encode()
    body = b'{"object":"MessageList","items":[' + item + b'],"cursor":null}'
    read, _ = typed_reader(MessageList, endpoint="GET /messages", policy="skip")
    caplog.set_level(logging.WARNING, logger="postpress_async")
    assert read(body).items == []
    [record] = [r for r in caplog.records if r.name == "postpress_async"]
    message = record.getMessage()
    assert not [ch for ch in message if ch < " " or "\x7f" <= ch <= "\x9f" or ch == "\u2028"]
    assert '"id": 5' in message  # the item as sent, its line breaks shown as \\n


# -- yield --------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 1, 4])
async def test_yield_hands_out_each_unreadable_item_in_its_place(
    server: FakePostpress, prefetch: int
) -> None:
    truth = server.truth_report("messages")
    async with client_for(server) as client:
        tolerant = client.with_options(on_unreadable="yield")
        items = [item async for item in tolerant.messages.list(limit=LIMIT, prefetch=prefetch)]
    readable = [item.id for item in items if isinstance(item, Message)]
    unreadable = [
        (position, item) for position, item in enumerate(items) if isinstance(item, UnreadableItem)
    ]
    assert readable == truth["ids"]
    assert [position for position, _ in unreadable] == [e["position"] for e in truth["unreadable"]]
    assert [item.raw for _, item in unreadable] == unreadable_truth(server)
    assert all(item.index == position % LIMIT for position, item in unreadable)


async def test_a_yielding_listing_still_hands_its_end_to_a_watch(server: FakePostpress) -> None:
    async with client_for(server, on_unreadable="yield") as client:
        listing = client.messages.list(limit=LIMIT)
        assert len([item async for item in listing]) == 1_000
        assert listing.checkpoint.done and listing.checkpoint.follow is not None
        [added] = server.add_messages(1)
        stream = client.messages.watch(since=listing, policy=PollPolicy(interval=0.01))
        async for message in stream:
            assert message.id == added
            break


# -- merged streams -----------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["skip", "yield"])
async def test_list_windows_skip_and_yield_like_one_stream(
    server: FakePostpress, policy: Any
) -> None:
    truth = server.truth_report("messages")
    async with client_for(server, on_unreadable=policy) as client:
        merged = client.messages.list_windows(
            after=BEFORE_ALL, before=AFTER_ALL, windows=4, limit=LIMIT
        )
        items = [item async for item in merged]
    assert Counter(m.id for m in items if isinstance(m, Message)) == Counter(truth["ids"])
    raws = [item.raw for item in items if isinstance(item, UnreadableItem)]
    assert sorted(raws) == (sorted(unreadable_truth(server)) if policy == "yield" else [])


@pytest.mark.parametrize("prefetch", [0, 1, 4])
async def test_list_windows_raise_and_resume_from_its_checkpoints_hands_out_everything_once(
    server: FakePostpress, prefetch: int
) -> None:
    truth = server.truth_report("messages")
    ids: list[str] = []
    unreadable: list[bytes] = []
    failed: list[bool] = []  # whether the error's checkpoint is its source's in the merge
    resume: list[Checkpoint] | None = None
    async with client_for(server, prefetch=prefetch) as client:
        for _ in range(10):
            merged = client.messages.list_windows(
                after=BEFORE_ALL, before=AFTER_ALL, windows=3, limit=LIMIT, resume=resume
            )
            try:
                async for message in merged:
                    ids.append(message.id)
            except UnreadableItemError as error:
                unreadable += [item.raw for item in error.items]
                failed.append(error.checkpoint in merged.checkpoints)
                resume = merged.checkpoints
                continue
            assert all(checkpoint.done for checkpoint in merged.checkpoints)
            break
    assert Counter(ids) == Counter(truth["ids"])
    assert sorted(unreadable) == sorted(unreadable_truth(server))
    assert failed and all(failed)


async def test_merge_of_streams_raises_after_the_page_like_one_stream(
    server: FakePostpress,
) -> None:
    async with client_for(server) as client:
        streams: list[ListStream[Message]] = [client.messages.list(limit=LIMIT)]
        merged = merge(*streams)
        handed = 0
        with pytest.raises(UnreadableItemError) as info:
            async for _ in merged:
                handed += 1
    first_bad = server.truth_report("messages")["unreadable"][0]["position"]
    assert handed == (first_bad // LIMIT + 1) * LIMIT - 1  # its page, less the bad item
    assert merged.checkpoints == [info.value.checkpoint]


# -- what stays as it was -----------------------------------------------------------------


@pytest.mark.parametrize("policy", ["raise", "skip", "yield"])
async def test_retrieving_an_unreadable_message_raises_a_response_decode_error(
    server: FakePostpress, dataset: Dataset, policy: Any
) -> None:
    bad = next(record for record in dataset.bad_messages() if not record.readable)
    async with client_for(server, on_unreadable=policy) as client:
        with pytest.raises(ResponseDecodeError) as info:
            await client.messages.retrieve(bad.id)
    assert type(info.value) is ResponseDecodeError


@pytest.mark.parametrize(("policy", "fails"), [("raise", True), ("skip", False), ("yield", False)])
async def test_a_watch_raises_or_skips_what_it_cannot_place(
    server: FakePostpress, policy: Any, fails: bool
) -> None:
    truth = server.truth_report("messages")
    async with client_for(server, on_unreadable=policy) as client:
        stream = client.messages.watch(
            since=BEFORE_ALL, policy=PollPolicy(interval=0.01), max_items=len(truth["ids"])
        )
        got: list[str] = []
        if fails:
            with pytest.raises(UnreadableItemError) as info:
                async for message in stream:
                    got.append(message.id)
            # Raised once its listing is taken, before any item of that listing is handed
            # out (a resumed watch goes on past it: see test_watch_live.py).
            assert info.value.items
            assert len(got) == len(set(got)) and set(got) <= set(truth["ids"])
            assert stream.state.unreadable
            return
        async for message in stream:
            got.append(message.id)
    assert Counter(got) == Counter(truth["ids"])


def test_a_decoder_message_quoting_the_server_is_shown_on_one_line() -> None:
    """msgspec quotes some values it refuses as sent (``Invalid value 'x\\n...'``): the
    SDK's message must not carry the line break or escape sequence on."""

    class A(msgspec.Struct, tag="a"):
        pass

    class B(msgspec.Struct, tag="b"):
        pass

    with pytest.raises(msgspec.ValidationError) as refused:
        msgspec.json.decode(b'{"type": "x\\n\\u001b[2J"}', type=A | B)
    assert "\n" in str(refused.value)  # msgspec's own words carry it
    message, path = message_and_path(refused.value)
    assert path == "$.type"
    assert "\n" not in message and "\x1b" not in message and "x\\n\\x1b[2J" in message


async def test_a_watch_raises_for_an_item_on_the_last_page_of_its_listing() -> None:
    """A listing of one page (a quiet feed, a short backlog) ends at its last page: that
    page's unreadable items raise too, never left out without a word under "raise"."""
    small = Dataset(seed=3, chats=5, messages=40, bad_records=True)
    async with FakePostpress(dataset=small) as server, client_for(server) as client:
        readable = len(server.truth("messages"))
        stream = client.messages.watch(
            since=BEFORE_ALL, policy=PollPolicy(interval=0.01), max_items=readable
        )
        got: list[str] = []
        with pytest.raises(UnreadableItemError) as info:
            async for message in stream:
                got.append(message.id)
    assert got == []  # the poll that met it handed out nothing: its state is intact
    assert len(info.value.items) == len(server.truth_report("messages")["unreadable"])


@pytest.mark.parametrize("missing", [b'"timestamp": null, ', b""], ids=["null", "absent"])
async def test_a_watched_message_without_a_timestamp_is_raised_once_then_passed(
    missing: bytes,
) -> None:
    """The reference calls ``timestamp`` required; a message without one has no place in
    time. A watch raises it once as an unreadable item (its bytes as sent, where and why),
    and the watch resumed from its state hands out what follows, never stopping at it."""
    later: list[bytes] = []

    def handler(request: Any) -> Any:
        stamped = b'{"id": "msg_ok", "timestamp": "2026-05-01T10:00:00.000Z"}'
        bare = b'{"id": "msg_bare", ' + missing + b'"text": "no time"}'
        items = b", ".join([*later, stamped, bare])  # newest first, as the API lists
        return Response(200, {"Content-Type": "application/json"}, b'{"items": [' + items + b"]}")

    since = datetime(2026, 5, 1, tzinfo=timezone.utc)
    async with AsyncPostpress(api_key="k", transport=MockTransport(handler)) as client:
        stream = client.messages.watch(since=since, policy=PollPolicy(interval=0.01))
        got: list[str] = []
        with pytest.raises(UnreadableItemError) as info:
            async for message in stream:
                got.append(message.id)
        (item,) = info.value.items
        assert b'"msg_bare"' in item.raw and item.error.path == "$.items[1].timestamp"
        assert "'msg_bare' has no timestamp" in str(info.value)
        later.append(b'{"id": "msg_new", "timestamp": "2026-05-01T10:00:05.000Z"}')
        resumed = client.messages.watch(since=stream.state, policy=PollPolicy(interval=0.01))
        async for message in resumed:
            got.append(message.id)
            if message.id == "msg_new":
                break
    assert got == ["msg_ok", "msg_new"]  # each once; the bare one raised once, then passed
