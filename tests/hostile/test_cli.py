"""The command line against hostile servers and a second writer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web

from postpress_async._filelock import lock_output
from postpress_async.cli import ExitCode, main

from ._server import Handler, Hostile, cursor_walk, hostile_server_in_thread, page_body

SECRET = "pp_live_SECRET_0123456789"
CYCLE: dict[str | None, str | None] = {None: "A", "A": "B", "B": "C", "C": "A"}


def checkpoint(out: Path) -> Path:
    return out.with_name(out.name + ".checkpoint")


@pytest.mark.usefixtures("no_env")
def test_a_looping_export_stops_keeps_its_checkpoint_and_never_shows_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "messages.jsonl"
    with hostile_server_in_thread(cursor_walk(CYCLE)) as server:
        args = ["export", "messages", "--out", str(out), "--base-url", server.url]
        code = main([*args, "--api-key", SECRET, "--retries", "0", "--quiet"])
    err = capsys.readouterr().err
    assert code == ExitCode.API_ERROR
    assert "error: the API sent the cursor 'A' a second time" in err
    # The pages before the loop stay committed: the file is what its sidecar vouches for.
    state = json.loads(checkpoint(out).read_bytes())
    assert state["offset"] == out.stat().st_size
    assert state["count"] == len(out.read_bytes().splitlines()) == 3
    (stored,) = state["positions"].values()
    assert (stored["position"]["cursor"], stored["position"]["done"]) == ("C", False)
    # The hint says to run the same command again; it repeats no command, so no key.
    assert "run the same command again to continue" in err
    assert "--api-key" not in err
    assert SECRET not in err and SECRET[:8] not in err


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize("key_args", [["--api-key", SECRET], [f"--api-key={SECRET}"]])
def test_the_resume_hint_never_echoes_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key_args: list[str]
) -> None:
    out = tmp_path / "messages.jsonl"
    with hostile_server_in_thread(cursor_walk({None: "A", "A": "A"})) as server:
        main([*key_args, "export", "messages", "--out", str(out), "--base-url", server.url])
    err = capsys.readouterr().err
    assert "run the same command again to continue" in err
    assert SECRET not in err


@pytest.mark.parametrize("extra", [[], ["--force"], ["--resume"]], ids=["plain", "force", "resume"])
def test_a_second_export_to_a_locked_output_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    """Even --force cannot take an output another export is writing."""
    out = tmp_path / "messages.jsonl"
    out.write_bytes(b'{"id": "written by the first export"}\n')
    with lock_output(out):
        code = main(
            ["--fake", "--fake-messages", "10", "export", "messages", "--out", str(out), *extra]
        )
    err = capsys.readouterr().err
    assert code == ExitCode.LOCKED == 5
    assert f"error: another export or follow is writing {out}" in err
    assert "run the same command again" not in err
    assert out.read_bytes() == b'{"id": "written by the first export"}\n'
    assert not checkpoint(out).exists()


def test_a_stale_temporary_checkpoint_of_another_process_does_not_matter(tmp_path: Path) -> None:
    """Temporary checkpoint files are unique per process."""
    out = tmp_path / "messages.jsonl"
    (tmp_path / "messages.jsonl.checkpoint.tmp").mkdir()  # what a fixed name would trip on
    assert (
        main(
            ["--fake", "--fake-messages", "10", "export", "messages", "--out", str(out), "--quiet"]
        )
        == 0
    )
    assert len(out.read_bytes().splitlines()) == 10


def test_plain_http_to_another_host_is_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--api-key", SECRET, "--base-url", "http://api.example.com", "accounts", "list"])
    assert code == ExitCode.USAGE
    assert "--allow-insecure-http" in capsys.readouterr().err


@pytest.mark.slow
def test_allow_insecure_http_lets_plain_http_through(capsys: pytest.CaptureFixture[str]) -> None:
    """With the option the request is sent: TEST-NET-1 never answers, so a network error."""
    args = ["--api-key", SECRET, "--base-url", "http://192.0.2.1:9", "--allow-insecure-http"]
    code = main([*args, "--timeout", "0.3", "--retries", "0", "accounts", "list"])
    assert code == ExitCode.NETWORK, capsys.readouterr().err


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "postpress_async", *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTPRESS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def gated_pages(gate: threading.Event, pages: int = 10) -> Handler:
    """Ten pages of five messages; every page after the first waits until ``gate`` opens,
    so an export holds its lock for as long as the test needs."""

    async def handler(request: web.Request, hostile: Hostile) -> web.StreamResponse:
        number = int(request.query.get("cursor") or 0)
        if number:
            await asyncio.to_thread(gate.wait, 60)  # bounded: a failing test cannot hang
        ids = [f"msg_{number}_{i}" for i in range(5)]
        body = page_body(ids, str(number + 1) if number + 1 < pages else None)
        return web.Response(body=body, content_type="application/json")

    return handler


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_two_concurrent_exports_one_writer_then_resume_after_kill_9(tmp_path: Path) -> None:
    """A running export holds its output: a second one (plain, --force, --resume) is
    refused at once and changes nothing; after kill -9 the lock is gone and the same
    command (--resume is accepted, and changes nothing) completes the file with every
    message exactly once."""
    out = tmp_path / "messages.jsonl"
    gate = threading.Event()
    with hostile_server_in_thread(gated_pages(gate)) as server:
        export = ["export", "messages", "--out", str(out), "--quiet", "--base-url", server.url]
        export += ["--api-key", SECRET]
        first = subprocess.Popen(
            _cli(*export), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env()
        )
        try:
            deadline = time.monotonic() + 60
            while not (
                checkpoint(out).exists() and json.loads(checkpoint(out).read_bytes())["count"]
            ):
                assert first.poll() is None, "the first export ended early"
                assert time.monotonic() < deadline, "the first export never checkpointed"
                time.sleep(0.01)
            for extra in ([], ["--force"], ["--resume"]):
                before = out.read_bytes()
                second = subprocess.run(
                    _cli(*export, *extra), capture_output=True, env=_env(), timeout=60
                )
                assert second.returncode == ExitCode.LOCKED, second.stderr
                assert b"another export or follow is writing" in second.stderr
                assert out.read_bytes() == before  # not truncated, not mixed
            assert first.poll() is None  # the first still runs: each refusal was at once
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            gate.set()
            if first.poll() is None:
                first.kill()
                first.wait(timeout=30)
        resumed = subprocess.run(
            _cli(*export, "--resume"), capture_output=True, env=_env(), timeout=120
        )
    assert resumed.returncode == 0, resumed.stderr
    ids = [json.loads(line)["id"] for line in out.read_bytes().splitlines()]
    assert len(ids) == len(set(ids)) == 50
    assert json.loads(checkpoint(out).read_bytes())["offset"] == out.stat().st_size
