"""Developer tasks: ``nox -s tests lint typecheck``; ``nox -s bench`` and ``nox -s demo`` on demand."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "tests_aioresponses", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The suite against the newest aiohttp, with the fake server as the main fake."""
    session.install("-e", ".[test,test-ops,cli]")
    session.run("pytest", *session.posargs)


@nox.session
def tests_aioresponses(session: nox.Session) -> None:
    """The suite on aiohttp < 3.14 with the aioresponses tests live (0.7.9 needs it)."""
    session.install("-e", ".[test,aioresponses]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[test,test-ops,cli]", "mypy==2.4.1")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory targets against the fake server; prints the tables."""
    # `test` too: the PostgreSQL benchmarks start their cluster with the tests' helper;
    # bench_peers installs unipile-node-sdk with npm (skipped, not failed, without Node).
    session.install("-e", ".[bench,cli,postgres,dask,duckdb,test]")
    scripts = (
        "bench_floor.py",
        "bench_startup.py",
        "bench_rows.py",
        "bench_export.py",
        "bench_peers.py",
        "bench_sinks.py",
        "bench_db_sinks.py",
        "bench_files_sink.py",
        "bench_stream.py",
        "bench_retry.py",
        "bench_fake_server.py",
        "bench_observe.py",
        "bench_watch.py",
        "bench_catchup.py",
        "bench_follow.py",
        "bench_lease.py",
        "bench_ingest.py",
    )
    missed = []
    crashed = []
    for script in scripts:
        # A missed target exits 1: every table is still printed, then the session fails.
        output = session.run(
            "python", f"benchmarks/{script}", *session.posargs, silent=True, success_codes=[0, 1]
        )
        print(output, flush=True)
        # Python exits 1 on an uncaught exception too: a crash must not pass for a table.
        if "Traceback (most recent call last)" in str(output):
            crashed.append(script)
        elif "FAIL" in str(output):
            missed.append(script)
    if crashed:
        session.error(f"crashed: {', '.join(crashed)}; targets missed in {', '.join(missed)}")
    if missed:
        session.error(f"targets missed in {', '.join(missed)}")


@nox.session
def demo(session: nox.Session) -> None:
    """The README's first command: an export against the embedded fake server."""
    session.install("-e", ".[cli]")
    session.run("postpress", "demo", *session.posargs)
