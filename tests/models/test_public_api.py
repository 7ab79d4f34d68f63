"""The public surface of ``postpress_async.models``."""

from __future__ import annotations

import enum
import inspect

import msgspec
import pytest

from postpress_async import models
from postpress_async.models import (
    AccountType,
    AttachmentType,
    ChatType,
    Folder,
    Message,
    ReadOnlyState,
    SourceStatus,
)

STRUCTS = [
    getattr(models, name)
    for name in models.__all__
    if isinstance(getattr(models, name), type) and issubclass(getattr(models, name), msgspec.Struct)
]


def test_all_is_sorted_and_complete() -> None:
    """``__all__`` is sorted and names every public object the package defines."""
    public = {
        name
        for name, value in vars(models).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }

    assert models.__all__ == sorted(models.__all__)
    assert set(models.__all__) == public


@pytest.mark.parametrize("cls", [pytest.param(cls, id=cls.__name__) for cls in STRUCTS])
def test_structs_are_frozen_keyword_only_and_documented(cls: type[msgspec.Struct]) -> None:
    """Every model is immutable, keyword-only, encodes every field, has a docstring."""
    config = cls.__struct_config__

    assert config.frozen
    assert not config.omit_defaults
    assert not config.forbid_unknown_fields
    assert all(
        parameter.kind is inspect.Parameter.KEYWORD_ONLY
        for parameter in inspect.signature(cls).parameters.values()
    )
    assert cls.__doc__


def test_models_cannot_be_mutated() -> None:
    """Assigning to a field raises."""
    message = Message(id="msg_1")

    with pytest.raises(AttributeError):
        message.text = "edited"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("member", "raw"),
    [
        pytest.param(AccountType.GOOGLE_OAUTH, "GOOGLE_OAUTH", id="account-type"),
        pytest.param(AttachmentType.VIDEO_MEETING, "video_meeting", id="attachment-type"),
        pytest.param(SourceStatus.CREDENTIALS, "CREDENTIALS", id="source-status"),
        pytest.param(
            Folder.INBOX_LINKEDIN_SALES_NAVIGATOR, "INBOX_LINKEDIN_SALES_NAVIGATOR", id="folder"
        ),
        pytest.param(ChatType.BROADCAST, 2, id="chat-type"),
        pytest.param(ReadOnlyState.READ_ONLY, 1, id="read-only"),
    ],
)
def test_enums_compare_equal_to_raw_values(member: enum.Enum, raw: object) -> None:
    """Enum members compare equal to the raw values the models keep."""
    assert member == raw
    assert type(member)(raw) is member


def test_account_type_lists_the_fourteen_documented_types() -> None:
    """All 14 account types of the API reference are members."""
    assert len(AccountType) == 14
