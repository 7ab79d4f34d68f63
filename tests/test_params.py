"""Parameter validation and encoding: pure functions, no event loop."""

from __future__ import annotations

import pytest

from postpress_async import InvalidParameterError
from postpress_async._params import (
    encode_account_ids,
    encode_account_type,
    encode_bool,
    encode_limit,
    encode_query,
    path_segment,
)


@pytest.mark.parametrize("value", [1, 100, 250])
def test_limits_in_range_pass(value: int) -> None:
    assert encode_limit(value) == str(value)


@pytest.mark.parametrize("value", [0, -1, 251, 1000, True, 2.5, "10"])
def test_limits_out_of_range_or_wrong_type_are_refused(value: object) -> None:
    with pytest.raises(InvalidParameterError, match="limit"):
        encode_limit(value)  # type: ignore[arg-type]


def test_bools_are_sent_lowercase() -> None:
    assert (encode_bool("unread", True), encode_bool("unread", False)) == ("true", "false")


def test_a_non_bool_unread_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="unread"):
        encode_bool("unread", "yes")  # type: ignore[arg-type]


def test_account_ids_accept_one_id_or_a_sequence() -> None:
    assert encode_account_ids("account_id", "acc_1") == "acc_1"
    assert encode_account_ids("account_id", ["acc_1", "acc_2"]) == "acc_1,acc_2"
    assert encode_account_ids("account_id", ("acc_1",)) == "acc_1"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([], id="empty-sequence"),
        pytest.param([""], id="empty-id"),
        pytest.param(["a,b"], id="comma-in-id"),
        pytest.param([1], id="non-str"),
        pytest.param(7, id="int"),
    ],
)
def test_bad_account_ids_are_refused(value: object) -> None:
    with pytest.raises(InvalidParameterError, match="account_id"):
        encode_account_ids("account_id", value)  # type: ignore[arg-type]


def test_account_type_must_be_a_documented_provider() -> None:
    assert encode_account_type("LINKEDIN") == "LINKEDIN"
    with pytest.raises(InvalidParameterError, match="account_type: must be one of WHATSAPP"):
        encode_account_type("linkedin")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        pytest.param("msg_01HX", "msg_01HX", id="plain"),
        pytest.param("../accounts", "..%2Faccounts", id="dot-dot-slash"),
        pytest.param("a/b?c#d", "a%2Fb%3Fc%23d", id="slash-query-fragment"),
        pytest.param("urn:li:msg:2=x/y", "urn%3Ali%3Amsg%3A2%3Dx%2Fy", id="provider-id"),
        pytest.param("100%", "100%25", id="percent"),
        pytest.param("a b+c&d", "a%20b%2Bc%26d", id="space-plus-amp"),
    ],
)
def test_path_ids_become_exactly_one_segment(raw: str, encoded: str) -> None:
    segment = path_segment("message_id", raw)
    assert segment == encoded
    assert "/" not in segment
    assert "?" not in segment
    assert "#" not in segment


@pytest.mark.parametrize("raw", ["", ".", ".."])
def test_dot_segments_and_empty_ids_are_refused(raw: str) -> None:
    with pytest.raises(InvalidParameterError, match="chat_id"):
        path_segment("chat_id", raw)


def test_query_drops_none_and_encodes_values() -> None:
    query = encode_query({"a": "x&y=z", "b": None, "account_id": "acc_1,acc_2"})
    assert query == "?a=x%26y%3Dz&account_id=acc_1,acc_2"
    assert encode_query({"b": None}) == ""


def test_the_account_type_filter_accepts_exactly_the_provider_enum() -> None:
    """One value set: the ``account_type`` Literal and ``models.Provider`` agree."""
    from postpress_async._params import ACCOUNT_TYPES
    from postpress_async.models import Provider

    assert set(ACCOUNT_TYPES) == {provider.value for provider in Provider}
    assert encode_account_type("TELEGRAM") == "TELEGRAM"
