"""Everything the fake serves decodes with the SDK's own models, quirks included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from postpress_async.testing import Dataset
from postpress_async.testing._api import Api
from postpress_async.testing._groundtruth import truth_report

models = pytest.importorskip("postpress_async.models")
decoding = pytest.importorskip("postpress_async._decoding")


def pages(list_page: Callable[[dict[str, str]], Any]) -> list[bytes]:
    """Every page body of one listing, 250 at a time."""
    bodies = []
    query = {"limit": "250"}
    while True:
        reply = list_page(query)
        assert reply.status == 200
        bodies.append(reply.body)
        cursor = decoding.decode(reply.body, models.Page[Any], endpoint="test").cursor
        if cursor is None:
            return bodies
        query = {"limit": "250", "cursor": cursor}


@pytest.mark.parametrize(
    "dataset",
    [
        pytest.param(Dataset(seed=0, chats=60, messages=3000), id="documented"),
        pytest.param(Dataset(seed=1, chats=30, messages=1500, quirks=True), id="quirks"),
        pytest.param(
            Dataset(seed=2, accounts=15, chats=20, messages=600, hostile_ids=True), id="hostile"
        ),
    ],
)
def test_every_page_and_object_decodes_with_the_sdk_models(dataset: Dataset) -> None:
    """Account, chat and message lists, and retrieved chats, decode without error."""
    api = Api(dataset, api_key="k", page_cache_bytes=0)
    accounts = [
        item
        for body in pages(api.accounts_list)
        for item in decoding.decode(body, models.AccountList, endpoint="GET /accounts").items
    ]
    assert len(accounts) == dataset.account_count
    unknown = [a for a in accounts if isinstance(a, models.UnknownAccount)]
    assert len(unknown) == (1 if dataset.config.quirks else 0)
    mobiles = [a for a in accounts if isinstance(a, models.MobileAccount)]
    assert mobiles
    assert all(a.connection_params and a.connection_params.last_fetched_at for a in mobiles)
    chats = [
        item
        for body in pages(api.chats_list)
        for item in decoding.decode(body, models.ChatList, endpoint="GET /chats").items
    ]
    assert [c.id for c in chats] == dataset.expected_chat_ids()
    messages = [
        item
        for body in pages(api.messages_list)
        for item in decoding.decode(body, models.MessageList, endpoint="GET /messages").items
    ]
    assert [m.id for m in messages] == dataset.expected_message_ids()
    attachments = [a for m in messages for a in m.attachments]
    unknown_attachments = [a for a in attachments if isinstance(a, models.UnknownAttachment)]
    assert bool(unknown_attachments) == dataset.config.quirks
    assert len(attachments) > len(unknown_attachments)
    for c in range(dataset.chat_count):
        reply = api.chat_retrieve(dataset.chat_id(c), {})
        chat = decoding.decode(reply.body, models.Chat, endpoint="GET /chats/{id}")
        assert chat.id == dataset.chat_id(c)
        assert (chat.last_message is None) == (dataset.chat_timestamp_ms(c) is None)
    for i in range(0, dataset.message_count, 97):
        reply = api.message_retrieve(dataset.message_id(i))
        message = decoding.decode(reply.body, models.Message, endpoint="GET /messages/{id}")
        assert message.id == dataset.message_id(i)


def test_the_sdk_reads_the_bad_records_as_the_truth_says() -> None:
    """Every readable id once (repaired texts with U+FFFD), exactly the unreadable items set
    aside with their bytes as sent, and every page's cursor: the truth's classification
    is the SDK's own."""
    decode_page = getattr(decoding, "decode_page", None)
    if decode_page is None:  # pragma: no cover - an SDK without per-item fallback
        pytest.skip("the SDK has no decode_page")
    dataset = Dataset(seed=3, chats=30, messages=1000, bad_records=True)
    api = Api(dataset, api_key="k", page_cache_bytes=0)
    report = truth_report(dataset, api.live, "messages")
    ids: list[str] = []
    texts: dict[str, str | None] = {}
    raws: list[bytes] = []
    query = {"limit": "100"}
    while True:
        reply = api.messages_list(query)
        page, unreadable = decode_page(reply.body, models.MessageList, endpoint="GET /messages")
        ids += [m.id for m in page.items]
        texts.update((m.id, m.text) for m in page.items)
        raws += [item.raw for item in unreadable]
        if page.cursor is None:
            break
        query = {"limit": "100", "cursor": page.cursor}
    assert ids == report["ids"]
    assert raws == [entry["raw"].encode() for entry in report["unreadable"]]
    assert len(raws) == 4
    for message_id in report["repaired"]:
        assert "\ufffd" in (texts[message_id] or "")
    assert [texts[message_id] for message_id in report["nul"]] == ["before\x00after"]
