"""No module of the package is over 500 lines: a room that grows past that does more than
one job, and is split along its jobs (ARCHITECTURE.md: "Smaller rooms")."""

from __future__ import annotations

from pathlib import Path

import postpress_async

ROOT = Path(postpress_async.__file__).parent
MAX_LINES = 500


def test_no_module_is_over_500_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT.parent)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(ROOT.rglob("*.py"))
    }
    assert len(sizes) > 100  # the whole package was read
    over = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines: {over}"
