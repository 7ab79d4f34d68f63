"""``decode`` and ``decode_error_body``: the fast path, the fallback and bad bodies."""

from __future__ import annotations

import random
from typing import Any

import msgspec
import pytest

from postpress_async import _decoding
from postpress_async._decoding import decode, decode_error_body
from postpress_async._exceptions import ResponseDecodeError
from postpress_async.models import (
    Account,
    AccountList,
    Chat,
    ChatList,
    ErrorBody,
    Message,
    MessageList,
    UnknownAttachment,
)

from ._payloads import account, chat, dumps, message


@pytest.mark.parametrize(
    ("body", "model", "path"),
    [
        pytest.param(b"<html><body>502 Bad Gateway</body></html>", ChatList, None, id="html"),
        pytest.param(b"", MessageList, None, id="empty"),
        pytest.param(b'{"items": [{"id": "msg_1"', MessageList, None, id="truncated"),
        pytest.param(b'{"items": []} trailing', MessageList, None, id="trailing-garbage"),
        pytest.param(
            b'{"items": [{"id": 1}], "cursor": "eyJza2lw',
            MessageList,
            None,
            id="truncated-after-a-mismatch",
        ),
        pytest.param(b"\xff\xfe{}", Message, None, id="not-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, ChatList, None, id="nested-too-deep"),
        pytest.param(b'{"items": {}}', MessageList, "$.items", id="items-not-a-list"),
        pytest.param(b'{"items": [{"id": 42}]}', MessageList, "$.items[0].id", id="numeric-id"),
        pytest.param(b'{"text": "hi"}', Message, "$", id="missing-id"),
        pytest.param(b"[]", Chat, "$", id="array-not-object"),
        pytest.param(
            dumps({"items": [message(), message(timestamp="yesterday")]}),
            MessageList,
            "$.items[1].timestamp",
            id="bad-timestamp",
        ),
        pytest.param(
            dumps(chat(lastMessage=message(seen_by={"att_1": "soon"}))),
            Chat,
            "$.lastMessage.seen_by[...]",
            id="bad-seen-by-in-last-message",
        ),
        pytest.param(
            dumps({"items": [account("SLACK", {"im": {"url": 1}})]}),
            AccountList,
            "$.items[0].connection_params.im.url",
            id="bad-connection-param",
        ),
        pytest.param(
            dumps({"items": [{"type": "SLACK"}]}),
            AccountList,
            "$.items[0]",
            id="account-without-id",
        ),
        pytest.param(
            dumps({"items": [{"id": "acc_1"}]}),
            AccountList,
            "$.items[0]",
            id="account-without-type",
        ),
        pytest.param(
            dumps({"items": [account(5, {})]}),
            AccountList,
            "$.items[0].type",
            id="account-type-not-a-string",
        ),
    ],
)
def test_bad_body_raises_response_decode_error(body: bytes, model: Any, path: str | None) -> None:
    """A body that does not fit raises ``ResponseDecodeError`` with endpoint, path and body."""
    with pytest.raises(ResponseDecodeError) as info:
        decode(body, model, endpoint="GET /things")

    error = info.value
    assert error.endpoint == "GET /things"
    assert error.path == path
    assert error.body == body
    assert "GET /things" in str(error)
    assert "` - at `" not in str(error)


def test_error_inside_a_page_with_an_unknown_type_names_the_real_fault() -> None:
    """When the fallback still fails, the path points at the remaining fault."""
    body = dumps({"items": [message(attachments=[{"type": "hologram"}]), {"id": 7}]})

    with pytest.raises(ResponseDecodeError) as info:
        decode(body, MessageList, endpoint="GET /messages")

    assert info.value.path == "$.items[1].id"
    assert "Expected `str`, got `int`" in str(info.value)


def test_unknown_account_without_id_still_fails() -> None:
    """The identity stays required for unknown account types too."""
    with pytest.raises(ResponseDecodeError) as info:
        decode(dumps({"items": [{"type": "FAX"}]}), AccountList, endpoint="GET /accounts")

    assert info.value.path == "$.items[0]"
    assert "id" in str(info.value)


def test_fast_path_never_touches_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body that fits its model is decoded without the slow path."""

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("fallback used")

    monkeypatch.setattr(_decoding, "_decode_tolerantly", fail)
    body = dumps({"items": [message(attachments=[{"type": "img", "id": "a"}])], "cursor": None})

    page = decode(body, MessageList, endpoint="GET /messages")

    assert page.items[0].attachments[0].type == "img"


def test_unknown_type_goes_through_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new attachment type is what sends a page down the slow path."""
    calls: list[object] = []
    original = _decoding._decode_tolerantly

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(_decoding, "_decode_tolerantly", spy)

    page = decode(
        dumps({"items": [message(attachments=[{"type": "hologram", "id": "h"}])]}),
        MessageList,
        endpoint="GET /messages",
    )

    assert calls == [MessageList]
    assert isinstance(page.items[0].attachments[0], UnknownAttachment)


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(Account, id="Account"),
        pytest.param(AccountList, id="AccountList"),
        pytest.param(Chat, id="Chat"),
        pytest.param(ChatList, id="ChatList"),
        pytest.param(Message, id="Message"),
        pytest.param(MessageList, id="MessageList"),
        pytest.param(ErrorBody, id="ErrorBody"),
    ],
)
def test_decoders_are_built_once_on_first_use(model: Any) -> None:
    """Each model's decoder is built by its first use, then reused (never built twice)."""
    decoder = _decoding._decoder(model)

    assert isinstance(decoder, msgspec.json.Decoder)
    assert _decoding._DECODERS[model] is decoder
    assert _decoding._decoder(model) is decoder


