"""The public surface: sorted, importable, documented."""

from __future__ import annotations

import importlib
import inspect
import re
import typing
import warnings
from enum import Enum

import msgspec
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


def _public_classes() -> list[type]:
    import postpress_async.ingest
    import postpress_async.testing

    modules = (postpress_async, postpress_async.models, postpress_async.ingest)
    modules += (postpress_async.testing,)
    return [
        obj
        for module in modules
        for name in module.__all__
        if inspect.isclass(obj := getattr(module, name))
    ]


@pytest.mark.parametrize("cls", _public_classes(), ids=lambda cls: cls.__qualname__)
def test_every_public_class_s_annotations_resolve_at_run_time(cls: type) -> None:
    """``typing.get_type_hints`` works on each (documentation tools, FastAPI, msgspec and
    pydantic read annotations at run time): none names a type imported only for checkers."""
    typing.get_type_hints(cls)


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
        "models",
    ):
        assert name in postpress_async.__all__
    assert "Message" in postpress_async.models.__all__


#: What each public package may hold at most (ARCHITECTURE.md lists the names and why).
BUDGETS = {"postpress_async": 45, "postpress_async.ingest": 19}


@pytest.mark.parametrize(("package", "budget"), list(BUDGETS.items()))
def test_a_public_surface_a_user_can_hold_in_their_head(package: str, budget: int) -> None:
    module = importlib.import_module(package)
    assert len(module.__all__) <= budget
    assert all(getattr(module, name).__doc__ for name in module.__all__ if name != "__version__")


def _moved() -> list[tuple[str, str]]:
    return [
        (package, name)
        for package in BUDGETS
        for name in sorted(importlib.import_module(package).MOVED)
    ]


@pytest.mark.parametrize(("package", "name"), _moved())
def test_a_name_that_moved_still_imports_for_a_release_with_a_warning(
    package: str, name: str
) -> None:
    module = importlib.import_module(package)
    holder, instead = module.MOVED[name]
    with pytest.warns(DeprecationWarning, match=rf"{package}\.{name} is deprecated") as caught:
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(holder), name)
    assert name not in module.__all__
    said = str(caught[0].message)
    assert (instead or "internal helper") in said  # where to go instead, or that it goes


@pytest.mark.parametrize(("package", "name"), _moved())
def test_importing_a_name_that_moved_warns_once_at_the_import(package: str, name: str) -> None:
    """``from package import name`` warns once (not also from the import system's own
    look-up), pointing at the user's line, as pytest's summary and ``-W`` show it."""
    code = compile(f"\n\nfrom {package} import {name}\n", "user_code.py", "exec")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(code, {})
    assert [(w.category, w.filename, w.lineno) for w in caught] == [
        (DeprecationWarning, "user_code.py", 3)
    ]


def test_no_public_docstring_points_at_a_name_that_goes() -> None:
    """``help()`` never sends a user to a deprecated name that goes without a new home
    (``DEFAULT_RETRY_ON``: its warning says to read ``RetryPolicy().retry_on``)."""
    going = {
        name
        for package in BUDGETS
        for name, (_, instead) in importlib.import_module(package).MOVED.items()
        if instead is None or not instead.startswith("postpress_async")
    }
    named = [
        (f"{cls.__qualname__}.{attr}", name)
        for cls in _public_classes()
        for attr, doc in [("", cls.__doc__)]
        + [(attr, getattr(value, "__doc__", None)) for attr, value in vars(cls).items()]
        for name in going
        if doc and re.search(rf"\b{name}\b", doc)
    ]
    assert named == []


@pytest.mark.parametrize("package", list(BUDGETS))
def test_an_unknown_name_is_still_an_attribute_error(package: str) -> None:
    module = importlib.import_module(package)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            module.NoSuchName  # noqa: B018


def test_every_status_error_is_exported_and_under_postpress_error() -> None:
    from postpress_async._status_errors import STATUS_ERRORS

    for cls in STATUS_ERRORS.values():
        assert cls.__name__ in postpress_async.__all__
        assert issubclass(cls, postpress_async.PostpressError)
        assert cls.__name__.endswith("Error")


def _undeclared_attributes(cls: type) -> list[str]:
    """Public attributes ``cls``'s own methods set (``self.name = ...``) that it never
    declares with a type (``self.name: T = ...``, ``name: T`` in the class body, or
    ``self.name = name`` from an annotated parameter: pyright's rule for a known type)."""
    import ast
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    declared: set[str] = set()
    assigned: set[str] = set()

    def attribute(target: ast.expr) -> str | None:
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
            and not target.attr.startswith("_")
        ):
            return target.attr
        return None

    parameters = {
        arg.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for arg in (*node.args.args, *node.args.kwonlyargs)
        if arg.annotation is not None
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id in parameters
        ):
            declared.update(name for t in node.targets if (name := attribute(t)) is not None)
        if isinstance(node, ast.AnnAssign):
            if isinstance(node.target, ast.Name):
                declared.add(node.target.id)
            elif (name := attribute(node.target)) is not None:
                declared.add(name)
        elif isinstance(node, ast.Assign):
            targets = [
                element
                for target in node.targets
                for element in (target.elts if isinstance(target, ast.Tuple) else [target])
            ]
            assigned.update(name for t in targets if (name := attribute(t)) is not None)
    inherited = {name for base in cls.__mro__[1:] for name in getattr(base, "__annotations__", {})}
    return sorted(assigned - declared - inherited)


def _sink_classes() -> list[type]:
    from postpress_async.ingest.sinks._parts import PartFilesSink
    from postpress_async.ingest.sinks.files import JsonLinesSink
    from postpress_async.ingest.sinks.sqlite import SQLiteSink

    return [JsonLinesSink, PartFilesSink, SQLiteSink]


@pytest.mark.parametrize(
    "cls",
    [
        c
        for c in _public_classes() + _sink_classes()
        # msgspec Structs and enums declare every field; the rest set attributes in methods
        if c.__module__.startswith("postpress_async") and not issubclass(c, msgspec.Struct | Enum)
    ],
    ids=lambda cls: cls.__qualname__,
)
def test_every_public_attribute_is_declared_with_a_type(cls: type) -> None:
    """An attribute a user reads (``client.base_url``, ``server.stats``, ``error.path``) has
    a declared type, not only one a checker infers from ``__init__``: pyright's
    ``--verifytypes`` (what editors' completeness rests on) counts an inferred one as
    ambiguous, and so every class that shows it, down to ``ListStream``."""
    assert _undeclared_attributes(cls) == []
