"""``decode`` and ``decode_error_body``: the fast path, the fallback and bad bodies."""

from __future__ import annotations

import random
import re
from typing import Any

import msgspec
import pytest

from postpress_async import _decoding, _surrogates
from postpress_async._decoding import decode
from postpress_async._error_body import decode_error_body
from postpress_async._exceptions import ResponseDecodeError, UnreadableItemError
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
from tests.models._payloads import account, chat, dumps, message


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


def test_error_envelope_with_a_status_too_long_for_int_keeps_the_rest() -> None:
    """A status string past Python's int-string digit limit is dropped, not a bare ValueError."""
    body = b'{"type": "errors/provider_error", "status": "' + b"9" * 5000 + b'"}'

    assert decode_error_body(body) == ErrorBody(type="errors/provider_error")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b'{"title": "Down \\ud83d", "type": "errors/provider_error", "status": 500}',
            ErrorBody(title="Down \ufffd", type="errors/provider_error", status=500),
            id="typed",
        ),
        pytest.param(
            b'{"status": "500", "type": "errors/provider_error", "title": "Down \\ud83d"}',
            ErrorBody(title="Down \ufffd", type="errors/provider_error", status=500),
            id="after-a-mismatch",
        ),
        pytest.param(
            b'{"title": "Panne r\xe9seau", "type": "errors/provider_error", "status": 500}',
            ErrorBody(title="Panne r\ufffdseau", type="errors/provider_error", status=500),
            id="latin-1-byte",
        ),
        pytest.param(
            b'{"status": "500", "type": "errors/provider_error", "detail": "cut \xf0\x9f"}',
            ErrorBody(type="errors/provider_error", status=500, detail="cut \ufffd"),
            id="not-utf8-after-a-mismatch",
        ),
        pytest.param(
            b'{"title": "x\xff \\ud83d", "type": "errors/no_channel"}',
            ErrorBody(title="x\ufffd \ufffd", type="errors/no_channel"),
            id="not-utf8-and-a-lone-surrogate",
        ),
    ],
)
def test_error_envelope_with_a_lone_surrogate_or_bad_utf8_is_read_repaired(
    body: bytes, expected: ErrorBody
) -> None:
    """A text the server cut mid-emoji (a lone surrogate escape) or a byte that is not
    UTF-8 (a proxy's Latin-1, a text cut mid-character) keeps the envelope, read as
    U+FFFD: its type still decides the retry."""
    assert decode_error_body(body) == expected


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


_LONG = "x" * 70_000


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b'{"type": "errors/provider_error", "status": 500, "title": "Down", "detail": "xxx',
            ErrorBody(type="errors/provider_error", status=500, title="Down"),
            id="cut-in-the-detail",
        ),
        pytest.param(
            b'{"title": "Down", "detail": "xxx',
            ErrorBody(title="Down"),
            id="the-documented-order-keeps-the-title",
        ),
        pytest.param(
            b'{"type": "errors/no_channel", "status": 50',
            ErrorBody(type="errors/no_channel"),
            id="a-number-cut-is-no-number",
        ),
        pytest.param(
            b'{"type": "errors/no_channel", "status": 503',
            ErrorBody(type="errors/no_channel"),
            id="a-number-at-the-cut-may-go-on",
        ),
        pytest.param(
            b'{"type": "errors/no_channel", "status": 503 ',
            ErrorBody(type="errors/no_channel", status=503),
            id="a-number-ended-by-a-space",
        ),
        pytest.param(
            b'{"type": "errors/no_channel", "sta',
            ErrorBody(type="errors/no_channel"),
            id="cut-in-a-key",
        ),
        pytest.param(
            b'{"type": "errors/no_channel", "status":',
            ErrorBody(type="errors/no_channel"),
            id="cut-after-the-colon",
        ),
        pytest.param(
            b'{"title": "say \\"hi\\" \\\\", "type": "errors/x", "detail": "a \\"quoted',
            ErrorBody(title='say "hi" \\', type="errors/x"),
            id="escaped-quotes-and-backslashes",
        ),
        pytest.param(
            b'{"meta": {"a": [1, "}]"], "b": {}}, "type": "errors/x", "status": 500, "detail": "',
            ErrorBody(type="errors/x", status=500),
            id="past-a-nested-value",
        ),
        pytest.param(
            b'{"meta": {"a": [1, 2], "type": "errors/nested", "detail": "',
            None,
            id="cut-inside-a-nested-value",
        ),
        pytest.param(
            b'{"type": "errors/provider_error", "detail": "caf\xc3',
            ErrorBody(type="errors/provider_error"),
            id="cut-mid-character",
        ),
        pytest.param(
            b'{"status": "500", "type": "errors/provider_error", "detail": "xxx',
            ErrorBody(type="errors/provider_error", status=500),
            id="cut-after-a-mismatch",
        ),
        pytest.param(
            b'{"type": "errors/provider_error", "detail": "' + _LONG.encode()[:65_000],
            ErrorBody(type="errors/provider_error"),
            id="64-kib",
        ),
    ],
)
def test_an_error_envelope_cut_short_keeps_the_members_that_arrived_whole(
    body: bytes, expected: ErrorBody | None
) -> None:
    """A body over ``Limits.max_error_body_bytes`` is cut: its ``type`` (the retry, the
    error's advice) must not be lost with the long ``detail`` after it. Only members whole
    before the cut count: a number at the cut might have gone on, a text cut is no text."""
    assert decode_error_body(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"type": "errors/x", oops', id="junk-after-a-member"),
        pytest.param(b'{"type": "errors/x"} trailing', id="ended-then-junk"),
        pytest.param(b'{"type" "errors/x", "detail": "', id="no-colon"),
        pytest.param(b'{"type": trux, "title": "t", "detail": "', id="a-bad-literal"),
        pytest.param(b'x{"type": "errors/x", "detail": "', id="not-an-object"),
    ],
)
def test_a_broken_body_that_was_not_cut_is_still_no_envelope(body: bytes) -> None:
    """Only a body that ran out is read up to its cut: one broken mid-way is not JSON."""
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
        pytest.param(b'{"items":[],"cursor":""}', (False, None), id="empty-cursor"),
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


