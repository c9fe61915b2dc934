"""The compose deployment: valid, Redis private, images not running as root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    """The compose file as docker-compose itself resolves it."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (.ci/run installs Debian's package)")
    # The defaults, whatever the caller's shell exports (BOTIFY_HOST_PORT, REDIS_PASSWORD, ...).
    env = {k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME", "DOCKER_"))}
    resolved = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert resolved.returncode == 0, resolved.stderr
    return yaml.safe_load(resolved.stdout)


def test_nginx_alone_is_published_and_fronts_the_replicas(compose):
    services = compose["services"]

    assert set(services) == {"nginx", "recommender", "redis"}
    assert [p["published"] for p in services["nginx"]["ports"]] == [5001]
    assert "ports" not in services["recommender"] and "ports" not in services["redis"]
    nginx_conf = (ROOT / "nginx.conf").read_text()
    assert re.search(r"server recommender:5001", nginx_conf)
    assert re.search(r"proxy_pass http://recommender;", nginx_conf)


def test_redis_has_no_network_and_needs_a_password_that_the_replicas_use(compose):
    redis = compose["services"]["redis"]
    command = redis["command"]
    password = command[command.index("--requirepass") + 1]
    socket = command[command.index("--unixsocket") + 1]
    url = compose["services"]["recommender"]["environment"]["BOTIFY_REDIS_URL"]

    assert redis["network_mode"] == "none" and command[command.index("--port") + 1] == "0"
    assert password and url == f"unix://:{password}@{socket}?db=0"


def test_the_recommender_image_runs_as_an_unprivileged_user():
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)

    assert users and users[-1] not in ("root", "0")


def test_the_replicas_share_logs_and_data_volumes(compose):
    volumes = [v.split(":")[1] for v in compose["services"]["recommender"]["volumes"]]
    environment = compose["services"]["recommender"]["environment"]

    assert "/data" in volumes and "/logs" in volumes
    assert environment["BOTIFY_DATA_DIR"].startswith("/data")
    assert environment["BOTIFY_LOG_DIR"] == "/logs"
