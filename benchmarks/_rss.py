"""Run a Python child and read its own peak RSS: ``VmHWM`` of ``/proc/self/status`` at exit.

Not ``ru_maxrss`` from ``wait4``: Linux keeps in a child's ``ru_maxrss`` the high-water mark
of the memory it had before its ``exec``, which is a copy of the benchmark process that
started it (a 300 MB parent makes a trivial child report 310 MB). ``VmHWM`` is the child's
own address space since its ``exec``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

_WRAPPER = """
import runpy, sys
mode, target, *rest = sys.argv[1:]
try:
    if mode == "-m":
        sys.argv = [target, *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["-c", *rest]
        exec(compile(target, "<child>", "exec"), {"__name__": "__main__"})
finally:
    with open("/proc/self/status") as status:
        peak = next(line for line in status if line.startswith("VmHWM:")).split()[1]
    sys.stderr.write(f"\\npeak-rss-kb {peak}\\n")
"""


@dataclass(frozen=True)
class Measured:
    returncode: int
    peak_mb: float
    stdout: str
    stderr: str


def run_measured(mode: str, target: str, *args: str) -> Measured:
    """Run ``python -m target args`` (``mode="-m"``) or ``python -c target args`` (``"-c"``)."""
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, mode, target, *args], capture_output=True, text=True
    )
    lines = done.stderr.rstrip().splitlines()
    peak = int(lines[-1].split()[1]) if lines and lines[-1].startswith("peak-rss-kb") else 0
    return Measured(done.returncode, peak / 1024, done.stdout, "\n".join(lines[:-1]))
