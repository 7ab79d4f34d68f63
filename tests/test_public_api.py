"""The public surface: sorted, importable, documented."""

from __future__ import annotations

import inspect

import pytest

import postpress_async
import postpress_async.models


@pytest.mark.parametrize(
    "module", [postpress_async, postpress_async.models], ids=lambda m: m.__name__
)
def test_all_is_sorted_and_every_name_exists(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    assert names == sorted(
        names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)
    )
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(module, name), name


def test_every_public_class_and_function_has_a_docstring() -> None:
    missing = [
        name
        for name in postpress_async.__all__
        if (inspect.isclass(obj := getattr(postpress_async, name)) or inspect.isfunction(obj))
        and not inspect.getdoc(obj)
    ]
    assert missing == []


def test_the_surface_holds_the_names_a_newcomer_looks_for() -> None:
    for name in (
        "AsyncPostpress",
        "RetryPolicy",
        "Timeout",
        "Limits",
        "PostpressError",
        "APIStatusError",
        "ListStream",
        "Checkpoint",
        "merge",
        "Message",
        "Chat",
    ):
        assert name in postpress_async.__all__


def test_every_status_error_is_exported_and_under_postpress_error() -> None:
    from postpress_async._exceptions import STATUS_ERRORS

    for cls in STATUS_ERRORS.values():
        assert cls.__name__ in postpress_async.__all__
        assert issubclass(cls, postpress_async.PostpressError)
        assert cls.__name__.endswith("Error")
