"""Every Python block of README.md runs, against the embedded fake server, so none can rot.

How a block runs
----------------
Each fenced ```` ```python ```` block of README.md is one test (its id is the README line).
It runs on its own, in a fresh namespace, as a script (``__name__ == "__main__"``), in a
temporary working directory, with ``POSTPRESS_API_KEY`` and ``POSTPRESS_BASE_URL`` pointing
at an in-process :class:`FakePostpress` (default dataset). That fake accepts the README's
placeholder key ``pp_live_...``, so ``AsyncPostpress(api_key="pp_live_...")`` and
``AsyncPostpress()`` (key and URL from the environment) both reach it.

A block that uses top-level ``await``/``async for``/``async with`` is a fragment for
``python -m asyncio`` and must say so (the words ``python -m asyncio`` in the block, e.g. in
its first comment); the runner awaits it as that REPL would. Every other block must run with
plain ``python``. A block must end by itself (no endless watch loop) and take well under a
second against the fake; it may print (output is captured) and write files (in the temporary
directory).

Directives
----------
An HTML comment on the line right before the fence changes how a block runs (one directive a
comment; several comments may stack):

``<!-- readme-test: skip REASON -->``
    Not run; reported as skipped with REASON. Only for blocks that cannot run against the
    fake at all (say, a real PostgreSQL URL); prefer making the block runnable.
``<!-- readme-test: requires MODULE [MODULE ...] -->``
    Runs only if every MODULE imports (an optional extra); skipped otherwise, except when
    ``README_TEST_REQUIRE_ALL=1`` is set, as ``.ci/run`` does after installing every extra
    the README needs: there a missing module fails the test, so CI never skips a block.
``<!-- readme-test: slow REASON -->``
    Runs in ``pytest -m slow`` (CI) only, for a block that takes more than about half a
    second (REASON says why, e.g. a heavy import).
``<!-- readme-test: pytest -->``
    The block is a test module for a user's project: pytest runs it in a temporary project
    with this package's plugin and pytest-asyncio, once in its default strict mode and once in
    auto mode, and every test in it must pass both times.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import importlib.util
import inspect
import os
import re
from pathlib import Path

import pytest

from postpress_async.testing import FakePostpress

README = Path(__file__).resolve().parent.parent / "README.md"
PLACEHOLDER_KEY = "pp_live_..."
ASYNCIO_REPL = "python -m asyncio"
REQUIRE_ALL = "README_TEST_REQUIRE_ALL"

_FENCE = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(\w+)\s*(.*?)\s*-->\s*$")
_KNOWN = {"skip", "requires", "slow", "pytest"}


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced Python block of the README and the directives right above it."""

    line: int  # 1-based line of the opening fence
    code: str
    directives: dict[str, str]

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"

    def param(self) -> object:
        """The block as a ``pytest.param``, marked ``slow`` when its directive says so."""
        marks = [pytest.mark.slow] if "slow" in self.directives else []
        return pytest.param(self, id=self.id, marks=marks)


def python_blocks(text: str) -> list[Block]:
    """The README's ```python blocks, in order, with their directives."""
    lines = text.splitlines()
    blocks = []
    n = 0
    while n < len(lines):
        fence = _FENCE.match(lines[n])
        if fence is None:
            n += 1
            continue
        start = n
        n += 1
        while n < len(lines) and lines[n].rstrip() != "```":
            n += 1
        if fence.group(1) == "python":
            directives: dict[str, str] = {}
            above = start - 1
            while above >= 0 and (found := _DIRECTIVE.match(lines[above])):
                directives[found.group(1)] = found.group(2)
                above -= 1
            code = "\n".join(lines[start + 1 : n]) + "\n"
            blocks.append(Block(start + 1, code, directives))
        n += 1
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks_and_only_known_directives() -> None:
    """The runner finds the README's examples, and no directive is misspelt."""
    assert len(BLOCKS) >= 4
    for block in BLOCKS:
        assert set(block.directives) <= _KNOWN, (block.id, block.directives)
    text = README.read_text(encoding="utf-8")
    assert text.count("readme-test:") == sum(len(b.directives) for b in BLOCKS), (
        "a readme-test directive that is not right above a ```python fence"
    )


