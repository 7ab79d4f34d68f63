"""Sinks: where an export's rows and positions go. ``open_sink(url)`` picks one by its URL.

A new sink is one module here and one line in :data:`SCHEMES`; it passes the same
contract suite as every other sink (``tests/ingest/sinks/``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from postpress_async._exceptions import InvalidParameterError, SinkUnavailableError
from postpress_async._params import check_flag

from ._base import Sink

__all__ = ["SCHEMES", "Sink", "open_sink", "shown_url"]


def _sqlite(url: str) -> Sink:
    path = _file_path(url, "sqlite", ".db")
    return _load("sqlite", "SQLiteSink")(path)


def _duckdb(url: str) -> Sink:
    path = _file_path(url, "duckdb", ".duckdb")  # a bad URL is told before the extra is missed
    return _load("duckdb", "DuckDBSink")(path)


def _file_path(url: str, scheme: str, suffix: str) -> str:
    """The path of ``scheme:///relative`` or ``scheme:////absolute``."""
    path = url.removeprefix(f"{scheme}://")
    if not path.startswith("/") or path == "/":
        raise SinkUnavailableError(
            f"{url}: expected {scheme}:///path{suffix} (three slashes; an absolute path "
            f"takes four: {scheme}:////abs/path{suffix})"
        )
    path = path[1:]
    problem = _not_a_file(path)
    if problem:
        raise SinkUnavailableError(
            f"{url}: {problem}; give the database file's path: {scheme}:///path{suffix}"
        )
    return path


def _not_a_file(path: str) -> str:
    """Why ``path`` would not name the database file it reads as (empty: it does).

    The engine takes ``:memory:`` (and, in some builds, a ``file:`` name) as a database
    held in memory: an export would "succeed" and be lost at close. ``?`` would be part of
    the file's name, not options of the connection as in other tools' URLs.
    """
    if path == ":memory:" or path.startswith("file:"):
        return "an in-memory or URI database is not a store an export can continue"
    if "?" in path:
        return "query parameters are not supported (the `?` would be part of the file's name)"
    return ""


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
    "duckdb": _duckdb,
}

#: A plain path with one of these endings is a database meant, not a JSON lines file.
_DATABASE_SUFFIXES: Final = {
    ".db": "sqlite",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".duckdb": "duckdb",
}


def open_sink(url: str | Path, *, force: bool = False) -> Sink:
    """The sink a URL names (not opened yet).

    ``force``: a file store's file that is not an export's is overwritten instead of
    refused (as ``ingest(force=True)`` and ``--force``); a database has nothing to refuse.

    * ``sqlite:///relative.db``, ``sqlite:////absolute.db``: :class:`SQLiteSink`;
    * ``postgresql://user@host:port/db`` (or ``postgres://``): :class:`PostgresSink`;
    * ``duckdb:///relative.duckdb``, ``duckdb:////absolute.duckdb``: :class:`DuckDBSink`
      (the ``duckdb`` extra);
    * a plain path ending in ``.db``, ``.sqlite``, ``.sqlite3`` or ``.duckdb`` is refused
      with the URL meant (``file://`` takes it as a JSON lines file all the same);
    * a path ending in ``/`` (or an existing directory): :class:`PartFilesSink`;
    * any other path (or ``file://path``): :class:`JsonLinesSink`, one file.
    """
    if not isinstance(url, (str, os.PathLike)):
        # str() of anything is a path: None would write a file named "None".
        raise InvalidParameterError(
            "url",
            f"must be a str (sqlite:///m.db, postgresql://..., duckdb:///m.duckdb, a path) "
            f"or a Path, got {type(url).__name__}",
        )
    check_flag("force", force)  # truthiness would read force="no" as yes, and overwrite
    text = os.fspath(url)
    if not isinstance(text, str):
        raise InvalidParameterError("url", "must be a str or a Path, got a bytes path")
    if not text.strip():  # an empty variable, not the current directory
        raise InvalidParameterError("url", "must not be empty: name a store or a path")
    scheme, sep, _ = text.partition("://")
    if sep and scheme != "file":
        factory = SCHEMES.get(scheme)
        if factory is None:
            known = ", ".join(f"{name}://" for name in SCHEMES)
            raise SinkUnavailableError(
                f"{shown_url(text)}: unknown sink scheme {scheme!r} (use {known}, or a path)"
            )
        return factory(text)
    if not sep:
        _refuse_database_path(text)
    path = text.removeprefix("file://")
    from .files import JsonLinesSink, PartFilesSink

    if path.endswith("/") or Path(path).is_dir():
        return PartFilesSink(Path(path), force=force)
    return JsonLinesSink(Path(path), force=force)


def shown_url(url: str) -> str:
    """``url`` as an error or a hint may show it: a URL without its password (a misspelt
    scheme's too), a path as it is."""
    if "://" not in url:
        return url
    from ._pg import redact  # no driver: the URL's own parsing

    return redact(url)


def _refuse_database_path(path: str) -> None:
    """``m.db`` most likely means a database: say how to write its URL."""
    suffix = Path(path).suffix.lower()
    scheme = _DATABASE_SUFFIXES.get(suffix)
    if scheme is None or path.endswith("/") or Path(path).is_dir():
        return  # a directory of part files, whatever its name
    raise SinkUnavailableError(
        f"{path}: a path ending in {suffix} names a database, not a JSON lines file: write "
        f"{scheme}:///{path} (an absolute path takes four slashes: "
        f"{scheme}:////abs/path{suffix}), or file://{path} for a JSON lines file"
    )