# --- Lone surrogates --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(rb'["a\ud83d"]', rb'["a\ufffd"]', id="high-alone-at-end-of-string"),
        pytest.param(rb'["\ud83dz"]', rb'["\ufffdz"]', id="high-then-text"),
        pytest.param(rb'["\ud83d\u0041"]', rb'["\ufffd\u0041"]', id="high-then-other-escape"),
        pytest.param(rb'["\ud83d\n"]', rb'["\ufffd\n"]', id="high-then-short-escape"),
        pytest.param(rb'["\ud83d\ud83d\ude00"]', rb'["\ufffd\ud83d\ude00"]', id="high-then-pair"),
        pytest.param(rb'["\ude00x"]', rb'["\ufffdx"]', id="low-alone"),
        pytest.param(rb'["\ud83d\ude00\ude00"]', rb'["\ud83d\ude00\ufffd"]', id="pair-then-low"),
        pytest.param(rb'["\ud83d", "\ude00"]', rb'["\ufffd", "\ufffd"]', id="halves-in-two-texts"),
        pytest.param(rb'["\uD83D\uDe00"]', None, id="pair-in-mixed-case"),
        pytest.param(rb'["\uD83D", "\uDbFf"]', rb'["\ufffd", "\ufffd"]', id="upper-case-alone"),
        pytest.param(rb'["\ud83d\ude00"]', None, id="valid-pair"),
        pytest.param(rb'["\\ud83d"]', None, id="escaped-backslash-then-text"),
        pytest.param(rb'["\\\ud83d"]', rb'["\\\ufffd"]', id="escaped-backslash-then-escape"),
        pytest.param(rb'["\\\\ud83d"]', None, id="two-escaped-backslashes-then-text"),
        pytest.param(rb'["\"\ud83d"]', rb'["\"\ufffd"]', id="escaped-quote-then-escape"),
        pytest.param(rb'["\ud7ff\ue000"]', None, id="just-outside-the-surrogates"),
        pytest.param(b'["plain \\u00e9"]', None, id="nothing-to-repair"),
        pytest.param(b"", None, id="empty"),
    ],
)
def test_repair_lone_surrogates(body: bytes, expected: bytes | None) -> None:
    """Each lone surrogate escape, and only those, becomes ``\\ufffd``."""
    repaired = _surrogates.repair_lone_surrogates(body)

    assert repaired == expected
    if repaired is not None:
        assert len(repaired) == len(body)


_PIECES = [
    rb"\ud83d",
    rb"\uDE00",
    rb"\udbff",
    rb"\udc00",
    rb"\\",
    rb"\\u",
    rb"\u0041",
    rb"\"",
    b"ud83d",
    rb"\n",
    b"a",
    "\u00e9".encode(),
]


