"""The event log failing under a running service: a failed rotation, a deleted directory.

A request that cannot be logged is refused with 503 (never answered without its line),
``/health`` says why, and the worker recovers by itself once the directory is usable again.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter

import pytest
import requests

from botify.logs.reader import ReadStats, read_events
from tests.helpers.traffic import Traffic, answered_tracks, logged_recommendations
from tests.helpers.worlds import tiny_tracks

pytestmark = pytest.mark.integration

TRACKS = len(tiny_tracks())
# A new segment every few lines, so a broken directory is hit at the next rotation.
ROTATING = {"BOTIFY_LOG_MAX_BYTES": "1000"}


def post(url: str, user: int, track: int = 3) -> requests.Response:
    return requests.post(f"{url}/next/{user}", json={"track": track, "time": 0.7}, timeout=10)


def logged_users(log_dir) -> Counter:
    stats = ReadStats()
    users = Counter(e["user"] for e in read_events(log_dir, stats))
    assert stats.skipped_lines == 0
    return users


def test_an_unusable_log_directory_refuses_with_503_and_the_worker_recovers(
    start_service, tmp_path
):
    service = start_service(workers=1, env=ROTATING)
    logs = tmp_path / "logs"
    assert all(post(service.url, user).status_code == 200 for user in range(10))

    # The next segment cannot be created: a file stands where the directory was.
    logs.rename(tmp_path / "moved-away")
    logs.write_text("not a directory")
    refused = [post(service.url, user) for user in range(100, 140)]
    health = requests.get(f"{service.url}/health", timeout=10)

    # Lines still fit in the open segment (moved with its directory) until it rotates.
    statuses = [r.status_code for r in refused]
    served = statuses.index(503)
    assert served < 5 and set(statuses[served:]) == {503}
    assert "event log" in refused[-1].json()["message"]
    assert health.status_code == 503 and "event log" in health.json()["log"]

    logs.unlink()
    (tmp_path / "moved-away").rename(logs)
    assert requests.get(f"{service.url}/health", timeout=10).json()["log"] == "ok"
    recovered = [post(service.url, user) for user in range(200, 240)]

    assert {r.status_code for r in recovered} == {200}
    users = logged_users(logs)
    assert set(users) == set(range(10)) | set(range(100, 100 + served)) | set(range(200, 240))
    assert max(users.values()) == 1


def test_a_deleted_log_directory_loses_no_answered_line(start_service, tmp_path):
    service = start_service(workers=2)
    logs = tmp_path / "logs"
    # Paced, and the directory goes once a quarter is answered: on a fast machine a fixed
    # sleep let all the traffic finish before the deletion, leaving nothing to check.
    traffic = Traffic(
        service.url, range(8), TRACKS, requests_per_user=40, pause_s=0.02, keep_alive=False
    )
    traffic.start()
    deadline = time.monotonic() + 30
    while len(traffic.snapshot()) < 80 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(traffic.snapshot()) < 8 * 40, "the traffic ended before the deletion"
    # Moved away first, so a segment the service opens meanwhile cannot make rmtree fail.
    logs.rename(tmp_path / "deleted")
    shutil.rmtree(tmp_path / "deleted")
    deleted = time.monotonic()
    answers = traffic.join()

    assert Counter(a.status for a in answers) == {200: 8 * 40}
    # Lines written before the deletion went with it; every answer sent after it has its
    # line on disk: per user, the logged recommendations are the last answered tracks.
    logged = logged_recommendations(logs)
    answered = answered_tracks(answers)
    for user, tracks in answered.items():
        after = sum(a.sent_at > deleted for a in answers if a.user == user)
        assert after > 0 and len(logged[user]) >= after
        assert logged[user] == tracks[-len(logged[user]) :]
