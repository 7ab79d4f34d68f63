"""The README's "Operating it" examples run as written, against the embedded fake server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def operating_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Operating it")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


NEEDS = {"opentelemetry": "opentelemetry.sdk", "fastapi": "fastapi"}


def _id(block: str) -> str:
    for needle, name in (
        ("event_hooks", "hooks"),
        ("telemetry=True", "otel"),
        ("Limits(", "rate-limits"),
        ("FastAPI", "fastapi"),
    ):
        if needle in block:
            return name
    return "block"


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(block, id=_id(block), marks=[pytest.mark.slow] if "FastAPI" in block else [])
        for block in operating_blocks()
    ],
)
def test_the_operating_example_runs(code: str) -> None:
    """Each block runs to its end (its own asserts included)."""
    for needle, module in NEEDS.items():
        if f"from {needle}" in code or f"import {needle}" in code:
            pytest.importorskip(module, reason="the test-ops extra is not installed")
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