def test_repair_agrees_with_a_reference_decoder() -> None:
    """Random texts: msgspec reads the repaired body as Python's json reads the original.

    ``json.loads`` keeps lone surrogates as such (and joins valid pairs): replacing each
    one with U+FFFD is the meaning the repair must give the body.
    """
    import json

    rng = random.Random(7)
    repaired_some = 0
    for _ in range(2000):
        texts = [b"".join(rng.choices(_PIECES, k=rng.randrange(8))) for _ in range(3)]
        body = b'{"t": ["' + b'", "'.join(texts) + b'"]}'
        expected = [re.sub("[\ud800-\udfff]", "\ufffd", text) for text in json.loads(body)["t"]]

        repaired = _surrogates.repair_lone_surrogates(body)

        if repaired is None:
            assert msgspec.json.decode(body)["t"] == expected
        else:
            repaired_some += 1
            assert len(repaired) == len(body)
            assert msgspec.json.decode(repaired)["t"] == expected
    assert repaired_some > 100


def test_a_lone_surrogate_decodes_to_the_replacement_character() -> None:
    """msgspec refuses the body; the repaired copy gives U+FFFD where the lone half was."""
    body = dumps({"items": [message(text="cut LONE"), message(id="m2", text="pair PAIR")]})
    body = body.replace(b"LONE", rb"\ud83d").replace(b"PAIR", rb"\ud83d\ude00")
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(body)

    page = decode(body, MessageList, endpoint="GET /messages")

    assert [m.text for m in page.items] == ["cut \ufffd", "pair \U0001f600"]


def test_a_nul_in_a_text_decodes_as_is() -> None:
    """``\\u0000`` needs no repair: it is U+0000 in the model."""
    page = decode(dumps({"items": [message(text="a\x00b")]}), MessageList, endpoint="GET /messages")

    assert page.items[0].text == "a\x00b"


def test_a_lone_surrogate_after_an_unknown_member_decodes_too() -> None:
    """The typed decoder stops at the unknown attachment first; the rewrite meets the surrogate."""
    body = dumps({"items": [message(attachments=[{"type": "hologram"}], text="x LONE")]})
    body = body.replace(b"LONE", rb"\udc00")

    page = decode(body, MessageList, endpoint="GET /messages")

    assert isinstance(page.items[0].attachments[0], UnknownAttachment)
    assert page.items[0].text == "x \ufffd"


def test_a_fault_in_a_repaired_body_names_its_path_and_the_body_as_sent() -> None:
    """The repair changes nothing else: a wrong type is still reported, with the original body."""
    body = dumps({"items": [message(text="LONE", timestamp=5)]}).replace(b"LONE", rb"\ud83d")

    with pytest.raises(ResponseDecodeError) as info:
        decode(body, MessageList, endpoint="GET /messages")

    assert info.value.path == "$.items[0].timestamp"
    assert info.value.body == body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(rb'{"items": [{"id": "a\ud83d"', id="truncated"),
        pytest.param(rb"<html>\ud83d</html>", id="html"),
        pytest.param(rb'{"items": [{"id": "a\ud83d"}]} trailing', id="trailing-garbage"),
        pytest.param(b'{"items": [{"id": "a\\ud83d\xff"}]}', id="not-utf8"),
    ],
)
def test_a_body_that_is_not_json_still_fails_with_lone_surrogates(body: bytes) -> None:
    """The repair is no licence: a body that is not JSON stays a ResponseDecodeError."""
    with pytest.raises(ResponseDecodeError, match="body is not valid JSON") as info:
        decode(body, MessageList, endpoint="GET /messages")

    assert info.value.path is None
    assert info.value.body == body


def test_clean_bodies_never_call_the_repair(monkeypatch: pytest.MonkeyPatch) -> None:
    """Zero cost for clean bodies: the repair runs only after msgspec refused one."""

    def fail(body: bytes) -> None:
        raise AssertionError("repair called")

    monkeypatch.setattr(_surrogates, "repair_lone_surrogates", fail)
    body = dumps({"items": [message(text="\\ud83d is how it is written")], "cursor": "c"})

    assert decode(body, MessageList, endpoint="GET /messages").items[0].text.startswith("\\u")
    assert _decoding.peek_cursor(body) == (True, "c")
    page, unreadable = _decoding.decode_page(body, MessageList, endpoint="GET /messages")
    assert (len(page.items), unreadable) == (1, [])


def test_peek_cursor_reads_past_a_lone_surrogate() -> None:
    """A cursor before the items: the tail is not a page alone, the repaired body is."""
    body = rb'{"cursor":"c2","items":[{"id":"m1","text":"\ud83d"}]}'

    assert _decoding.peek_cursor(body) == (True, "c2")


# --- decode_page: one bad item never costs the page -------------------------------


