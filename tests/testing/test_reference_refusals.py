"""The fake against the API reference (``/work/shared/api``), request by request.

Each row is a request the reference makes invalid, sent over HTTP as a user's own code
would send it (not through the SDK, which refuses most of these before sending), with the
status and error ``type`` the reference implies. Only ``GET /accounts`` documents its 400
types; the other endpoints document none, so their malformed parameters take the closest
documented one, ``errors/invalid_parameters`` (``errors/limit_too_high`` past 250). A
method other than GET or HEAD is a 405 the reference does not list: its ``type`` is the
closest documented one, ``errors/invalid_action`` ("This action is invalid."). An empty
path id is the retrieve pages' ``errors/invalid_resource_identifier`` ("not a valid chat
id"). Unknown parameters are ignored, as the real API most likely does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import msgspec
import pytest

from postpress_async.testing import Dataset, FakePostpress

ENVELOPE_KEYS = {"title", "detail", "instance", "type", "status"}
BAD = "errors/invalid_parameters"
TOO_HIGH = "errors/limit_too_high"
NO_METHOD = "errors/invalid_action"
NOT_AN_ID = "errors/invalid_resource_identifier"
Query = list[tuple[str, str]]

LISTS = ("accounts", "chats", "messages")
RETRIEVES = ("chats/{chat}", "messages/{message}")
TIMED = ("chats", "messages")


def _row(path: str, query: Query, status: int, error_type: str, case: str) -> Any:
    return pytest.param("GET", path, query, status, error_type, id=f"{path}-{case}")


def _value_rows() -> Iterator[Any]:
    """Each parameter of each endpoint outside its bounds, format or enum."""
    for path in LISTS:
        for case, limit in {
            "limit-0": "0",
            "limit-neg": "-1",
            "limit-word": "abc",
            "limit-empty": "",
            "limit-float": "2.5",
            "limit-exp": "1e2",
            "limit-space": " 5",
        }.items():
            yield _row(path, [("limit", limit)], 400, BAD, case)
        yield _row(path, [("limit", "251")], 400, TOO_HIGH, "limit-251")
        yield _row(path, [("limit", "100000")], 400, TOO_HIGH, "limit-huge")
        for case, cursor in {
            "cursor-empty": "",
            "cursor-chars": "!!!",
            "cursor-space": "bm9 wZQ==",
            "cursor-junk": "%%%",
            "cursor-b64-other": "bm9wZQ==",
            "cursor-short": "x",
        }.items():
            yield _row(path, [("cursor", cursor)], 400, BAD, case)
    for path in TIMED:
        for name in ("before", "after"):
            for case, value in {
                "plus2": "2026-05-17T09:00:00.000+02:00",
                "minus5": "2026-05-17T09:00:00.000-05:00",
                "minus0": "2026-05-17T09:00:00.000-00:00",
                "plus0030": "2026-05-17T09:00:00+00:30",
                "naive": "2026-05-17T09:00:00.000",
                "date": "2026-05-17",
                "feb30": "2026-02-30T00:00:00.000Z",
                "word": "yesterday",
                "empty": "",
                "lower-z": "2026-05-17T09:00:00.000z",
            }.items():
                yield _row(path, [(name, value)], 400, BAD, f"{name}-{case}")
        yield _row(path, [("account_id", "")], 400, BAD, "account-empty")
    for case, value in {"mail": "MAIL", "lower": "whatsapp", "empty": "", "other": "SMS"}.items():
        yield _row("chats", [("account_type", value)], 400, BAD, f"type-{case}")
    for case, value in {
        "yes": "yes",
        "one": "1",
        "empty": "",
        "python-true": "True",
        "upper": "TRUE",
    }.items():
        yield _row("chats", [("unread", value)], 400, BAD, f"unread-{case}")
    yield _row("chats", [("account_id", ",")], 400, BAD, "account-comma")
    yield _row("messages", [("sender_id", "")], 400, BAD, "sender-empty")
    yield _row("chats/{chat}", [("account_id", "")], 400, BAD, "account-empty")


def _repeat_rows() -> Iterator[Any]:
    """A parameter of the endpoint given twice: which one counts is anyone's guess."""
    for path in LISTS:
        yield _row(path, [("limit", "1"), ("limit", "2")], 400, BAD, "limit-twice")
        yield _row(path, [("cursor", "{cursor}")] * 2, 400, BAD, "cursor-twice")
    for path in TIMED:
        for name in ("before", "after"):
            twice = [(name, "2026-05-17T09:00:00.000Z"), (name, "2026-01-01T00:00:00.000Z")]
            yield _row(path, twice, 400, BAD, f"{name}-twice")
        yield _row(path, [("account_id", "a"), ("account_id", "b")], 400, BAD, "account-twice")
    yield _row("chats", [("account_type", "SLACK")] * 2, 400, BAD, "type-twice")
    yield _row("chats", [("unread", "true"), ("unread", "false")], 400, BAD, "unread-twice")
    yield _row("messages", [("sender_id", "a"), ("sender_id", "b")], 400, BAD, "sender-twice")
    yield _row("chats/{chat}", [("account_id", "{account}")] * 2, 400, BAD, "account-twice")


