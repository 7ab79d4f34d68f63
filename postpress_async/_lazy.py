"""Modules loaded on first use: what ``import postpress_async`` does not pay for.

Start-up is a cost every process pays (a CLI's ``--help``, each Dask worker, a test
run), so a module that only some calls need is bound to an :class:`OnFirstUse` name
and imported by the first attribute looked up on it. Type checkers see the real import
(``if TYPE_CHECKING: import aiohttp``), so the code reads as if it were one.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["OnFirstUse"]


class OnFirstUse:
    """A module imported when one of its names is first used, then bound like an import."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)  # found directly from now on
        return value

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"
