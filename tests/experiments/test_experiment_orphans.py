"""``botify experiment run`` killed with SIGKILL: no process it started keeps running, and a
rerun into the same ``--out`` logs only its own events."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from botify.cli import main
from botify.logs.reader import read_events
from tests.helpers.processes import descendants, start_experiment_until, wait_stopped

pytestmark = pytest.mark.e2e

SPEC = """
name = "orphans"
seed = 3

[world]
tracks = 1500
users = 300

[[days]]
sessions = {sessions}
arms = {{ C = "random", T1 = "sticky_artist" }}
"""


def test_a_killed_runner_leaves_no_orphans_and_a_rerun_logs_only_its_own_events(tmp_path: Path):
    spec = tmp_path / "orphans.toml"
    spec.write_text(SPEC.format(sessions=50_000))
    out = tmp_path / "out"
    runner = start_experiment_until(spec, out, "=== day 1")
    deadline = time.monotonic() + 30
    # The simulator is running against the service once its log has lines.
    while not list((out / "logs").glob("events-*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    started = descendants(runner.pid)
    # Redis, the service's master and workers, the simulator and its workers.
    assert len(started) >= 5, started
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    runner.stdout.close()

    # The reproduction: the service, Redis and the simulator kept running and writing.
    assert wait_stopped(started, timeout_s=45) == set()

    spec.write_text(SPEC.format(sessions=40))
    assert main(["experiment", "run", str(spec), "--out", str(out)]) == 0
    sessions = pd.read_csv(out / "day1-sessions.csv")
    events = list(read_events(out / "logs"))
    # About 40 visits (the population's day is Poisson around --episodes), each logged once.
    assert 20 < len(sessions) < 60
    assert len(events) == sessions["requests"].sum()
