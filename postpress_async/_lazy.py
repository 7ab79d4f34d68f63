"""Modules loaded on first use: what ``import postpress_async`` does not pay for.

Start-up is a cost every process pays (a CLI's ``--help``, each Dask worker, a test
run), so a module that only some calls need is imported from here
(``from ._lazy import asyncio``): an :class:`OnFirstUse` stand-in that imports the real
module at the first attribute looked up on it. Type checkers see the real modules, so
the code reads as if it imported them itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["OnFirstUse", "aiohttp", "asyncio", "hashlib", "logging", "yarl"]


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


if TYPE_CHECKING:
    import asyncio
    import hashlib
    import logging

    import aiohttp
    import yarl
else:
    # aiohttp (with yarl) is most of what an import would cost, asyncio (with ssl) ~40 ms,
    # logging (with threading) ~6 ms, hashlib (OpenSSL's start-up) ~4 ms on the CI machine.
    aiohttp = OnFirstUse("aiohttp")
    asyncio = OnFirstUse("asyncio")
    hashlib = OnFirstUse("hashlib")
    logging = OnFirstUse("logging")
    yarl = OnFirstUse("yarl")
