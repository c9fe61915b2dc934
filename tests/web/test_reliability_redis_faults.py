"""Redis faults under a steady stream of ``/next``: Redis stopped and restarted, Redis paused.

The service must keep answering 200 with a catalog track (degraded, and logged as such),
bound every request by its socket timeouts, report the outage on ``/health`` and recover
by itself when Redis is back.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import redis
import requests

from botify.logs.reader import ReadStats, read_events
from botify.web.service import DEGRADED
from tests.helpers.traffic import Answer, Traffic
from tests.helpers.worlds import tiny_tracks

pytestmark = pytest.mark.integration

TIMEOUT_S = 0.2
# Two attempts of TIMEOUT_S each, plus a loaded CI machine: generous, but not a hang.
REQUEST_BOUND_S = 2.0
RECOMMENDER = "sticky_artist"
USERS = range(1, 9)
# A paused Redis holds each request for its timeouts; fewer clients than a worker's 4
# threads (one is left for /health) keep requests from also queueing behind each other.
PAUSED_USERS = range(1, 4)
TRACKS = len(tiny_tracks())


@pytest.fixture
def service(start_service, own_redis):
    """The service on ``own_redis``, serving every user with sticky_artist."""
    return start_service(
        env={
            "BOTIFY_REDIS_URL": own_redis.url,
            "BOTIFY_REDIS_TIMEOUT_S": str(TIMEOUT_S),
            "BOTIFY_EXPERIMENTS": json.dumps({"ONE": {"C": RECOMMENDER}}),
            "BOTIFY_EXPERIMENT": "ONE",
        }
    )


def wait_for_health(url: str, status: int, within_s: float) -> float:
    """Seconds until ``/health`` answers ``status``; fails the test after ``within_s``."""
    started = time.monotonic()
    while True:
        try:
            code = requests.get(f"{url}/health", timeout=within_s).status_code
        except requests.RequestException:
            code = None
        elapsed = time.monotonic() - started
        if code == status:
            return elapsed
        assert elapsed < within_s, f"/health answered {code}, not {status}, for {elapsed:.2f} s"
        time.sleep(0.02)


def assert_every_answer_ok_and_logged(answers: list[Answer], log_dir) -> list[dict]:
    """No error, no hang, a catalog track each, one well-formed line per answer; the events."""
    assert answers
    assert {a.status for a in answers} == {200}
    slowest = max(a.seconds for a in answers)
    assert slowest < REQUEST_BOUND_S, f"a request took {slowest:.2f} s"
    assert all(0 <= a.body["track"] < TRACKS for a in answers)
    assert {a.body["recommender"] for a in answers} == {RECOMMENDER}
    stats = ReadStats()
    events = [e for e in read_events(log_dir, stats) if e["message"] == "next"]
    assert stats.skipped_lines == 0
    assert len(events) == len(answers)
    return events


def test_stopped_redis_degrades_and_the_service_recovers_when_it_returns(
    service, own_redis, tmp_path
):
    traffic = Traffic(service.url, USERS, TRACKS, pause_s=0.01).start()
    try:
        time.sleep(1.0)
        own_redis.stop()
        stopped_at = time.monotonic()
        assert wait_for_health(service.url, 503, within_s=1.0) < 1.0
        time.sleep(1.5)
        outage_ended_at = time.monotonic()
        own_redis.start()
        wait_for_health(service.url, 200, within_s=10.0)
        recovered_ms = int(time.time() * 1000)
        time.sleep(1.5)
    finally:
        answers = traffic.stop()

    events = assert_every_answer_ok_and_logged(answers, tmp_path / "logs")
    during_outage = [a for a in answers if stopped_at < a.sent_at < outage_ended_at]
    assert len(during_outage) >= len(USERS)
    degraded = [e for e in events if e["degraded"]]
    assert len(degraded) >= len(during_outage)
    assert all(e["served_by"] == DEGRADED and e["request"] is None for e in degraded)
    # Every user is served by its recommender again, from Redis state, by the same process.
    after = [e for e in events if e["timestamp"] > recovered_ms + 500]
    assert {e["user"] for e in after} == set(USERS)
    assert all(not e["degraded"] and e["served_by"] == RECOMMENDER for e in after)
    assert service.process.poll() is None
    assert "Redis unavailable, degraded answer" in (tmp_path / "service.out").read_text()


def test_paused_redis_is_bounded_by_socket_timeouts(service, own_redis, tmp_path):
    traffic = Traffic(service.url, PAUSED_USERS, TRACKS, pause_s=0.01).start()
    try:
        time.sleep(1.0)
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        try:
            wait_for_health(service.url, 503, within_s=2.0)
            time.sleep(3.0)
        finally:
            os.kill(own_redis.process.pid, signal.SIGCONT)
        wait_for_health(service.url, 200, within_s=10.0)
        time.sleep(1.0)
    finally:
        answers = traffic.stop()

    events = assert_every_answer_ok_and_logged(answers, tmp_path / "logs")
    degraded = [e for e in events if e["degraded"]]
    assert {e["user"] for e in degraded} == set(PAUSED_USERS)
    assert all(e["served_by"] == DEGRADED for e in degraded)
    last_of_user = {e["user"]: e for e in sorted(events, key=lambda e: e["timestamp"])}
    assert not any(e["degraded"] for e in last_of_user.values())


def test_a_redis_refusing_writes_makes_health_503_and_answers_degraded(service, own_redis):
    client = redis.Redis.from_url(own_redis.url)
    assert requests.get(f"{service.url}/health", timeout=10).status_code == 200
    # maxmemory with noeviction: PING answers, every write (the state script) is refused.
    client.config_set("maxmemory-policy", "noeviction")
    client.set("ballast", b"x" * 1_000_000)
    client.config_set("maxmemory", client.info("memory")["used_memory"] - 100_000)
    try:
        health = requests.get(f"{service.url}/health", timeout=10)
        answer = requests.post(f"{service.url}/next/1", json={"track": 3, "time": 1.0}, timeout=10)
    finally:
        client.config_set("maxmemory", 0)

    assert health.status_code == 503
    assert health.json()["redis"].startswith("the state script fails: ")
    assert "maxmemory" in health.json()["redis"]
    assert answer.status_code == 200
    wait_for_health(service.url, 200, within_s=5)
