"""The service on a real redis-server and a real 3-node Redis Cluster: atomic user state,
script reloading, expiry, deployment keys."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import redis

from botify.cli import main
from botify.data.lists import content_version
from botify.logs.reader import read_events
from botify.rollout.deploy import activate, publish
from botify.serving.redis_server import RedisServer
from botify.state.client import connect
from botify.state.store import UserStateStore, state_keys
from botify.web import create_app
from tests.helpers.worlds import with_experiment, write_jsonl

pytestmark = pytest.mark.integration


def test_concurrent_requests_of_one_user_lose_no_update(real_redis, config):
    store = UserStateStore(real_redis, config)
    barrier = threading.Barrier(8)
    requests: list[int] = []

    def listen(n):
        barrier.wait()
        for i in range(25):
            state = store.on_next(7, 10 + i % 10, 0.3 + (i % 7) / 10, "Artist 1")
            requests.append(state.request)

    threads = [threading.Thread(target=listen, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    state, artists, _ = state_keys(7)
    assert real_redis.hget(artists, "Artist 1:count") == b"200"
    assert real_redis.hget(state, "requests") == b"200"
    assert sorted(requests) == list(range(1, 201))
    expected_sum = sum(0.3 + (i % 7) / 10 for i in range(25)) * 8
    assert float(real_redis.hget(artists, "Artist 1:sum")) == pytest.approx(expected_sum)


def test_the_script_survives_script_flush(real_redis, config):
    store = UserStateStore(real_redis, config)
    store.on_next(1, 3, 0.9, "Artist 0")

    real_redis.script_flush()
    state = store.on_next(1, 4, 0.9, "Artist 0")

    assert state.request == 2


def test_state_expires_after_the_ttl(real_redis, config):
    store = UserStateStore(real_redis, config)
    store.on_next(1, 3, 0.9, "Artist 0", needs=frozenset({"played"}))

    for key in state_keys(1):
        assert 0 < real_redis.ttl(key) <= config.state_ttl_s
    store.on_last(1, 3, 0.9, "Artist 0")
    assert real_redis.exists(state_keys(1)[2]) == 0


def test_keys_of_one_user_share_a_cluster_slot(real_redis):
    from redis.crc import key_slot

    assert len({key_slot(k.encode()) for k in state_keys(123456789)}) == 1


def test_the_service_runs_on_a_real_redis_and_cluster(real_redis, config, tmp_path):
    config = replace(
        config,
        experiments={"A": {"C": "anchor"}, "B": {"C": "contextual"}},
        experiment="A",
    )
    app = create_app(config, real_redis)
    catalog = app.extensions["botify"].catalog
    lists = write_jsonl(tmp_path / "i2i.jsonl", [{"track": 3, "recommendations": [150]}])
    publish(real_redis, config, catalog, "contextual", lists)
    activate(real_redis, config, "B")
    for setting in app.extensions["botify"].poller.watched:
        setting.refresh()
    client = app.test_client()

    answer = client.post("/next/9", json={"track": 3, "time": 1.0}).json
    assert answer == {"user": 9, "track": 150, "recommender": "contextual"}
    assert client.post("/last/9", json={"track": 150, "time": 0.2}).json == {"user": 9}
    assert real_redis.hget(state_keys(9)[0], "session") == b"1"
    assert client.get("/health").json["redis"] == "ok"


def test_botify_deploy_indexed_then_the_indexed_recommender_serves_the_users_list(
    redis_server, config, tmp_path, monkeypatch
):
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    path = write_jsonl(tmp_path / "indexed.jsonl", [{"user": 9, "recommendations": [150, 151]}])
    monkeypatch.setenv("BOTIFY_REDIS_URL", redis_server.url)
    monkeypatch.setenv("BOTIFY_DATA_DIR", str(config.data_dir))

    assert main(["deploy", "indexed", str(path)]) == 0
    app = create_app(with_experiment(config, "indexed"), client)
    http = app.test_client()
    answers = [http.post("/next/9", json={"track": 3, "time": 1.0}).json for _ in range(10)]

    version = http.get("/health").json["recommendations"]["indexed"]
    assert version == content_version(path)
    assert {a["track"] for a in answers} == {150, 151}
    events = list(read_events(config.log_dir))
    assert {(e["served_by"], e["model_version"]) for e in events} == {("indexed", version)}


def test_the_deploy_and_activate_commands_say_what_they_did(
    redis_server, config, tmp_path, monkeypatch, capsys
):
    # A database of its own: the pollers of other tests' apps announce their experiments
    # in database 0, as running workers would.
    url = redis_server.url.replace("?db=0", "?db=3")
    assert url != redis_server.url
    redis.Redis.from_url(url).flushdb()
    monkeypatch.setenv("BOTIFY_REDIS_URL", url)
    monkeypatch.setenv("BOTIFY_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("BOTIFY_EXPERIMENTS", '{"A": {"C": "random"}, "B": {"C": "toppop"}}')
    first = write_jsonl(tmp_path / "1.jsonl", [{"track": 3, "recommendations": [4]}])
    second = write_jsonl(tmp_path / "2.jsonl", [{"track": 3, "recommendations": [5]}])

    assert main(["deploy", "contextual", str(first)]) == 0
    assert main(["deploy", "contextual", str(second)]) == 0
    assert main(["deploy", "contextual", "--rollback"]) == 0
    assert main(["deploy", "contextual"]) == 2
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"track": 3, "recommendations": []}])
    assert main(["deploy", "contextual", str(empty)]) == 2
    assert main(["deploy", "contextual", "--rollback"]) == 1  # the empty file was not deployed
    assert main(["activate", "B"]) == 0
    assert main(["activate", "NOPE"]) == 1

    out, err = capsys.readouterr()
    assert f"rolled back contextual to version {content_version(first)}" in out
    assert "activated experiment B; every replica serves it within" in out
    assert "botify deploy: give a FILE to deploy, or --rollback" in err
    assert "holds no recommendation" in err and "--force" in err
    assert "botify activate: unknown experiment 'NOPE'" in err


def test_connect_builds_a_cluster_client_when_configured(redis_cluster, config):
    client = connect(redis_cluster.url, replace(config, redis_cluster=True))

    assert isinstance(client, redis.RedisCluster)
    assert UserStateStore(client, config).on_next(5, 3, 1.0, "Artist 0").request == 1


def test_the_embedded_redis_keeps_its_data_across_a_restart(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    redis.Redis.from_url(server.url).hset("user:{5}:state", "requests", 41)
    server.close()
    server = RedisServer(tmp_path / "redis").start()
    try:
        assert redis.Redis.from_url(server.url).hget("user:{5}:state", "requests") == b"41"
    finally:
        server.close()


def test_counters_restarted_by_lost_data_start_a_later_epoch(redis_server, config):
    client = redis.Redis.from_url(redis_server.url)
    client.delete(*state_keys(77))
    store = UserStateStore(client, config)
    first = [store.on_next(77, 3, 1.0, "Artist 0") for _ in range(3)]
    time.sleep(0.002)
    client.delete(*state_keys(77))  # what FLUSHALL or an empty restarted Redis does

    restarted = store.on_next(77, 3, 1.0, "Artist 0")

    assert [s.request for s in first] == [1, 2, 3] and {s.since for s in first} == {first[0].since}
    assert restarted.request == 1 and restarted.since > first[0].since
