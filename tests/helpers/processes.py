"""Process trees from ``/proc``: what a test must find stopped after it kills a parent.

(A module of its own so that every test folder can import it, like ``tests/worlds.py``.)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def _parents() -> dict[int, int]:
    """pid → parent pid of every process now."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now (children, grandchildren, ...)."""
    parents = _parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as stopped)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def wait_stopped(pids: set[int], timeout_s: float) -> set[int]:
    """Wait until none of ``pids`` runs, at most ``timeout_s``; returns those still running."""
    deadline = time.monotonic() + timeout_s
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running(pids)


def start_experiment_until(spec: Path, out: Path, line: str) -> subprocess.Popen:
    """``botify experiment run SPEC --out OUT`` in a child, once it has printed a line
    starting with ``line`` (its output is a pipe the caller closes or reads)."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "botify", "experiment", "run", str(spec), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for printed in runner.stdout:
        if printed.startswith(line):
            break
    return runner
