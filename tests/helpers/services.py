"""Fixtures of the reliability suite: real services and real redis-servers, always stopped."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from botify.serving.redis_server import RedisServer
from botify.serving.service_process import ServiceProcess


@pytest.fixture
def start_service(tmp_path: Path, world_dir: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Start ``botify serve`` on the tiny world (logs in ``tmp_path/logs``, output in
    ``tmp_path/service.out``); every service started is stopped at teardown. Exploration is
    off unless ``env`` says otherwise, so that answers are the recommenders' own."""
    started: list[ServiceProcess] = []
    output = open(tmp_path / "service.out", "ab")  # noqa: SIM115 - closed at teardown

    def start(workers: int = 2, env: dict[str, str] | None = None) -> ServiceProcess:
        settings = {"BOTIFY_EXPLORE": "0", **(env or {})}
        process = ServiceProcess(
            world_dir, tmp_path / "logs", tmp_path / "redis", workers=workers, env=settings
        )
        started.append(process)
        return process.start(output=output)

    yield start
    for process in started:
        process.stop()
    output.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server this test may stop, pause, reconfigure and restart at the same URL."""
    server = RedisServer(
        tmp_path / "own-redis", binary=shutil.which("redis-server"), allow_config=True
    ).start()
    yield server
    server.close()