def test_decode_page_of_a_page_that_fits_takes_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page that fits is one ``decode``: the item-by-item path is never built."""

    def fail(model: object) -> None:
        raise AssertionError("item by item")

    monkeypatch.setattr(_decoding, "_page_parts", fail)
    body = dumps({"object": "MessageList", "items": [message()], "cursor": "c2"})

    page, unreadable = _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    assert page == decode(body, MessageList, endpoint="GET /messages")
    assert unreadable == []


def _pretty_page_with_bad_items() -> tuple[bytes, list[bytes]]:
    """A pretty-printed page: good, wrong timestamp, good, numeric id, "oops", null, good."""
    items = [
        message(id="m0"),
        message(id="m1", timestamp=1778942191465),
        message(id="m2", attachments=[{"type": "hologram", "id": "h"}], text="cut LONE"),
        message(id=42),
        "oops",
        None,
        message(id="m6", text="nul \x00"),
    ]
    raws = [
        msgspec.json.format(dumps(item), indent=2).replace(b"LONE", rb"\ud83d") for item in items
    ]
    body = b'{\n  "object": "MessageList",\n  "items": [\n    ' + b" ,\n    ".join(raws)
    return body + b'\n  ],\n  "cursor": "c2"\n}', raws


def test_decode_page_sets_bad_items_aside_and_keeps_the_rest() -> None:
    """Good items in order; each bad one with its exact bytes, its index and its page path."""
    body, raws = _pretty_page_with_bad_items()

    page, unreadable = _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    assert isinstance(page, MessageList)
    assert [m.id for m in page.items] == ["m0", "m2", "m6"]
    assert (page.cursor, page.object) == ("c2", "MessageList")
    assert isinstance(page.items[1].attachments[0], UnknownAttachment)
    assert page.items[1].text == "cut \ufffd"
    assert page.items[2].text == "nul \x00"
    assert [(u.index, u.error.path) for u in unreadable] == [
        (1, "$.items[1].timestamp"),
        (3, "$.items[3].id"),
        (4, "$.items[4]"),
        (5, "$.items[5]"),
    ]
    assert [u.raw for u in unreadable] == [raws[1], raws[3], b'"oops"', b"null"]
    first = unreadable[0].error
    assert isinstance(first, ResponseDecodeError)
    assert first.endpoint == "GET /messages"
    assert first.body == body
    assert "Expected `datetime | null`, got `int`" in str(first)


def test_decode_page_keeps_unknown_accounts_readable() -> None:
    """An account of an unknown type is an UnknownAccount, not an unreadable item."""
    body = dumps(
        {
            "items": [
                account("BLUESKY", {"x": 1}, id="acc_new"),
                account("SLACK", {"im": {"url": 1}}, id="acc_bad"),
                account("SLACK", {"im": {}}, id="acc_ok"),
            ]
        }
    )

    page, unreadable = _decoding.decode_page(body, AccountList, endpoint="GET /accounts")

    assert [(type(a).__name__, a.id) for a in page.items] == [
        ("UnknownAccount", "acc_new"),
        ("SlackAccount", "acc_ok"),
    ]
    assert [(u.index, u.error.path) for u in unreadable] == [
        (1, "$.items[1].connection_params.im.url")
    ]


def test_decode_page_keeps_a_lone_surrogate_item_as_sent() -> None:
    """The unreadable item's bytes are the original ones, not the repaired copy."""
    body = rb'{"items":[{"id":"m0","text":"\ud83d"},{"id":"m1","text":"\udc00","seen":"x"}]}'

    page, unreadable = _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    assert [m.text for m in page.items] == ["\ufffd"]
    assert unreadable[0].raw == rb'{"id":"m1","text":"\udc00","seen":"x"}'
    assert unreadable[0].error.path == "$.items[1].seen"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        pytest.param(
            dumps({"items": [{"id": 1}], "cursor": 5}), "$.cursor", id="cursor-after-bad-item"
        ),
        pytest.param(dumps({"items": {"id": "m"}}), "$.items", id="items-not-a-list"),
        pytest.param(dumps([message()]), "$", id="page-not-an-object"),
        pytest.param(rb'{"items":[{"id":1}],"cursor":"\ud83d', None, id="not-json"),
    ],
)
def test_decode_page_still_fails_on_a_fault_outside_the_items(
    body: bytes, path: str | None
) -> None:
    """Only item faults are set aside; the page's own faults stay page errors."""
    with pytest.raises(ResponseDecodeError) as info:
        _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    assert info.value.path == path
    assert info.value.body == body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"items":[{"id":"b","text":"\xff"},{"id":1}]}', id="first"),
        pytest.param(b'{"items":[{"id":1},{"id":"b","text":"\xff"}]}', id="after-a-bad-item"),
        pytest.param(b'{"items":[{"id":1,"text":"\xff"}]}', id="in-a-bad-item"),
    ],
)
def test_decode_page_of_invalid_utf8_is_not_json_wherever_it_is(body: bytes) -> None:
    """Invalid UTF-8 is a body that is not JSON, also where the page is read item by item
    (msgspec cuts raw items without checking it): a typed error, never msgspec's own."""
    with pytest.raises(ResponseDecodeError, match="body is not valid JSON") as info:
        _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    assert info.value.path is None
    assert info.value.body == body


