"""Names that moved: still served for one release, with a DeprecationWarning that says where."""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["moved"]


def moved(package: str, name: str, table: Mapping[str, tuple[str, str | None]]) -> Any:
    """``package.name`` from the module that holds it now, after a DeprecationWarning.

    ``table`` maps a moved name to ``(module that holds it, what to use instead)``; the
    second is a module to import it from, a phrase (``RetryPolicy().retry_on``), or
    ``None`` for an internal helper that goes. An unknown name is an AttributeError, as
    for any module.
    """
    entry = table.get(name)
    if entry is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    holder, instead = entry
    if instead is None:
        advice = "it was an internal helper made public for the command line"
    elif instead.startswith("postpress_async") and " " not in instead:
        advice = f"import it from {instead}"
    else:
        advice = f"use {instead}"
    if not _fromlist_check():
        warnings.warn(
            f"{package}.{name} is deprecated and goes in the next release: {advice}",
            DeprecationWarning,
            stacklevel=3,
        )
    return getattr(importlib.import_module(holder), name)


def _fromlist_check() -> bool:
    """Whether the caller of ``__getattr__`` is the import system checking that the names
    of ``from package import name`` exist (importlib's ``_handle_fromlist``). The import
    statement then looks the name up itself, and that look-up warns: one warning, not two.
    """
    try:
        caller = sys._getframe(3).f_code  # this <- moved <- the package's __getattr__ <- caller
    except ValueError:  # called from C with no Python caller: not an import statement
        return False
    return caller.co_name == "_handle_fromlist" and caller.co_filename.startswith("<frozen ")
