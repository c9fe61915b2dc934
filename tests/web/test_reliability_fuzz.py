"""API fuzzing of a running ``botify serve`` (real Redis) against its OpenAPI document.

schemathesis generates valid and invalid requests for every operation: no answer may be a
server error, and every answer must be one the document describes (status, content type,
body schema), and every valid request must be accepted. The schema is built from
``openapi_document`` at collection time (schemathesis' fixture-based loader does not work
with pytest 9), and ``test_the_served_document_is_the_fuzzed_one`` pins that the running
service serves exactly that document. Then concurrent good and bad requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from botify.logs.reader import read_events
from botify.serving.service_process import ServiceProcess
from botify.web.openapi import openapi_document
from tests.helpers.worlds import tiny_tracks, write_jsonl

pytestmark = pytest.mark.integration

TRACKS = len(tiny_tracks())
schema = schemathesis.openapi.from_dict(openapi_document(TRACKS))


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[ServiceProcess]:
    """One service (embedded real redis-server) for every generated case of this module."""
    directory = tmp_path_factory.mktemp("fuzzed")
    write_jsonl(directory / "world" / "tracks.jsonl", tiny_tracks())
    process = ServiceProcess(directory / "world", directory / "logs", directory / "redis")
    try:
        yield process.start()
    finally:
        process.stop()


def test_the_served_document_is_the_fuzzed_one(service):
    served = requests.get(f"{service.url}/openapi.json", timeout=10).json()
    assert served == json.loads(json.dumps(openapi_document(TRACKS)))


@schema.parametrize()
@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_answer_conforms_to_the_document(case, service):
    case.call_and_validate(base_url=service.url, timeout=10)


def test_a_document_valid_body_with_the_last_catalog_track_is_accepted(service):
    listen = openapi_document(TRACKS)["components"]["schemas"]["Listen"]
    last_track = listen["properties"]["track"]["maximum"]
    answer = requests.post(f"{service.url}/next/1", json={"track": last_track, "time": 1.0})
    assert answer.status_code == 200
    beyond = requests.post(f"{service.url}/next/1", json={"track": last_track + 1, "time": 1.0})
    assert beyond.status_code == 400 and "'track'" in beyond.json()["message"]


JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}
BAD_REQUESTS = [
    ("/next/{user}", {"data": b'{"track": 1, "time": 2}', "headers": JSON}, 400),
    ("/next/{user}", {"data": b'{"track": 1, "time": 0.5}', "headers": TEXT}, 400),
    ("/next/{user}", {"data": b"[" * 100_000, "headers": JSON}, 413),
    ("/next/{user}", {"data": b"[" * 50_000, "headers": JSON}, 400),
    ("/last/{user}", {"data": b"not json", "headers": JSON}, 400),
    ("/next/-{user}", {"json": {"track": 1, "time": 0.5}}, 404),
    (f"/next/{2**63}", {"json": {"track": 1, "time": 0.5}}, 400),
]  # fmt: skip


GOOD_USERS = [0, 1000, 1001, 2**63 - 1]
BAD_USERS = range(2000, 2004)


def test_concurrent_good_and_bad_requests(service):
    """Good requests are answered and logged once each; bad ones are refused, unlogged."""
    log_dir = Path(service.env["BOTIFY_LOG_DIR"])
    time.sleep(0.05)  # the fuzzing's events are all older than started_ms
    started_ms = int(time.time() * 1000)
    statuses: dict[str, Counter] = {"good": Counter(), "bad": Counter()}
    lock = threading.Lock()
    rounds = 40

    def good(user: int) -> None:
        with requests.Session() as http:
            for i in range(rounds):
                body = {"track": i % TRACKS, "time": 0.5}
                r = http.post(f"{service.url}/next/{user}", json=body, timeout=10)
                with lock:
                    statuses["good"][r.status_code] += 1

    def bad(user: int) -> None:
        # A connection per request: after a 413 the server does not read the oversized
        # body, and may close a kept-alive connection before the client's next request.
        for i in range(rounds):
            path, options, expected = BAD_REQUESTS[i % len(BAD_REQUESTS)]
            r = requests.post(service.url + path.format(user=user), timeout=10, **options)
            with lock:
                statuses["bad"][(r.status_code, expected)] += 1

    threads = [threading.Thread(target=good, args=(u,)) for u in GOOD_USERS]
    threads += [threading.Thread(target=bad, args=(u,)) for u in BAD_USERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses["good"] == {200: len(GOOD_USERS) * rounds}
    assert all(status == expected for status, expected in statuses["bad"]), statuses["bad"]
    assert sum(statuses["bad"].values()) == len(BAD_USERS) * rounds
    # The fuzzed cases date some listens themselves (``timestamp``): only this test's window.
    finished_ms = int(time.time() * 1000)
    events = [e for e in read_events(log_dir) if started_ms <= e["timestamp"] <= finished_ms]
    assert Counter(e["user"] for e in events) == {u: rounds for u in GOOD_USERS}
