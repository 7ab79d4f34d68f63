"""``Model.to_builtins()``: plain builtins, snake_case keys everywhere, the server's timestamps."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from postpress_async._decoding import decode
from postpress_async._epoch import from_ms, to_ms
from postpress_async.models import AccountList, Chat, Message
from postpress_async.models._base import Model

FIXTURES = Path(__file__).parent.parent / "fixtures"


def keys_of(value: Any) -> set[str]:
    """Every dict key at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for item in value.values() for k in keys_of(item)}
    if isinstance(value, list):
        return {k for item in value for k in keys_of(item)}
    return set()


def wire_names(model: type[Model]) -> set[str]:
    """The camelCase wire names of a model's renamed fields."""
    return {f.encode_name for f in msgspec.structs.fields(model) if f.encode_name != f.name}


@pytest.mark.parametrize(
    ("fixture", "model"),
    [
        pytest.param("chat_retrieve.json", Chat, id="chat"),
        pytest.param("account_list.json", AccountList, id="accounts"),
    ],
)
def test_to_builtins_uses_the_python_names_never_the_wire_camel_case(
    fixture: str, model: type[Model]
) -> None:
    """No renamed field keeps its wire name: ``last_message``, never ``lastMessage``."""
    data = decode((FIXTURES / fixture).read_bytes(), model, endpoint="test")
    builtins = data.to_builtins()
    json.dumps(builtins)  # plain builtins all the way down
    renamed = set().union(*(wire_names(cls) for cls in _models_in(data)))
    assert renamed, "the fixture should exercise at least one renamed field"
    assert not renamed & keys_of(builtins)
    assert {f.name for f in msgspec.structs.fields(model)} <= set(builtins)


def test_timestamps_keep_the_servers_millisecond_form() -> None:
    """A timestamp comes back exactly as the server wrote it (``.sssZ``)."""
    raw = json.loads((FIXTURES / "chat_retrieve.json").read_bytes())
    chat = decode((FIXTURES / "chat_retrieve.json").read_bytes(), Chat, endpoint="test")
    assert chat.to_builtins()["timestamp"] == raw["timestamp"]
    assert raw["timestamp"].endswith("Z") and len(raw["timestamp"].rsplit(".", 1)[1]) == 4


@pytest.fixture
def local_time_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is New York (UTC-4 in May) for the test."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_time_new_york")
def test_a_timestamp_without_zone_is_utc_not_the_machines_local_time() -> None:
    """The API's times are UTC: one sent without ``Z`` is UTC in ``to_builtins()`` too, as
    it is for the SDK's own positions (``to_ms``), not shifted by the machine's zone."""
    message = decode(b'{"id": "m", "timestamp": "2026-05-17T09:42:11"}', Message, endpoint="t")

    assert message.to_builtins()["timestamp"] == "2026-05-17T09:42:11.000Z"
    assert from_ms(to_ms(message.timestamp)).hour == 9  # type: ignore[arg-type]


def _models_in(value: Any) -> set[type[Model]]:
    """Every model class found in a decoded value."""
    found: set[type[Model]] = set()
    if isinstance(value, Model):
        found.add(type(value))
        for name in value.__struct_fields__:
            found |= _models_in(getattr(value, name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= _models_in(item)
    return found
