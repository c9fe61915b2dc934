"""Signals under load: ``kill -HUP`` of the master (hot reload) never leaves the port
without a listener; the old workers serve until their replacements listen, and no longer."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import redis
import requests

from botify.serving.lifeline import DirectoryInUse, DirectoryLock
from botify.serving.serve import SERVE_LOCK
from botify.serving.service_process import worker_pids
from botify.state.client import URL_FILE
from tests.helpers.traffic import listening_inodes

pytestmark = pytest.mark.integration


def reload_and_wait(service) -> float:
    """``kill -HUP`` the master and wait until none of its workers is left; the seconds
    that took."""
    before = worker_pids(service.process.pid)
    hup = time.monotonic()
    os.kill(service.process.pid, signal.SIGHUP)
    while worker_pids(service.process.pid) & before and time.monotonic() < hup + 30:
        time.sleep(0.1)
    assert not worker_pids(service.process.pid) & before
    return time.monotonic() - hup


def test_sighup_under_load_refuses_no_connection(start_service):
    service = start_service(workers=2)
    before = worker_pids(service.process.pid)
    stop = threading.Event()
    outcomes: list[object] = []

    def client(number: int) -> None:
        while not stop.is_set():
            try:
                if number == 0:
                    answer = requests.get(f"{service.url}/health", timeout=10)
                else:
                    answer = requests.post(
                        f"{service.url}/next/{number}", json={"track": 3, "time": 0.5}, timeout=10
                    )
                outcomes.append(answer.status_code)
            except requests.ConnectionError as e:
                outcomes.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        replaced_after = reload_and_wait(service)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)

    after = worker_pids(service.process.pid)
    assert len(after) == 2 and not after & before  # every worker was replaced
    # Replacements listen within a second here; the old workers then finish what they
    # hold (kept-alive connections linger 2 s) and exit. Before, they served the old lists
    # for graceful_timeout (10 s) whatever their replacements did.
    assert replaced_after < 6.0, replaced_after
    refused = [o for o in outcomes if not isinstance(o, int)]
    assert not refused, refused[:3]
    assert set(outcomes) == {200} and len(outcomes) > 50


def test_a_worker_exit_leaves_the_embedded_redis_to_the_master(start_service, tmp_path):
    """A worker ends with ``sys.exit`` inside the master's copied call stack; its exit
    used to run ``botify serve``'s clean-up, removing the embedded Redis's socket, URL
    file and lock, so that the replacements could not connect to Redis at all."""
    service = start_service(workers=2)
    reload_and_wait(service)

    redis_dir = tmp_path / "redis"
    url = (redis_dir / URL_FILE).read_text().strip()
    assert redis.Redis.from_url(url).ping()
    with pytest.raises(DirectoryInUse):
        DirectoryLock(redis_dir, SERVE_LOCK, "a second botify serve").acquire()
    # Fresh connections of the new workers: every answer is whole, none degraded.
    for user in range(20):
        answer = requests.post(f"{service.url}/next/{user}", json={"track": 3, "time": 0.5})
        assert answer.status_code == 200, answer.text
    assert requests.get(f"{service.url}/health").json()["redis"] == "ok"


def test_the_listening_sockets_outlive_every_worker(start_service):
    """One socket per worker slot, the arbiter's: a reload and a crash replace workers,
    never a listening socket (closing one resets the connections the kernel queued on it)."""
    service = start_service(workers=2)
    sockets = listening_inodes(service.port)
    assert len(sockets) == 2
    reload_and_wait(service)
    assert listening_inodes(service.port) == sockets
    os.kill(next(iter(worker_pids(service.process.pid))), signal.SIGKILL)
    assert requests.get(f"{service.url}/health", timeout=10).status_code == 200
    assert listening_inodes(service.port) == sockets


def test_more_or_fewer_workers_by_signal_are_refused(start_service):
    # A slot left without a worker would hold its connections until the server stops.
    service = start_service(workers=2)
    before = worker_pids(service.process.pid)
    os.kill(service.process.pid, signal.SIGTTOU)
    os.kill(service.process.pid, signal.SIGTTIN)
    os.kill(service.process.pid, signal.SIGTTIN)
    time.sleep(2.0)
    assert worker_pids(service.process.pid) == before
    for user in range(20):
        answer = requests.post(f"{service.url}/next/{user}", json={"track": 3, "time": 0.5})
        assert answer.status_code == 200, answer.text
