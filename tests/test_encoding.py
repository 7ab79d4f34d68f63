"""Models encode back to the JSON the API sent, unknown types included."""

from __future__ import annotations

import msgspec

from postpress_async._decoding import decode
from postpress_async._encoding import encode_json, encode_json_lines
from postpress_async.models import AccountList, Message, UnknownAccount, UnknownAttachment


def test_an_unknown_account_is_written_back_as_the_server_sent_it() -> None:
    raw = {
        "object": "Account",
        "type": "SIGNAL",
        "id": "acc_new",
        "name": "New provider",
        "connection_params": {"im": {"number": "+1"}},
    }
    known = {
        "object": "Account",
        "type": "TWITTER",
        "id": "acc_tw",
        "name": "tw",
        "connection_params": {"im": {"id": "1", "username": "u"}},
    }
    body = msgspec.json.encode({"object": "AccountList", "items": [known, raw], "cursor": None})
    page = decode(body, AccountList, endpoint="GET /accounts")
    assert isinstance(page.items[1], UnknownAccount)
    again = msgspec.json.decode(encode_json(page))
    assert again["items"][1] == raw
    assert again["items"][0]["type"] == "TWITTER"
    assert again["items"][0]["id"] == "acc_tw"


def test_an_unknown_attachment_inside_a_message_is_written_back_as_sent() -> None:
    attachment = {"id": "att_1", "type": "hologram", "unavailable": False, "depth": 3}
    body = msgspec.json.encode({"id": "msg_1", "attachments": [attachment]})
    message = decode(body, Message, endpoint="GET /messages/{message_id}")
    assert isinstance(message.attachments[0], UnknownAttachment)
    assert msgspec.json.decode(encode_json(message))["attachments"] == [attachment]


def test_known_models_take_the_fast_path_unchanged() -> None:
    body = msgspec.json.encode({"id": "msg_1", "text": "héllo 👋", "attachments": []})
    message = decode(body, Message, endpoint="GET /messages/{message_id}")
    assert encode_json(message) == msgspec.json.encode(message)
    assert msgspec.json.decode(encode_json(message))["text"] == "héllo 👋"


def test_encoded_models_have_every_field_even_those_the_server_left_out() -> None:
    body = msgspec.json.encode({"id": "msg_1"})
    message = decode(body, Message, endpoint="GET /messages/{message_id}")
    encoded = msgspec.json.decode(encode_json(message))
    assert encoded["id"] == "msg_1"
    assert encoded["quoted"] is None
    assert encoded["attachments"] == []
    assert set(encoded) >= {"text", "reactions", "seen_by", "reply_to", "timestamp"}


def _lines_one_by_one(items: list[object]) -> bytes:
    return b"".join(encode_json(item) + b"\n" for item in items)


def test_json_lines_of_a_page_are_its_items_encoded_one_a_line() -> None:
    """One encoder call for a page gives the bytes of encoding each item on its own line."""
    bodies = [{"id": f"msg_{i}", "text": f"line {i}\nwith a break"} for i in range(3)]
    messages: list[object] = [
        decode(msgspec.json.encode(body), Message, endpoint="GET /messages/{message_id}")
        for body in bodies
    ]
    data = encode_json_lines(messages)
    assert data == _lines_one_by_one(messages)
    assert [msgspec.json.decode(line)["id"] for line in data.splitlines()] == [
        "msg_0",
        "msg_1",
        "msg_2",
    ]
    assert encode_json_lines([]) == b""


def test_json_lines_write_an_unknown_member_back_as_the_server_sent_it() -> None:
    """A page holding an ``Unknown...`` member still gets the server's own object on its line."""
    attachment = {"id": "att_1", "type": "hologram", "unavailable": False, "depth": 3}
    plain = decode(
        msgspec.json.encode({"id": "msg_0"}), Message, endpoint="GET /messages/{message_id}"
    )
    odd = decode(
        msgspec.json.encode({"id": "msg_1", "attachments": [attachment]}),
        Message,
        endpoint="GET /messages/{message_id}",
    )
    data = encode_json_lines([plain, odd])
    assert data == _lines_one_by_one([plain, odd])
    assert msgspec.json.decode(data.splitlines()[1])["attachments"] == [attachment]
