"""``python -m postpress_async.testing`` as a subprocess, the way benchmarks run it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import msgspec
import pytest

from postpress_async.testing import Dataset
from postpress_async.testing.__main__ import build_parser, faults_from_args, server_from_args
from postpress_async.testing._faults import JSON_FAULTS, FaultKind


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def standalone() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The standalone server on a free port, and its readiness line."""
    port = free_port()
    command = [sys.executable, "-m", "postpress_async.testing", "--port", str(port)]
    command += ["--messages", "300", "--chats", "12", "--seed", "4", "--api-key", "pp_cli"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            yield process, line
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.slow
async def test_standalone_server_prints_ready_line_and_serves(
    standalone: tuple[subprocess.Popen[str], str],
) -> None:
    """It announces URL and key on one line, then serves the seeded dataset."""
    process, line = standalone
    assert line.startswith("postpress fake server listening on http://127.0.0.1:")
    assert line.endswith("/api/v1 (api key: pp_cli)")
    url = line.split(" on ")[1].split(" ")[0]
    async with aiohttp.ClientSession(headers={"X-API-KEY": "pp_cli"}) as http:
        async with http.get(f"{url}/messages", params={"limit": "2"}) as response:
            assert response.status == 200
            body = msgspec.json.decode(await response.read())
        async with http.get(f"{url}/messages", headers={"X-API-KEY": "nope"}) as response:
            assert response.status == 401
    expected = Dataset(seed=4, chats=12, messages=300)
    assert body["object"] == "MessageList"
    assert [m["id"] for m in body["items"]] == expected.expected_message_ids()[:2]
    assert body["items"][0] == expected.message(0)
    process.terminate()
    assert await asyncio.to_thread(process.wait, 10) == 0
    assert process.stdout is not None
    assert "served 2 requests" in process.stdout.read()


def test_chat_time_reaches_the_dataset() -> None:
    """``--chat-time created``: the standalone fake bounds chats by their creation."""
    plain = server_from_args(build_parser().parse_args([]))
    created = server_from_args(build_parser().parse_args(["--chat-time", "created"]))
    assert (plain.dataset.config.chat_time, created.dataset.config.chat_time) == (
        "activity",
        "created",
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--chat-time", "creation"])


def test_cli_flags_map_to_faults() -> None:
    """``--fault-rate`` spreads over the JSON errors; ``--fault`` sets one kind."""
    args = build_parser().parse_args(
        [
            "--latency",
            "0.02",
            "--jitter",
            "0.005",
            "--fault-rate",
            "0.16",
            "--fault",
            "slow_body=0.1",
        ]
    )
    faults = faults_from_args(args)
    assert faults.latency == 0.02
    assert faults.jitter == 0.005
    assert faults.rates[FaultKind.SLOW_BODY] == 0.1
    assert {k for k in faults.rates if k in JSON_FAULTS} == set(JSON_FAULTS)
    assert sum(faults.rates.values()) == pytest.approx(0.26)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--fault", "nonsense"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--messages", "10", "--bad-records"], "at least 40 messages", id="bad-records"
        ),
        pytest.param(["--messages", "-1"], "must be >= 0", id="negative-messages"),
        pytest.param(["--accounts", "0"], "at least one account", id="no-account"),
        pytest.param(
            ["--latency", "-1"], "latency must be a finite number of seconds >= 0", id="latency"
        ),
        pytest.param(["--fault-rate", "2"], "add up to more than 1", id="fault-rate"),
        pytest.param(["--live-rate", "-1"], "rate must be > 0", id="live-rate"),
        pytest.param(["--port", "99999"], "--port: must be 0..65535, got 99999", id="port"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value the fake cannot serve is a usage error naming it, never a traceback."""
    from postpress_async.testing.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("python -m postpress_async.testing: error: ")
    assert expected in last


def test_a_port_in_use_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """The server cannot listen where another already does: say where, no traceback."""
    from postpress_async.testing.__main__ import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--port", str(port), "--messages", "10"])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(
        f"python -m postpress_async.testing: error: cannot listen on 127.0.0.1:{port}"
    )
