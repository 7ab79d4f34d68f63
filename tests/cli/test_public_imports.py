"""The CLI is a client of the SDK: private modules, public names (httpx's rule).

The CLI may import from the SDK's private modules (``postpress_async._time``), so that
nothing is made public only for the CLI; it never reaches for a private name inside one
(``_positive``), which is an implementation detail of its module. A private module is
imported with ``from ... import name``, so each name it takes is checked here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import postpress_async.cli

CLI = Path(postpress_async.cli.__file__).parent


def private_imports(source: str, package: str) -> list[str]:
    """Each private SDK name (outside the CLI) that ``source`` imports.

    ``package`` is the package the module sits in, to resolve relative imports.
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            imported = [(module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            imported = [(alias.name, "") for alias in node.names]
        else:
            continue
        for module, name in imported:
            if not module.startswith("postpress_async") or module.startswith("postpress_async.cli"):
                continue
            if _private(name) or (not name and _private(module.rsplit(".", 1)[-1])):
                found.append(f"{module}.{name}" if name else module)
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _package(path: Path) -> str:
    parts = path.relative_to(CLI.parent.parent).with_suffix("").parts
    return ".".join(parts if path.name == "__init__.py" else parts[:-1]).removesuffix(".__init__")


def test_the_cli_imports_no_private_sdk_name() -> None:
    offenders = {
        str(path.relative_to(CLI)): bad
        for path in sorted(CLI.rglob("*.py"))
        if (bad := private_imports(path.read_text(), _package(path)))
    }
    assert offenders == {}


def test_the_check_sees_each_way_of_reaching_a_private_name() -> None:
    source = "\n".join(
        [
            "from postpress_async._config import _positive",
            "import postpress_async._time",
            "from postpress_async import _config",
            "from ... import _sender",
            "from ...ingest._plan import _windowed",
            "from .. import _app",  # the CLI's own module: allowed
            "from postpress_async._durable import write_atomic",  # a public name: allowed
            "from ...ingest._plan import plan_shards",  # likewise
            "from postpress_async import AsyncPostpress, __version__",  # public: allowed
        ]
    )
    assert private_imports(source, "postpress_async.cli.commands") == [
        "postpress_async._config._positive",
        "postpress_async._time",
        "postpress_async._config",
        "postpress_async._sender",
        "postpress_async.ingest._plan._windowed",
    ]