def test_decoder_for_another_model_is_cached() -> None:
    """A model not built at import gets one decoder, reused afterwards."""

    class Probe(msgspec.Struct, frozen=True, kw_only=True):
        n: int

    assert decode(b'{"n": 1}', Probe, endpoint="GET /probe") == Probe(n=1)
    decoder = _decoding._DECODERS[Probe]
    assert decode(b'{"n": 2}', Probe, endpoint="GET /probe") == Probe(n=2)
    assert _decoding._DECODERS[Probe] is decoder


def test_fallback_for_a_model_without_tagged_unions_reports_the_first_error() -> None:
    """Models with nothing to rewrite go straight to the error."""

    class Probe(msgspec.Struct, frozen=True, kw_only=True):
        n: int

    with pytest.raises(ResponseDecodeError) as info:
        decode(b'{"n": "one"}', Probe, endpoint="GET /probe")

    assert info.value.path == "$.n"


# --- decode_error_body ------------------------------------------------------------


def test_error_envelope() -> None:
    """The documented envelope decodes field by field."""
    body = dumps(
        {
            "title": "Invalid parameters",
            "detail": "limit must be at most 250",
            "instance": "req_123",
            "type": "errors/invalid_parameters",
            "status": 400,
        }
    )

    assert decode_error_body(body) == ErrorBody(
        title="Invalid parameters",
        detail="limit must be at most 250",
        instance="req_123",
        type="errors/invalid_parameters",
        status=400,
    )


def test_error_envelope_with_extra_and_missing_fields() -> None:
    """Optional fields may be missing and unknown ones are ignored."""
    body = b'{"title": "Not found", "status": 404, "type": "errors/resource_not_found", "x": 1}'

    assert decode_error_body(body) == ErrorBody(
        title="Not found", status=404, type="errors/resource_not_found"
    )


def test_error_envelope_with_wrongly_typed_fields_keeps_the_rest() -> None:
    """A field of the wrong type is dropped; a numeric string status is read as a number."""
    body = b'{"title": ["?"], "type": "errors/provider_error", "status": "500", "detail": 3}'

    assert decode_error_body(body) == ErrorBody(type="errors/provider_error", status=500)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html><body><h1>502 Bad Gateway</h1></body></html>", id="html"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[]", id="json-array"),
        pytest.param(b'"Service Unavailable"', id="json-string"),
        pytest.param(b"null", id="json-null"),
        pytest.param(b"{}", id="empty-object"),
        pytest.param(b'{"message": "upstream timed out"}', id="object-without-envelope-fields"),
        pytest.param(b'{"title": "Bad Gat', id="truncated"),
        pytest.param(b'{"type": 502, "title": "Bad Gat', id="truncated-after-a-mismatch"),
        pytest.param(b"[" * 100_000, id="nested-too-deep"),
    ],
)
def test_not_an_error_envelope(body: bytes) -> None:
    """A body that is not a JSON error envelope gives ``None``."""
    assert decode_error_body(body) is None


# --- Robustness -------------------------------------------------------------------

_ODD_VALUES: list[Any] = [
    None,
    -1,
    1.5,
    True,
    "x",
    "2026-01-01T00:00:00Z",
    [],
    {},
    {"type": "zz"},
    [{"type": "nope"}],
    {"type": 3},
]


