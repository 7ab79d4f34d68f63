"""Text a hostile server writes into an error: never a control character in a message,
a log line or the command line's error line (no forged log records, no escape
sequences that clear the operator's terminal or write to its clipboard)."""

from __future__ import annotations

import json
import logging

import pytest

from postpress_async import APIStatusError, ResponseDecodeError
from postpress_async.cli._errors import describe

from ._server import client_for, hostile_server, raw

#: A forged log line, an ANSI "clear screen", an OSC 52 clipboard write, a C1 CSI.
HOSTILE = "bad\r\n2026-01-01 WARNING forged\x1b[2J\x1b]52;c;cm0gLXJm\x07\x9b31m\u2028end"


def controls(text: str) -> list[str]:
    return [ch for ch in text if ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029"]


async def test_an_error_envelope_cannot_put_control_characters_in_messages_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="postpress_async")
    envelope = {"type": "errors/x" + HOSTILE, "title": HOSTILE, "detail": HOSTILE}
    envelope["instance"] = HOSTILE
    async with hostile_server(raw(401, json.dumps(envelope).encode())) as server:
        async with client_for(server) as client:
            with pytest.raises(APIStatusError) as caught:
                await client.messages.retrieve("msg_1")
    error = caught.value
    for text in (str(error), error.title, error.detail, error.type, error.instance):
        assert controls(text or "") == [], text
    assert "forged" in str(error)  # shown, escaped: nothing of it is lost
    for record in caplog.records:
        assert controls(record.getMessage()) == [], record.getMessage()
    assert controls(describe(error)[1]) == []


async def test_a_200_envelope_cannot_put_control_characters_in_its_decode_error() -> None:
    body = json.dumps({"type": "errors/network_down", "status": 503, "title": HOSTILE}).encode()
    async with hostile_server(raw(200, body)) as server:
        async with client_for(server) as client:
            with pytest.raises(ResponseDecodeError) as caught:
                await client.messages.list()
    assert controls(str(caught.value)) == []
    assert controls(describe(caught.value)[1]) == []
