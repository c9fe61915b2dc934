"""The event log under load: constant rotation, two workers, and a SIGTERM mid-load.

Every 200 answer has exactly one whole line, in the order the user's requests were
answered: none lost, torn or duplicated, across segments and across a graceful shutdown.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from botify.logs.reader import log_files
from tests.helpers.traffic import Traffic, answered_tracks, logged_recommendations
from tests.helpers.worlds import tiny_tracks

pytestmark = pytest.mark.integration

TRACKS = len(tiny_tracks())
# A few events per segment, so the files rotate constantly under load.
ROTATING = {"BOTIFY_LOG_MAX_BYTES": "2000"}
USERS = range(16)


def segments_per_process(log_dir: Path) -> Counter:
    """How many segment files each process wrote (``events-<host>-<pid>-<start>-<seq>``)."""
    return Counter(path.stem.rsplit("-", 3)[1] for path in log_files(log_dir))


def test_constant_rotation_under_load_keeps_exactly_one_line_per_answer(start_service, tmp_path):
    service = start_service(workers=2, env=ROTATING)
    traffic = Traffic(service.url, USERS, TRACKS, requests_per_user=150, keep_alive=False)
    answers = traffic.start().join()

    assert Counter(a.status for a in answers) == {200: len(USERS) * 150}
    logged = logged_recommendations(tmp_path / "logs")
    assert logged == answered_tracks(answers)
    segments = segments_per_process(tmp_path / "logs")
    assert len(segments) == 2 and min(segments.values()) >= 10, segments


def test_sigterm_under_load_loses_no_answered_line(start_service, tmp_path):
    service = start_service(workers=2, env=ROTATING)
    traffic = Traffic(service.url, USERS, TRACKS).start()
    try:
        deadline = time.monotonic() + 60
        while traffic.statuses()[200] < 500:
            assert time.monotonic() < deadline, traffic.statuses()
            time.sleep(0.05)
        assert service.stop() == 0
    finally:
        answers = traffic.stop()

    statuses = Counter(a.status for a in answers)
    assert set(statuses) <= {200, None}, statuses
    logged = logged_recommendations(tmp_path / "logs")
    answered = answered_tracks(answers)
    for user in USERS:
        # A request the server answered while the client's connection was being closed
        # is logged without a 200 reaching the client: at most one per user.
        assert logged[user][: len(answered[user])] == answered[user]
        assert len(logged[user]) - len(answered[user]) <= 1
