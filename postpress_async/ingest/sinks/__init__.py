"""Sinks: where an export's rows and positions go. ``open_sink(url)`` picks one by its URL.

A new sink is one module here and one line in :data:`SCHEMES`; it passes the same
contract suite as every other sink (``tests/ingest/sinks/``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Final

from postpress_async._exceptions import SinkUnavailableError

from ._base import Sink

__all__ = ["SCHEMES", "Sink", "open_sink"]


def _sqlite(url: str) -> Sink:
    path = url.removeprefix("sqlite://")
    if not path.startswith("/") or path == "/":
        raise SinkUnavailableError(f"{url}: expected sqlite:///path.db (three slashes)")
    return _load("sqlite", "SQLiteSink")(path[1:])


def _postgres(url: str) -> Sink:
    return _load("postgres", "PostgresSink")(url)


def _load(module: str, name: str) -> Callable[[str], Sink]:
    """A sink class, imported only when its scheme is used (asyncpg, duckdb are extras)."""
    factory: Callable[[str], Sink] = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    return factory


#: URL scheme -> the factory that builds the sink from the whole URL.
SCHEMES: Final[dict[str, Callable[[str], Sink]]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def open_sink(url: str | Path) -> Sink:
    """The sink a URL names (not opened yet).

    * ``sqlite:///relative.db``, ``sqlite:////absolute.db``: :class:`SQLiteSink`;
    * ``postgresql://user@host:port/db`` (or ``postgres://``): :class:`PostgresSink`;
    * a path ending in ``/`` (or an existing directory): :class:`PartFilesSink`;
    * any other path (or ``file://path``): :class:`JsonLinesSink`, one file.
    """
    text = str(url)
    scheme, sep, _ = text.partition("://")
    if sep and scheme != "file":
        factory = SCHEMES.get(scheme)
        if factory is None:
            known = ", ".join(f"{name}://" for name in SCHEMES)
            raise SinkUnavailableError(
                f"{text}: unknown sink scheme {scheme!r} (use {known}, or a path)"
            )
        return factory(text)
    path = text.removeprefix("file://")
    from .files import JsonLinesSink, PartFilesSink

    if path.endswith("/") or Path(path).is_dir():
        return PartFilesSink(Path(path))  # type: ignore[return-value]  # until on the contract
    return JsonLinesSink(Path(path))  # type: ignore[return-value]  # until on the contract
