"""The error tree as values users pass around: Dask and multiprocessing pickle them."""

from __future__ import annotations

import copy
import pickle

import pytest

from postpress_async import _exceptions
from postpress_async._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    CursorLoopError,
    EngineUnavailableError,
    InvalidParameterError,
    OutputLockedError,
    PostpressError,
    RedirectError,
    ResponseDecodeError,
    ResponseTooLargeError,
    SinkUnavailableError,
    StateMismatchError,
    UnreadableItem,
    UnreadableItemError,
    with_checkpoint,
)
from postpress_async._positions import Checkpoint
from postpress_async._status_errors import STATUS_ERRORS


def _status_error(cls: type[APIStatusError]) -> APIStatusError:
    return cls(
        status=429,
        type="errors/too_many_requests",
        title="Too many requests",
        detail="slow down",
        instance="req_1",
        method="GET",
        url="https://api.postpress.ai/api/v1/messages",
        headers={"X-Request-Id": "req_1", "Retry-After": "3"},
        body=b'{"status": 429}',
        endpoint="messages.list",
        retry_after=3.0,
        attempts=4,
    )


def _decode_error() -> ResponseDecodeError:
    return ResponseDecodeError(
        "Expected `str`, got `int`",
        endpoint="messages.list",
        path="$.items[0].timestamp",
        body=b'{"items": [{"timestamp": 1}]}',
    )


def _instances() -> list[PostpressError]:
    plain = [
        cls("what went wrong")
        for cls in vars(_exceptions).values()
        if isinstance(cls, type)
        and issubclass(cls, PostpressError)
        and all(
            "__init__" not in vars(base)
            for base in cls.__mro__[: cls.__mro__.index(PostpressError)]
        )
    ]
    statuses = {APIStatusError, RedirectError, *STATUS_ERRORS.values()}
    item = UnreadableItem(raw=b'{"timestamp": 1}', error=_decode_error(), index=0)
    return [
        *plain,
        *(_status_error(cls) for cls in sorted(statuses, key=lambda cls: cls.__name__)),
        InvalidParameterError("limit", "must be <= 250, got 300"),
        StateMismatchError("the state belongs to chats"),
        APIConnectionError("connection reset", method="GET", url="https://x/messages"),
        APITimeoutError("timed out", method="GET", url="https://x/messages"),
        _decode_error(),
        UnreadableItemError([item], endpoint="messages.list"),
        ResponseTooLargeError(limit=1024, method="GET", url="https://x/messages"),
        CursorLoopError("c_1", endpoint="messages.list"),
        CursorLoopError("c_2", pages=1000),
        OutputLockedError("/data/messages.jsonl"),
        OutputLockedError("duckdb:///m.duckdb", holder="/usr/bin/python3 (PID 7)"),
        SinkUnavailableError("postgresql://etl@db/pp: cannot connect", unreachable=True),
        SinkUnavailableError("role etl may not CREATE in schema public"),
        EngineUnavailableError("cannot reach the Dask scheduler", unreachable=True),
        EngineUnavailableError("install postpress-async[dask]"),
    ]


def test_the_table_builds_every_error_class() -> None:
    """Each error class of the tree is among the instances below (a new one must be added)."""
    classes = {
        cls
        for cls in vars(_exceptions).values()
        if isinstance(cls, type) and issubclass(cls, PostpressError)
    }
    assert classes == {type(error) for error in _instances()}


@pytest.mark.parametrize("error", _instances(), ids=lambda error: type(error).__name__)
def test_an_error_survives_pickling(error: PostpressError) -> None:
    """A pickled error comes back as the same class, message and fields (Dask ships them)."""
    error = with_checkpoint(error, Checkpoint(cursor="c_7", offset=2))
    error.__notes__ = ["while listing messages"]  # add_note() is 3.11+
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert again.args == error.args
    assert vars(again).keys() == vars(error).keys()
    for name, value in vars(error).items():
        assert repr(getattr(again, name)) == repr(value), name
    assert again.checkpoint == Checkpoint(cursor="c_7", offset=2)
    assert again.__notes__ == ["while listing messages"]
    assert str(copy.deepcopy(error)) == str(error)  # copy goes through the same protocol
