"""The control plane under a running service: Redis losing its data, workers respawning.

Deployed versions and the active experiment survive a FLUSHALL of Redis (the durable record
beside the deployed lists), and a respawned worker takes connections only once the deployed
lists are loaded, so no request is answered by a fallback because of a restart.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
import redis
import requests

from botify.cli import main
from botify.data.lists import content_version
from botify.rollout.keys import ACTIVE_EXPERIMENT_KEY, deploy_key
from botify.serving.service_process import worker_pids
from botify.state.client import URL_FILE
from tests.helpers.traffic import Traffic
from tests.helpers.worlds import tiny_tracks, write_jsonl

pytestmark = pytest.mark.integration

# 20,000 tracks with lists of 50: a 6 MB file a worker takes a noticeable time to load.
ARTISTS = 2000
EXPERIMENTS = {"A": {"C": "random"}, "B": {"C": "contextual"}}


def write_lists(path: Path, tracks: int, seed: int) -> Path:
    rng = random.Random(seed)
    records = [
        {"track": t, "recommendations": rng.sample(range(tracks), 50)} for t in range(tracks)
    ]
    return write_jsonl(path, records)


def wait_for(condition, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        time.sleep(0.05)


def test_a_flushed_redis_and_a_respawned_worker_serve_what_was_deployed(
    start_service, world_dir, tmp_path, monkeypatch, capsys
):
    tracks = tiny_tracks(ARTISTS)
    write_jsonl(world_dir / "tracks.jsonl", tracks)
    env = {"BOTIFY_EXPERIMENTS": json.dumps(EXPERIMENTS), "BOTIFY_EXPERIMENT": "A"}
    service = start_service(workers=2, env=env)
    for name, value in {**env, "BOTIFY_DATA_DIR": str(world_dir)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BOTIFY_REDIS_DIR", str(tmp_path / "redis"))
    client = redis.Redis.from_url((tmp_path / "redis" / URL_FILE).read_text())

    first = write_lists(tmp_path / "first.jsonl", len(tracks), seed=1)
    second = write_lists(tmp_path / "second.jsonl", len(tracks), seed=2)
    assert main(["deploy", "contextual", str(first)]) == 0
    assert main(["deploy", "contextual", str(second)]) == 0
    assert main(["activate", "B"]) == 0
    health = lambda: requests.get(f"{service.url}/health", timeout=10).json()  # noqa: E731
    version = content_version(second)
    # /health answers from either worker: several answers in a row, so both serve it.
    served = lambda: [health() for _ in range(6)]  # noqa: E731
    wait_for(
        lambda: all(
            (h["experiment"], h["recommendations"]["contextual"]) == ("B", version)
            for h in served()
        ),
        60,
        "both workers serve experiment B and the second lists",
    )

    client.flushall()
    time.sleep(1.5)  # a few polls of every worker
    assert health()["experiment"] == "B" and health()["recommendations"]["contextual"] == version
    assert health()["control"] == "ok"
    assert client.get(ACTIVE_EXPERIMENT_KEY) == b"B"
    assert client.llen(deploy_key("contextual")) == 2

    # A worker killed and respawned under traffic: the new one answers only with the lists.
    old = worker_pids(service.process.pid)
    traffic = Traffic(service.url, range(8), len(tracks), keep_alive=False).start()
    time.sleep(0.5)
    os.kill(min(old), signal.SIGKILL)
    wait_for(lambda: len(worker_pids(service.process.pid) - old) == 1, 30, "a new worker")
    new = (worker_pids(service.process.pid) - old).pop()
    wait_for(lambda: len(_events_of(tmp_path / "logs", new)) >= 50, 60, "the new worker serves")
    answers = traffic.stop()

    assert {a.status for a in answers} <= {200, None}
    by_new = [
        (e["served_by"], e["model_version"], e["experiment"])
        for e in _events_of(tmp_path / "logs", new)
    ]
    assert by_new and set(by_new) == {("contextual", version, "B")}, set(by_new)

    # The deployment history survived the flush too.
    assert main(["deploy", "contextual", "--rollback"]) == 0
    assert "rolled back contextual" in capsys.readouterr().out


def _events_of(log_dir: Path, pid: int) -> list[dict]:
    """The events written by process ``pid`` (its segments are named after it)."""
    events = []
    for path in sorted(log_dir.glob(f"events-*-{pid}-*.jsonl")):
        events += [json.loads(line) for line in path.read_text().splitlines()]
    return events
