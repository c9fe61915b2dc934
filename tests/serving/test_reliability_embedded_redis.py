"""The embedded Redis and ``botify serve``'s own files: closed to other local users, one
serve per Redis directory, Redis's own words when it cannot start, restarted when killed,
a gunicorn control socket per service, nothing left running or deleted by signals."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
import requests

from botify.cli import main
from botify.logs.reader import read_events
from botify.serving.redis_server import RedisServer, free_port
from botify.serving.service_process import ServiceProcess
from botify.state.client import URL_FILE
from tests.helpers.processes import descendants, wait_stopped

pytestmark = pytest.mark.integration

LISTEN = b'{"track": 3, "time": 0.9}'
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def embedded(tmp_path: Path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.close()


def as_nobody(action) -> int:
    """Run ``action()`` in a forked child as the user ``nobody``; its exit code."""
    nobody = pwd.getpwnam("nobody")
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            os._exit(action())
        except BaseException:
            os._exit(99)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.fixture
def open_tree():
    """A directory every user may enter (pytest's own are 0700, which would hide the rest)."""
    directory = Path(tempfile.mkdtemp(prefix="botify-open-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_another_local_user_cannot_reach_the_embedded_redis(open_tree):
    server = RedisServer(open_tree / "redis").start()
    try:
        # Each protection on its own: directories others may enter, as a user may have made.
        (open_tree / "redis").chmod(0o755)
        server.run_dir.chmod(0o755)
        errors = open_tree / "nobody.err"
        errors.touch()
        errors.chmod(0o666)

        def connect_to_socket() -> int:
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(str(server.socket_path))
                except PermissionError:
                    return 13
            return 0

        def read_the_password() -> int:
            try:
                (open_tree / "redis" / URL_FILE).read_text()
            except PermissionError:
                return 13
            return 0

        def activate() -> int:
            os.environ["BOTIFY_REDIS_DIR"] = str(open_tree / "redis")
            with errors.open("w") as err, contextlib.redirect_stderr(err):
                return main(["activate", "AB"])

        assert as_nobody(connect_to_socket) == 13
        assert as_nobody(read_the_password) == 13
        # The commands that find Redis through that file say why they cannot, in one line.
        assert as_nobody(activate) == 2
        (line,) = errors.read_text().splitlines()
        assert line.startswith(f"botify activate: cannot read {open_tree / 'redis' / URL_FILE}")
    finally:
        server.close()


def test_the_embedded_redis_has_no_tcp_port_no_anonymous_access_and_no_config(embedded, tmp_path):
    url_file = tmp_path / "redis" / URL_FILE
    assert stat.S_IMODE(url_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(embedded.run_dir.stat().st_mode) == 0o700
    assert url_file.read_text() == embedded.url and embedded.url.startswith("unix://")
    client = redis.Redis.from_url(embedded.url)
    assert client.info("server")["tcp_port"] == 0

    anonymous = redis.Redis(unix_socket_path=str(embedded.socket_path))
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(unix_socket_path=str(embedded.socket_path), password="guess").ping()

    # The reproduction: CONFIG SET dir + dbfilename + SAVE wrote a root-owned file into a
    # directory the client could not write. Even with the password, CONFIG does not exist.
    target = tmp_path / "not-redis"
    target.mkdir()
    with pytest.raises(redis.ResponseError, match="unknown command"):
        client.execute_command("CONFIG", "SET", "dir", str(target))
    client.save()
    assert list(target.iterdir()) == []


def test_stop_keeps_the_url_and_close_removes_the_run_directory(embedded, tmp_path):
    client = redis.Redis.from_url(embedded.url)
    client.set("kept", 1)
    embedded.stop()
    assert not (tmp_path / "redis" / URL_FILE).exists()
    embedded.start()
    assert client.get("kept") == b"1"
    run_dir = embedded.run_dir
    embedded.close()
    assert not run_dir.exists()


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "botify", "serve", "--port", str(port)]


def test_a_second_serve_on_the_same_redis_directory_refuses_and_deletes_nothing(
    start_service, tmp_path
):
    first = start_service()
    url = (tmp_path / "redis" / URL_FILE).read_text()
    second = subprocess.run(
        serve_command(free_port()), env=first.env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"botify serve: {tmp_path / 'redis'} is in use by another botify serve "
        f"(lock {tmp_path / 'redis' / 'serve.lock'})"
    ]
    # The first one's Redis and URL file are untouched: deploy and answers still work.
    assert (tmp_path / "redis" / URL_FILE).read_text() == url
    assert redis.Redis.from_url(url).ping()
    assert requests.post(f"{first.url}/next/5", data=LISTEN, headers=JSON).status_code == 200
    assert first.stop() == 0
    assert not (tmp_path / "redis" / URL_FILE).exists()


def test_a_corrupted_aof_is_one_line_in_redis_own_words(world_dir, tmp_path):
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    # A valid command, then bytes that are not Redis's protocol: what a bad disk leaves.
    aof = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n" + b"\x00garbage-not-resp\r\n"
    (redis_dir / "appendonly.aof").write_bytes(aof)
    env = ServiceProcess(world_dir, tmp_path / "logs", redis_dir).env
    started = subprocess.run(
        serve_command(free_port()), env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 1
    (line,) = started.stderr.strip().splitlines()
    assert "Bad file format reading the append only file" in line
    assert "redis-check-aof --fix" in line and str(redis_dir) in line
    assert (redis_dir / "appendonly.aof").read_bytes() == aof


def test_a_killed_embedded_redis_is_started_again_by_serve(start_service, tmp_path):
    service = start_service()
    client = redis.Redis.from_url((tmp_path / "redis" / URL_FILE).read_text())
    assert requests.post(f"{service.url}/next/5", data=LISTEN, headers=JSON).status_code == 200
    killed = client.info("server")["process_id"]
    os.kill(killed, signal.SIGKILL)

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if client.info("server")["process_id"] != killed:
                break
        except redis.ConnectionError:
            pass
        time.sleep(0.1)
    assert requests.get(f"{service.url}/health").status_code == 200
    answer = requests.post(f"{service.url}/next/5", data=LISTEN, headers=JSON)
    assert answer.status_code == 200
    events = list(read_events(tmp_path / "logs"))
    # The user's state came back from the append-only file: this is their second request.
    assert sorted(e["request"] for e in events) == [1, 2]
    assert not any(e["degraded"] for e in events)


def test_each_serve_has_its_own_gunicorn_control_socket(start_service, tmp_path):
    xdg, home = tmp_path / "xdg", tmp_path / "home"
    xdg.mkdir()
    home.mkdir()
    env = {"XDG_RUNTIME_DIR": str(xdg), "HOME": str(home)}
    services = [
        start_service(env={**env, "BOTIFY_REDIS_DIR": str(tmp_path / f"redis{i}")})
        for i in range(2)
    ]
    # gunicorn opens it from a thread of its own once the master runs.
    deadline = time.monotonic() + 20
    while len(sockets := sorted(xdg.glob("botify-serve-*/gunicorn.ctl"))) < 2:
        assert time.monotonic() < deadline, sockets
        time.sleep(0.1)
    assert len(sockets) == 2 and all(path.is_socket() for path in sockets)
    assert all(stat.S_IMODE(path.parent.stat().st_mode) == 0o700 for path in sockets)
    # gunicorn's default is one socket per user, shared and overwritten by every serve.
    assert not (xdg / "gunicorn.ctl").exists() and not (home / ".gunicorn").exists()
    for service in services:
        assert service.stop() == 0
    assert list(xdg.iterdir()) == []


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_stopped_or_killed_serve_leaves_nothing_running_and_deletes_no_data(
    start_service, tmp_path, stop
):
    service = start_service()
    assert requests.post(f"{service.url}/next/5", data=LISTEN, headers=JSON).status_code == 200
    children = descendants(service.process.pid)
    assert len(children) >= 3  # Redis and two workers
    service.process.send_signal(stop)
    service.process.wait(timeout=30)
    assert wait_stopped(children, timeout_s=30) == set()
    assert (tmp_path / "redis" / "appendonly.aof").stat().st_size > 0
    assert len(list(read_events(tmp_path / "logs"))) == 1
    # A new serve on the same directory starts (no stale lock) and keeps the user's state.
    again = start_service()
    assert requests.post(f"{again.url}/next/5", data=LISTEN, headers=JSON).status_code == 200
    assert sorted(e["request"] for e in read_events(tmp_path / "logs")) == [1, 2]
