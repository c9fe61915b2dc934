"""Signals under load: ``kill -HUP`` of the master (hot reload) never leaves the port
without a listener; the old workers serve until their replacements listen."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import requests

from tests.helpers.traffic import workers_of

pytestmark = pytest.mark.integration


def test_sighup_under_load_refuses_no_connection(start_service):
    service = start_service(workers=2)
    before = workers_of(service.process.pid)
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
        os.kill(service.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while workers_of(service.process.pid) & before and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)

    after = workers_of(service.process.pid)
    assert len(after) == 2 and not after & before  # every worker was replaced
    refused = [o for o in outcomes if not isinstance(o, int)]
    assert not refused, refused[:3]
    assert set(outcomes) == {200} and len(outcomes) > 50