def _compile(block: Block) -> tuple[object, bool]:
    """The block's code object, and whether it needs ``python -m asyncio`` (top-level await)."""
    code = compile(
        block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    return code, bool(code.co_flags & inspect.CO_COROUTINE)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return False


def _require(modules: str) -> None:
    missing = [m for m in modules.split() if not _installed(m)]
    if not missing:
        return
    message = f"needs {', '.join(missing)} (an optional extra)"
    if os.environ.get(REQUIRE_ALL):
        pytest.fail(f"{message}, and {REQUIRE_ALL} is set (as in CI)", pytrace=False)
    pytest.skip(message)


def _run_script(block: Block) -> None:
    """Run the block as ``python`` or ``python -m asyncio`` would, in this thread."""
    code, top_level_await = _compile(block)
    namespace = {"__name__": "__main__", "__file__": str(README)}
    if not top_level_await:
        exec(code, namespace)
        return
    assert ASYNCIO_REPL in block.code, (
        f"{block.id} uses top-level await: say it is for `{ASYNCIO_REPL}`, or make it a script"
    )
    asyncio.run(eval(code, namespace))


SCRIPTS = [b for b in BLOCKS if "pytest" not in b.directives]
PYTEST_MODULES = [b for b in BLOCKS if "pytest" in b.directives]


@pytest.mark.parametrize("block", [b.param() for b in SCRIPTS])
async def test_readme_block_runs_against_the_fake(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block runs to completion against the fake server, without an error."""
    if "skip" in block.directives:
        pytest.skip(block.directives["skip"] or "skipped in the README")
    if "requires" in block.directives:
        _require(block.directives["requires"])
    monkeypatch.chdir(tmp_path)
    async with FakePostpress(api_key=PLACEHOLDER_KEY) as server:
        monkeypatch.setenv("POSTPRESS_API_KEY", server.api_key)
        monkeypatch.setenv("POSTPRESS_BASE_URL", server.url)
        # The block runs its own event loop (asyncio.run) while this one serves it.
        await asyncio.to_thread(_run_script, block)


@pytest.mark.parametrize("mode", ["strict", "auto"])
@pytest.mark.parametrize("block", [b.param() for b in PYTEST_MODULES])
def test_readme_test_module_passes_in_a_users_project(
    block: Block, mode: str, pytester: pytest.Pytester
) -> None:
    """The README's example tests pass with pytest-asyncio in strict (its default) or auto mode."""
    # strict: pytest-asyncio's default, so the project does not set it. The loop scope is
    # set because pytest-asyncio warns every project that leaves it unset. Warnings are
    # errors, as in a careful project: the fixtures must leave none (an unclosed socket).
    setting = "" if mode == "strict" else "asyncio_mode = auto\n"
    pytester.makeini(
        f"[pytest]\n{setting}asyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    pytester.makepyfile(test_readme_example=block.code)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    tests = len(re.findall(r"^(?:async )?def test_", block.code, flags=re.MULTILINE))
    assert tests >= 1
    result.assert_outcomes(passed=tests)


def _typed_module(block: Block) -> str:
    """The block as a module mypy can check: a ``python -m asyncio`` fragment becomes the
    body of an ``async def`` (what that REPL runs), any other block stays as it is."""
    _, top_level_await = _compile(block)
    if not top_level_await:
        return block.code
    body = "".join(f"    {line}" if line.strip() else line for line in block.code.splitlines(True))
    return f"async def _readme_block() -> None:\n{body}"


@pytest.mark.slow
def test_every_readme_block_passes_mypy_strict(tmp_path: Path) -> None:
    """Users copy the examples into code they type-check: each passes ``mypy --strict``.

    One mypy run over every block (each its own module): a block that a strict user could
    not take as it stands (say, an ``Optional`` passed where the SDK needs a ``str``) fails.
    """
    _require("mypy")
    from mypy import api

    files = []
    for block in BLOCKS:
        path = tmp_path / f"readme_line_{block.line}.py"
        path.write_text(_typed_module(block), encoding="utf-8")
        files.append(str(path))
    out, err, status = api.run(
        ["--strict", "--no-incremental", "--python-version", "3.10", "--config-file", "", *files]
    )
    assert status == 0, f"{out}{err}"
    assert f"in {len(BLOCKS)} source files" in out, out
