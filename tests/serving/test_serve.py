"""``botify serve`` (gunicorn, 2 workers, embedded real redis-server) over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from botify.logs.reader import read_events
from botify.recommenders.exploration import EXPLORE_SUFFIX
from botify.serving.service_process import ServiceProcess
from botify.state.client import URL_FILE
from tests.helpers.traffic import Traffic
from tests.helpers.worlds import tiny_tracks, write_jsonl

pytestmark = pytest.mark.integration


@pytest.fixture
def service(tmp_path):
    write_jsonl(tmp_path / "world" / "tracks.jsonl", tiny_tracks(artists=500))
    process = ServiceProcess(tmp_path / "world", tmp_path / "logs", tmp_path / "redis")
    process.start()
    yield process
    process.stop()


def run_deploy(service, path):
    """``botify deploy contextual PATH`` against the service's Redis, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "botify", "deploy", "contextual", str(path)],
        env=service.env,
        capture_output=True,
        text=True,
    )


def deploy(service, path) -> str:
    """Deploy ``path`` successfully; the version it was given."""
    deployed = run_deploy(service, path)
    assert deployed.returncode == 0, deployed.stderr
    return deployed.stdout.split("version ")[1].split(";")[0]


def test_concurrent_requests_each_log_exactly_one_line(service, tmp_path):
    answers = Traffic(service.url, range(16), tracks=5000, requests_per_user=50).start().join()
    errors = [a.status for a in answers if a.status != 200]
    last = requests.post(f"{service.url}/last/1", json={"track": 7, "time": 0.5})

    assert errors == [] and last.status_code == 200
    events = list(read_events(tmp_path / "logs"))
    assert len(events) == len(answers) + 1 == 801
    # Each request counted once: a user's counters run 1, 2, 3… A Redis call that timed out
    # on a loaded machine answers degraded (no counter; the script may still have counted),
    # so a user with such an answer may skip a number but never repeat one.
    per_user, degraded = {}, set()
    for e in events:
        if e["degraded"]:
            degraded.add(e["user"])
        else:
            per_user.setdefault(e["user"], []).append(e["request"])
    for user, counters in per_user.items():
        if user in degraded:
            assert len(set(counters)) == len(counters), (user, counters)
        else:
            assert sorted(counters) == list(range(1, len(counters) + 1)), (user, counters)
    health = requests.get(f"{service.url}/health").json()
    assert health["redis"] == "ok" and health["tracks"] == 5000


def test_readme_curl_examples(service):
    def curl(*args):
        out = subprocess.run(["curl", "-s", *args], capture_output=True, text=True, check=True)
        return out.stdout

    next_body = '{"track": 42, "time": 1.0}'
    assert '"status": "alive"' in curl(service.url + "/")
    assert '"track": 42' in curl(service.url + "/track/42")
    answer = curl("-X", "POST", "-H", "Content-Type: application/json", "-d", next_body,
                  service.url + "/next/1")  # fmt: skip
    assert '"recommender"' in answer
    bad = curl("-X", "POST", "-H", "Content-Type: application/json", "-d",
               '{"track": 42, "time": 5}', service.url + "/next/1")  # fmt: skip
    assert "'time'" in bad


def test_deploy_switches_every_worker_under_load_without_errors(service, tmp_path):
    lists = [{"track": t, "recommendations": [(t + 1) % 5000]} for t in range(5000)]
    path = write_jsonl(tmp_path / "i2i.jsonl", lists)
    traffic = Traffic(service.url, range(100, 108), tracks=5000).start()
    time.sleep(0.5)

    version = deploy(service, path)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        recent = [e for e in read_events(tmp_path / "logs") if e.get("model_version")]
        if len({e["request"] for e in recent}) > 50:
            break
        time.sleep(0.2)
    time.sleep(1.5)  # both workers have polled by now
    errors = [a.status for a in traffic.stop() if a.status != 200]

    assert errors == []
    events = sorted(read_events(tmp_path / "logs"), key=lambda e: e["timestamp"])
    # An explored answer (BOTIFY_EXPLORE's share, served_by "..._explore") is a random
    # track, not the lists': it names no model version.
    listed = [e for e in events if not e["served_by"].endswith(EXPLORE_SUFFIX)][-20:]
    assert {e["model_version"] for e in listed} == {version}
    contextual = [e for e in listed if e["recommender"] == "contextual"]
    assert contextual and all(e["recommendation"] == (e["track"] + 1) % 5000 for e in contextual)
    assert requests.get(f"{service.url}/health").json()["recommendations"]["contextual"] == version

    rejected = run_deploy(service, tmp_path / "nope")
    assert rejected.returncode == 1 and "keeps serving" in rejected.stderr


def test_sigterm_stops_gracefully_with_every_answer_logged(service, tmp_path):
    answers = (
        Traffic(service.url, range(200, 204), tracks=5000, requests_per_user=30).start().join()
    )
    assert {a.status for a in answers} == {200}

    assert service.stop() == 0
    assert not (tmp_path / "redis" / URL_FILE).exists()
    assert len(list(read_events(tmp_path / "logs"))) == len(answers) == 120


def test_every_worker_follows_a_deployment_without_traffic(service, tmp_path):
    path = write_jsonl(tmp_path / "i2i.jsonl", [{"track": 1, "recommendations": [2]}])
    version = deploy(service, path)
    time.sleep(3)  # three polls; no /next reached any worker

    # A new connection per request lands on either worker.
    seen = {requests.get(f"{service.url}/health").json()["recommendations"]["contextual"]
            for _ in range(40)}  # fmt: skip
    assert seen == {version}


def test_kept_alive_connections_spread_over_every_worker(service, tmp_path):
    Traffic(service.url, range(16), tracks=5000, requests_per_user=5).start().join()

    logs = (tmp_path / "logs").glob("events-*.jsonl")
    lines_per_worker = [len(f.read_text().splitlines()) for f in logs]
    # Sixteen connections hashed over two sockets all land on one with odds 2 ** -15.
    assert len(lines_per_worker) == 2 and sum(lines_per_worker) == 80


def test_serve_refuses_a_port_another_server_listens_on(service, tmp_path):
    second = subprocess.run(
        [sys.executable, "-m", "botify", "serve", "--port", str(service.port)],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{service.port}" in second.stderr
    assert requests.get(f"{service.url}/health").status_code == 200