def test_unreadable_item_error_names_each_fault() -> None:
    """The error lists where and why, and carries the items."""
    body, _ = _pretty_page_with_bad_items()
    _, unreadable = _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    error = UnreadableItemError(unreadable[:2], endpoint="GET /messages")

    assert isinstance(error, ResponseDecodeError)
    assert error.items == unreadable[:2]
    assert str(error) == (
        "2 items of GET /messages could not be read: "
        "$.items[1].timestamp: Expected `datetime | null`, got `int` (item id 'm1'); "
        "$.items[3].id: Expected `str`, got `int`"
    )
    assert (error.endpoint, error.path, error.body) == (
        "GET /messages",
        "$.items[1].timestamp",
        body,
    )
    one = UnreadableItemError(unreadable[2:3], endpoint="GET /messages")
    assert str(one).startswith("1 item of GET /messages could not be read: $.items[4]: ")


def test_unreadable_item_error_cuts_a_long_list() -> None:
    body = dumps({"items": [{"id": n} for n in range(9)]})
    _, unreadable = _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    text = str(UnreadableItemError(unreadable, endpoint="GET /messages"))

    assert text.startswith("9 items of GET /messages could not be read: $.items[0].id")
    assert text.endswith("$.items[4].id: Expected `str`, got `int`; and 4 more")


def test_unreadable_item_repr_is_cut() -> None:
    """A huge item does not flood a log line or a traceback."""
    body = dumps({"items": [message(text="x" * 100_000, seen="?")]})
    _, [item] = _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    text = repr(item)

    assert len(item.raw) > 100_000
    assert len(text) < 300
    assert "index=0" in text
    assert "$.items[0].seen" in text
    assert f"({len(item.raw)} bytes)" in text


def test_decode_page_cuts_the_items_msgspec_read_from_a_duplicate_key() -> None:
    """msgspec keeps the last ``items``: the bytes as sent come from that array too."""
    body = rb'{"items":[{"id":"\udc00","seen":"x"}],"items":[{"id":"\ud83d","seen":"x"}]}'

    _, [item] = _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    assert item.raw == rb'{"id":"\ud83d","seen":"x"}'


@pytest.mark.parametrize("resource", ["messages", "accounts"])
def test_decode_page_reads_the_fakes_quirky_pages_as_decode_does(resource: str) -> None:
    """Unknown members inside items (attachments, an account type) are read item by item,
    to the very same page."""
    from postpress_async.testing import Dataset
    from postpress_async.testing._api import Api

    api = Api(Dataset(messages=600, quirks=True), api_key="k", page_cache_bytes=0)
    reply = getattr(api, f"{resource}_list")({"limit": "250"})
    model = {"messages": MessageList, "accounts": AccountList}[resource]
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(reply.body, type=model)  # so the slow path is what is tested

    page, unreadable = _decoding.decode_page(reply.body, model, endpoint="GET /x")

    assert unreadable == []
    assert page == decode(reply.body, model, endpoint="GET /x")


def test_unreadable_item_error_names_the_item_id() -> None:
    """A bad item's error names the id it was sent with (where it has a readable one), so
    a user can look the item up: an index in a page of 250 says nothing afterwards."""
    body = dumps(
        {
            "items": [
                message(id="msg_ok"),
                message(id="msg_bad_att", attachments=[{"type": "img"}]),
                message(id=7),
                "oops",
            ]
        }
    )

    _, unreadable = _decoding.decode_page(body, MessageList, endpoint="GET /messages")

    assert [str(item.error) for item in unreadable] == [
        "GET /messages: response does not fit its model at $.items[1].attachments[0]: "
        "Object missing required field `id` (item id 'msg_bad_att')",
        "GET /messages: response does not fit its model at $.items[2].id: "
        "Expected `str`, got `int`",
        "GET /messages: response does not fit its model at $.items[3]: "
        "Expected `object`, got `str`",
    ]
    assert "(item id 'msg_bad_att')" in str(UnreadableItemError(unreadable, endpoint="x"))
