"""The file sinks' factories for the contract suite: one JSON lines file, a directory of parts.

The kits read what the files hold behind the sinks' backs: the lines of each file up to
the offset its sidecar vouches for, ids by Python's ``json`` (which, unlike msgspec, takes
lone surrogate escapes), and each reject's ``item`` cut from its line as the sink wrote it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from postpress_async.ingest.sinks._base import Sink
from postpress_async.ingest.sinks.files import JsonLinesSink, PartFilesSink

from ._kit import Entry, Kit

#: Contract tests that store several endpoints in one store: a JSON lines file holds one
#: endpoint (a second is refused, by design), so they do not apply to ``jsonl``; the
#: part files directory runs them all.
SEVERAL_ENDPOINTS = frozenset(
    {
        "test_a_reopened_store_holds_everything",
        "test_positions_round_trip_and_add_up",
        "test_save_plan_forgets_the_endpoints_positions_only",
        "test_rejects_are_kept_byte_for_byte_and_counted",
        "test_count_span_and_stored_ids_with_strict_bounds",
        "test_the_same_bytes_rejected_by_two_endpoints_are_two_rejects",
    }
)


def committed(path: Path, sidecar: Path) -> tuple[str | None, bytes, bytes]:
    """``(endpoint, lines, reject lines)`` a file's sidecar vouches for (nothing without one)."""
    try:
        state = msgspec.json.decode(sidecar.read_bytes())
    except FileNotFoundError:
        return None, b"", b""
    data = path.read_bytes()[: state["offset"]] if path.exists() else b""
    rejects_path = path.with_name(path.name + ".rejects.jsonl")
    rejects = rejects_path.read_bytes() if rejects_path.exists() else b""
    return state["endpoint"], data, rejects[: state["rejects_offset"]]


def reject_item(line: bytes) -> bytes:
    """The ``item`` of a rejects line, verbatim (``{"reason":...,"item":<raw>}``)."""
    reason = json.loads(line)["reason"]
    head = b'{"reason":' + msgspec.json.encode(reason) + b',"item":'
    assert line.startswith(head) and line.endswith(b"}"), line
    return line[len(head) : -1]


class FilesKit(Kit):
    """What both file kits read: the committed lines of every file holding an endpoint."""

    plan_keeps_rows = False

    def files(self) -> list[tuple[Path, Path]]:
        """``(file, sidecar)`` of every file of the store."""
        raise NotImplementedError

    def held(self, endpoint: str) -> tuple[list[bytes], list[bytes]]:
        lines: list[bytes] = []
        rejects: list[bytes] = []
        for path, sidecar in self.files():
            holds, data, rejected = committed(path, sidecar)
            if holds == endpoint:
                lines.extend(data.splitlines())
                rejects.extend(rejected.splitlines())
        return lines, rejects

    async def data(self, endpoint: str) -> dict[str, bytes]:
        return {json.loads(line)["id"]: line for line in self.held(endpoint)[0]}

    async def typed(self, endpoint: str, column: str) -> dict[str, Any]:
        pytest.skip("a JSON lines file stores no typed column")

    async def reject_raws(self, endpoint: str) -> list[bytes]:
        return [reject_item(line) for line in self.held(endpoint)[1]]


class JsonLinesKit(FilesKit):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def new_sink(self) -> Sink:
        return JsonLinesSink(self.path)

    def files(self) -> list[tuple[Path, Path]]:
        return [(self.path, self.path.with_name(self.path.name + ".checkpoint"))]


class PartFilesKit(FilesKit):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def new_sink(self) -> Sink:
        return PartFilesSink(self.directory)

    def files(self) -> list[tuple[Path, Path]]:
        return [
            (sidecar.with_name(sidecar.name.removesuffix(".checkpoint")), sidecar)
            for sidecar in sorted(self.directory.glob("*-*.jsonl.checkpoint"))
        ]


def jsonl(request: pytest.FixtureRequest) -> Kit:
    """A JSON lines file in the test's ``tmp_path`` (``out.jsonl``)."""
    if request.node.name.partition("[")[0] in SEVERAL_ENDPOINTS:
        pytest.skip("a JSON lines file holds one endpoint")
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return JsonLinesKit(tmp_path / "out.jsonl")


def parts(request: pytest.FixtureRequest) -> Kit:
    """A part files directory in the test's ``tmp_path`` (``parts/``)."""
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return PartFilesKit(tmp_path / "parts")


#: name -> entry; see ``_kit.py``.
SINKS: dict[str, Entry] = {"jsonl": Entry(jsonl), "parts": Entry(parts)}