def _mutate(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            roll = rng.random()
            if roll < 0.04:
                continue
            out[key] = rng.choice(_ODD_VALUES) if roll < 0.12 else _mutate(item, rng)
        return out
    if isinstance(value, list):
        return [_mutate(item, rng) for item in value]
    return value


def _outcome(body: bytes, model: Any) -> str:
    try:
        decode(body, model, endpoint="GET /fuzz")
    except ResponseDecodeError:
        return "rejected"
    return "decoded"


def test_mutated_bodies_only_ever_raise_response_decode_error() -> None:
    """Randomly damaged bodies decode or raise ``ResponseDecodeError``, nothing else."""
    rng = random.Random(20260517)
    seeds = [
        {"items": [account("SLACK", {"im": {}}), account("NEW", {"x": 1})], "cursor": None},
        {"items": [chat(lastMessage=message(attachments=[{"type": "q", "id": "1"}]))]},
        {
            "items": [
                message(
                    attachments=[{"type": "img", "id": "a"}, {"type": "x"}],
                    quoted={"attachments": [{"type": "y"}]},
                )
            ]
        },
        {"title": "Bad", "type": "errors/x", "status": 400},
    ]
    models: list[Any] = [AccountList, ChatList, Chat, MessageList, Message, Account]
    outcomes = {"decoded": 0, "rejected": 0}

    for _ in range(400):
        body = dumps(_mutate(rng.choice(seeds), rng))
        if rng.random() < 0.2:
            body = body[: rng.randrange(len(body))]
        for model in models:
            outcomes[_outcome(body, model)] += 1
        envelope = decode_error_body(body)
        assert envelope is None or isinstance(envelope, ErrorBody)

    assert outcomes["decoded"] > 0
    assert outcomes["rejected"] > 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b'{"items":[1],"cursor":"c2"}', (True, "c2"), id="last-member"),
        pytest.param(b'{"items": [], "cursor" : "c2"}', (True, "c2"), id="spaced-colon"),
        pytest.param(b'{"cursor":"c2","items":[]}', (True, "c2"), id="first-member"),
        pytest.param(b'{"cursor":"c2","items":[{"cursor":"x"}]}', (True, "c2"), id="nested-after"),
        pytest.param(b'{"items":[{"cursor":"x"}]}', (True, None), id="only-nested"),
        pytest.param(b'{"a\\"cursor":"x","cursor":null}', (True, None), id="key-ending-in-cursor"),
        pytest.param(b'{"items":[],"cursor":"a","cursor":"b"}', (True, "b"), id="duplicate"),
        pytest.param(b'{"items":[]}', (True, None), id="no-cursor"),
        pytest.param(b'{"items":[],"cursor":5}', (False, None), id="numeric-cursor"),
        pytest.param(b'{"items":[],"cursor":"c2"', (False, None), id="truncated"),
        # Not a page at all: the full decode raises at this page, whatever the peek said.
        pytest.param(b'{"items":[]} {"cursor":"c2"}', (True, "c2"), id="trailing-garbage"),
        pytest.param(b'{"items":[],"cursor":"\xff"}', (False, None), id="invalid-utf8"),
        pytest.param(b"[]", (False, None), id="array"),
        pytest.param(b"<html>502</html>", (False, None), id="html"),
    ],
)
def test_peek_cursor_reads_the_top_level_cursor_or_admits_it_cannot(
    body: bytes, expected: tuple[bool, str | None]
) -> None:
    """For a body that decodes, the cursor read ahead of the items is the page's own."""
    assert _decoding.peek_cursor(body) == expected


def test_peek_cursor_agrees_with_the_full_decode_on_damaged_bodies() -> None:
    """Whenever the peek claims a cursor and the page decodes, the page has that cursor."""
    rng = random.Random(13)
    seed = {
        "items": [message(text='say "cursor": "x"'), {"id": "m2", "cursor": "inner"}],
        "cursor": "c2",
        "object": "MessageList",
    }
    agreed = 0
    for _ in range(400):
        body = dumps(_mutate(seed, rng))
        if rng.random() < 0.2:
            body = body[: rng.randrange(len(body))]
        known, cursor = _decoding.peek_cursor(body)
        try:
            page = decode(body, MessageList, endpoint="GET /messages")
        except ResponseDecodeError:
            continue
        assert known
        assert cursor == page.cursor
        agreed += 1
    assert agreed > 0
