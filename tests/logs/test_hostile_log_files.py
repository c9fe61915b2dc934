"""Hostile log directories: what a crash, a full disk or a stray file can leave beside the
segments. ``open_log`` (and so ``botify report`` and training) and ``read_events`` skip and
count it; they never abort with a DuckDB traceback nor wait on a FIFO."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from botify.logs.reader import MAX_LINE_BYTES, ReadStats, open_log, read_events
from botify.rollout.experiments import Experiment
from tests.helpers.worlds import write_events

EXPERIMENT = Experiment("AB", {"C": "random", "T1": "toppop"})
USERS = 40


def ab_events() -> list[dict]:
    """Two sessions per user (three ``next``, a ``last``) of experiment AB."""
    events, timestamp = [], 0
    for user in range(USERS):
        for session in range(2):
            for request in range(4):
                timestamp += 1000
                events.append(
                    {
                        "message": "last" if request == 3 else "next",
                        "timestamp": timestamp,
                        "user": user,
                        "track": (user + request) % 50,
                        "time": 0.3 + 0.1 * request,
                        "latency": 0.001,
                        "recommendation": None if request == 3 else request + 1,
                        "recommender": EXPERIMENT.recommender(user),
                        "experiment": "AB",
                        "experiments": {"AB": EXPERIMENT.treatment(user)},
                        "request": session * 4 + request + 1,
                        "session": session + 1,
                    }
                )
    return events


GOOD_EVENTS = len(ab_events())


def nul_tail(directory):
    path = directory / "events-h-2-0-00000.jsonl"
    path.write_text(json.dumps(ab_events()[0] | {"user": 999}) + "\n")
    with open(path, "ab") as f:
        f.write(b"\0" * (20 * 1024 * 1024))
    return 1, 0, 1


def long_line(directory):
    path = directory / "events-h-3-0-00000.jsonl"
    event = json.dumps(ab_events()[0] | {"user": 998}) + "\n"
    path.write_text(event + '{"pad": "' + "x" * (MAX_LINE_BYTES + 1024) + '"}\n' + event)
    return 2, 0, 1


def dangling_link(directory):
    (directory / "events-h-4-0-00000.jsonl").symlink_to(directory / "gone.jsonl")
    return 0, 1, 0


def looping_link(directory):
    (directory / "events-h-5-0-00000.jsonl").symlink_to(directory / "events-h-5-0-00000.jsonl")
    return 0, 1, 0


def a_directory(directory):
    (directory / "events-h-6-0-00000.jsonl").mkdir()
    return 0, 1, 0


def a_fifo(directory):
    os.mkfifo(directory / "events-h-7-0-00000.jsonl")
    return 0, 1, 0


# Each writes its hostile entry and returns (extra events, skipped files, skipped lines).
HOSTILE = [nul_tail, long_line, dangling_link, looping_link, a_directory, a_fifo]


@pytest.fixture
def logs(tmp_path):
    write_events(tmp_path / "logs", ab_events())
    return tmp_path / "logs"


@pytest.mark.parametrize("hostile", [*HOSTILE, "all"], ids=lambda h: getattr(h, "__name__", h))
def test_the_log_is_read_skipping_and_counting_the_hostile_entries(logs, hostile):
    expected = [0, 0, 0]
    for write in HOSTILE if hostile == "all" else [hostile]:
        expected = [a + b for a, b in zip(expected, write(logs), strict=True)]
    extra, skipped_files, skipped_lines = expected

    with open_log(logs) as log:
        assert log.events == GOOD_EVENTS + extra
        assert len(log.read_stats.skipped_files) == skipped_files
        assert log.read_stats.skipped_lines == skipped_lines
    stats = ReadStats()
    assert sum(1 for _ in read_events(logs, stats)) == GOOD_EVENTS + extra
    assert (len(stats.skipped_files), stats.skipped_lines) == (skipped_files, skipped_lines)


def test_botify_report_neither_aborts_nor_hangs(logs):
    for write in HOSTILE:
        write(logs)

    done = subprocess.run(
        [sys.executable, "-m", "botify", "report", "--logs", str(logs), "--experiment", "AB"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BOTIFY_DATA_DIR": str(logs / "no-world")},
    )

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"Logs: {GOOD_EVENTS + 3} events from 3 files; 2 unreadable lines" in done.stdout
    assert "4 paths named like a log file skipped" in done.stdout
