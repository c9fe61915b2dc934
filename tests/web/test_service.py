"""Service behaviour across requests: reproducibility, degraded mode, configuration errors."""

from __future__ import annotations

import time
from dataclasses import replace

import fakeredis
import pytest
import redis

from botify.logs.reader import read_events
from botify.rollout.deploy import activate
from botify.serving.redis_server import free_port
from botify.state.client import connect
from botify.web import create_app
from tests.helpers.worlds import with_experiment

SESSION = [(3, 1.0), (40, 0.8), (41, 0.2), (77, 0.1), (120, 0.9)]


def replay(config, recommender):
    """One user's session against a fresh Redis; the answers in order."""
    app = create_app(with_experiment(config, recommender), fakeredis.FakeRedis())
    client = app.test_client()
    answers = [client.post("/next/5", json={"track": t, "time": x}).json for t, x in SESSION]
    client.post("/last/5", json={"track": 1, "time": 0.4})
    answers += [client.post("/next/5", json={"track": t, "time": x}).json for t, x in SESSION]
    return [a["track"] for a in answers]


@pytest.mark.parametrize(
    "recommender", ["random", "toppop", "sticky_artist", "contextual", "anchor", "anchor_fresh"]
)
def test_same_requests_against_a_fresh_redis_give_the_same_answers(config, recommender):
    first = replay(config, recommender)

    assert replay(config, recommender) == first
    assert replay(replace(config, seed=config.seed + 1), recommender) != first


def test_next_and_last_answer_the_bodies_and_log_one_event_each(config):
    service = create_app(with_experiment(config, "toppop"), fakeredis.FakeRedis()).extensions[
        "botify"
    ]

    answer = service.next(5, 3, 1.0, started=time.perf_counter())
    assert set(answer) == {"user", "track", "recommender"} and answer["recommender"] == "toppop"
    assert service.last(5, answer["track"], 0.4, started=time.perf_counter()) == {"user": 5}
    events = list(read_events(config.log_dir))
    assert [(e["message"], e["recommendation"]) for e in events] == [
        ("next", answer["track"]),
        ("last", None),
    ]


def test_answers_do_not_depend_on_other_users(config):
    app = create_app(with_experiment(config, "random"), fakeredis.FakeRedis())
    client = app.test_client()
    alone = client.post("/next/5", json={"track": 3, "time": 1}).json

    app = create_app(with_experiment(config, "random"), fakeredis.FakeRedis())
    client = app.test_client()
    client.post("/next/6", json={"track": 3, "time": 1})
    assert client.post("/next/5", json={"track": 3, "time": 1}).json == alone


def dead_redis(config):
    return connect(f"redis://127.0.0.1:{free_port()}/0", replace(config, redis_timeout_s=0.2))


def test_without_redis_health_is_503_and_next_degrades_to_random(config):
    app = create_app(config, dead_redis(config))
    client = app.test_client()

    health = client.get("/health")
    assert health.status_code == 503
    assert health.json["redis"].startswith("unavailable")
    assert health.json["status"] == "degraded"

    answer = client.post("/next/5", json={"track": 3, "time": 1})
    assert answer.status_code == 200 and 0 <= answer.json["track"] < 200
    assert client.post("/last/5", json={"track": 3, "time": 1}).status_code == 200

    events = list(read_events(config.log_dir))
    assert [e["served_by"] for e in events] == ["random_redis_unavailable", None]
    assert all(e["degraded"] for e in events)


def test_unknown_recommender_in_an_experiment_is_a_start_up_error(config):
    with pytest.raises(ValueError, match="unknown recommender .nonexistent.*built in: anchor"):
        create_app(with_experiment(config, "nonexistent"), fakeredis.FakeRedis())


def test_missing_catalog_is_a_clear_start_up_error(config, tmp_path):
    with pytest.raises(ValueError, match="sim world"):
        create_app(replace(config, data_dir=tmp_path / "nowhere"), fakeredis.FakeRedis())


def test_no_redis_configured_is_a_clear_start_up_error(config):
    with pytest.raises(RuntimeError, match="BOTIFY_REDIS_URL"):
        create_app(config)


def test_redis_errors_are_bounded_by_the_timeout(config):
    client = dead_redis(config)
    started = time.monotonic()
    with pytest.raises(redis.RedisError):
        client.ping()
    assert time.monotonic() - started < 2


def test_activate_switches_the_served_experiment_and_events_say_which(config):
    config = replace(
        config,
        experiments={"DAY1": {"C": "random", "T1": "sticky_artist"}, "AB": {"C": "toppop"}},
        experiment="DAY1",
    )
    redis_client = fakeredis.FakeRedis()
    app = create_app(config, redis_client)
    client = app.test_client()
    before = client.post("/next/5", json={"track": 3, "time": 1}).json["recommender"]

    activate(redis_client, config, "AB")
    app.extensions["botify"].active_experiment.refresh()
    after = client.post("/next/5", json={"track": 3, "time": 1}).json["recommender"]

    assert before in ("random", "sticky_artist") and after == "toppop"
    events = list(read_events(config.log_dir))
    assert [e["experiment"] for e in events] == ["DAY1", "AB"]
    assert set(events[0]["experiments"]) == {"DAY1", "AB"}
