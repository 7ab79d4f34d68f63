"""The package's imports point one way: no module imports one that imports it back.

Every module's imports are read from its source (those inside functions included;
imports under ``if TYPE_CHECKING:`` are left out, they never run). A circle means a
fact sits in the wrong room: ARCHITECTURE.md draws the layers they point down through.
The imports for type checkers alone go round no circle either, and no module imports
from a room above its own (the command line, the fake, ingest, the public façades, the
core: top down).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

import postpress_async

ROOT = Path(postpress_async.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST, *, types: bool = False) -> Iterator[ast.AST]:
    """Every node, except what sits under ``if TYPE_CHECKING:`` (unless ``types``)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not types and isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(
    source: str, module: str, *, is_package: bool, known: set[str], types: bool = False
) -> set[str]:
    """The package modules ``source`` (the module ``module``) imports when it runs (and,
    with ``types``, for type checkers)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(source), types=types):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod.
            targets = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` names a.b.c; keep the module
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def import_graph(*, types: bool = False) -> dict[str, set[str]]:
    return _read_graph(types)


@functools.cache  # read once a session: the package does not change under the tests
def _read_graph(types: bool) -> dict[str, set[str]]:
    paths = {module_name(path): path for path in ROOT.rglob("*.py")}
    known = set(paths)
    return {
        name: imports_of(
            path.read_text(), name, is_package=path.name == "__init__.py", known=known, types=types
        )
        for name, path in paths.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:k]) for k in range(1, len(parts))}


def package_free(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph without the edges a module has to the packages above it.

    Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first; a package's
    ``__init__`` re-exporting its children is a façade, not a dependency of theirs.
    """
    return {
        name: {t for t in targets if t not in _ancestors(name)} for name, targets in graph.items()
    }


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert circles(package_free(import_graph())) == []


def test_not_even_the_imports_for_type_checkers_go_round() -> None:
    """A type-only import back up would hide the same misplaced fact from run time only."""
    assert circles(package_free(import_graph(types=True))) == []


#: The rooms of ARCHITECTURE.md's map, top down (the core below them is ordered by the
#: circle test alone): a module imports nothing from a room above its own.
ROOMS: tuple[tuple[str, ...], ...] = (
    ("postpress_async.cli", "postpress_async.__main__"),
    ("postpress_async.testing",),
    ("postpress_async.ingest",),
    ("postpress_async", "postpress_async.transports", "postpress_async.types"),  # façades
)


def room_of(module: str) -> int:
    """How far below the top room ``module`` sits (``len(ROOMS)``: the core)."""
    for depth, room in enumerate(ROOMS):
        for name in room:
            # A package room holds its submodules; a façade is that one module.
            if module == name or (depth < 3 and module.startswith(f"{name}.")):
                return depth
    return len(ROOMS)


def imports_up(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Every ``(importer, imported)`` where the imported module sits in a higher room."""
    return sorted(
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if room_of(target) < room_of(module)
    )


@pytest.mark.parametrize("types", [False, True], ids=["run-time", "type-checking"])
def test_no_module_imports_from_a_room_above_its_own(types: bool) -> None:
    assert imports_up(import_graph(types=types)) == []


def test_the_rooms_check_finds_an_import_up() -> None:
    graph = {
        "postpress_async._client": {"postpress_async.ingest._run"},
        "postpress_async.ingest._run": {"postpress_async._client"},
        "postpress_async.testing._api": {"postpress_async.cli._app"},
        "postpress_async._sender": {"postpress_async.transports"},
    }
    assert imports_up(graph) == [
        ("postpress_async._client", "postpress_async.ingest._run"),
        ("postpress_async._sender", "postpress_async.transports"),
        ("postpress_async.testing._api", "postpress_async.cli._app"),
    ]


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        pytest.param({"a": {"b"}, "b": {"a"}}, [["a", "b"]], id="two"),
        pytest.param(
            {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]], id="three"
        ),
        pytest.param({"a": {"b"}, "b": {"c"}, "c": set()}, [], id="a-line"),
    ],
)
def test_the_check_finds_a_circle(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert circles(graph) == expected


def test_the_reader_sees_function_imports_and_skips_type_checking_ones() -> None:
    source = "\n".join(
        [
            "from typing import TYPE_CHECKING",
            "from . import _b",
            "from ._c import name",
            "import pkg._d",
            "if TYPE_CHECKING:",
            "    from ._e import Thing",
            "def f():",
            "    from .sub import _f",
        ]
    )
    known = {"pkg", "pkg._a", "pkg._b", "pkg._c", "pkg._d", "pkg._e", "pkg.sub", "pkg.sub._f"}
    assert imports_of(source, "pkg._a", is_package=False, known=known) == {
        "pkg._b",
        "pkg._c",
        "pkg._d",
        "pkg.sub._f",
    }