def _route_rows() -> Iterator[Any]:
    """An empty path id, and every method but GET and HEAD on every endpoint."""
    yield _row("chats/", [], 404, NOT_AN_ID, "empty-id")
    yield _row("messages/", [], 404, NOT_AN_ID, "empty-id")
    for path in LISTS + RETRIEVES:
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            yield pytest.param(method, path, [], 405, NO_METHOD, id=f"{path}-{method}")


def _fill(text: str, dataset: Dataset) -> str:
    if text == "{cursor}":
        return text
    return text.format(
        chat=dataset.chat_id(0), message=dataset.message_id(0), account=dataset.account_id(0)
    )


async def _send(
    http: aiohttp.ClientSession,
    server: FakePostpress,
    dataset: Dataset,
    method: str,
    path: str,
    query: Query,
) -> tuple[aiohttp.ClientResponse, bytes]:
    params = [(name, _fill(value, dataset)) for name, value in query]
    if ("cursor", "{cursor}") in query:  # a cursor this listing issued
        async with http.get(f"{server.url}/{path}", params={"limit": "1"}) as first:
            cursor = (await first.json())["cursor"]
        params = [(name, cursor if value == "{cursor}" else value) for name, value in params]
    async with http.request(method, f"{server.url}/{_fill(path, dataset)}", params=params) as r:
        return r, await r.read()


@pytest.mark.parametrize(
    ("method", "path", "query", "status", "error_type"),
    [*_value_rows(), *_repeat_rows(), *_route_rows()],
)
async def test_a_request_the_reference_makes_invalid_is_refused(
    postpress_server: FakePostpress,
    postpress_dataset: Dataset,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    query: Query,
    status: int,
    error_type: str,
) -> None:
    """The reference's status and error ``type``, in the documented envelope."""
    response, raw = await _send(http, postpress_server, postpress_dataset, method, path, query)
    body = msgspec.json.decode(raw)
    assert (response.status, body.get("type")) == (status, error_type), body
    assert set(body) == ENVELOPE_KEYS
    assert body["status"] == status
    if status == 405:
        allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}
        assert allowed == {"GET", "HEAD"}


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        *(
            pytest.param("GET", path, [("whatever", "1"), ("whatever", "2")], id=f"{path}-unknown")
            for path in LISTS + RETRIEVES
        ),
        *(
            pytest.param("GET", path, [(name, stamp)], id=f"{path}-{name}-{case}")
            for path in TIMED
            for name in ("before", "after")
            for case, stamp in {
                "sdk": "2026-05-17T09:00:00.000Z",
                "utc-offset": "2026-05-17T09:00:00+00:00",
                "no-fraction": "2026-05-17T09:00:00Z",
            }.items()
        ),
        pytest.param("GET", "chats", [("unread", "false")], id="chats-unread-false"),
        # The reference says nothing of an empty id in the list: its holes are skipped.
        pytest.param("GET", "chats", [("account_id", "{account},,acc_x,")], id="chats-accounts"),
        *(pytest.param("HEAD", path, [], id=f"{path}-HEAD") for path in LISTS + RETRIEVES),
    ],
)
async def test_a_request_the_reference_allows_is_answered(
    postpress_server: FakePostpress,
    postpress_dataset: Dataset,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    query: Query,
) -> None:
    """What the reference allows (and unknown parameters, ignored) is a 200."""
    response, raw = await _send(http, postpress_server, postpress_dataset, method, path, query)
    assert response.status == 200, raw
