"""Security properties: no pickle, no stack traces in answers, Redis password, size limits."""

from __future__ import annotations

import http.client
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import redis
import requests

from botify.logs.reader import read_events
from botify.recommenders.base import Recommendation, Request
from botify.serving.redis_server import RedisServer
from botify.state.client import connect
from botify.web.app import MAX_BODY_BYTES, create_app

REPO = Path(__file__).resolve().parents[2]
# Deserialisers that can run code from data: pickle and its relatives, and numpy's opt-in.
UNSAFE = re.compile(r"\b(pickle|cPickle|dill|shelve|marshal)\b|allow_pickle\s*=\s*True")
PASSWORD = "s3cret/with:odd@chars"
LISTEN = b'{"track": 1, "time": 0.5}'
JSON = {"Content-Type": "application/json"}


def test_no_pickle_in_the_service_or_the_simulator():
    sources = [*(REPO / "botify").rglob("*.py"), *(REPO / "sim").rglob("*.py")]
    assert len(sources) > 20
    hits = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if UNSAFE.search(line)
    ]
    assert hits == []


class FailingRecommender:
    """A recommender with a bug: every request raises."""

    name = "failing"
    needs = frozenset()

    def recommend_next(self, request: Request) -> Recommendation:
        raise ZeroDivisionError(f"secret internal detail for user {request.user}")


def test_error_answers_carry_a_message_and_no_stack_trace(config, fake_redis, caplog):
    app = create_app(config, client=fake_redis)
    service = app.extensions["botify"]
    service.recommenders[service.active.recommender(1)] = FailingRecommender()
    client = app.test_client()

    answers = {
        500: client.post("/next/1", data=LISTEN, headers=JSON),
        400: client.post("/next/1", data=b"{", headers=JSON),
        404: client.get("/no/such/route"),
        405: client.get("/next/1"),
        413: client.post("/next/1", data=b" " * (MAX_BODY_BYTES + 1), headers=JSON),
    }
    for status, answer in answers.items():
        assert answer.status_code == status
        assert answer.is_json and set(answer.json) == {"message"}, answer.data
        text = answer.get_data(as_text=True)
        assert "Traceback" not in text and "secret internal detail" not in text
        assert ".py" not in text
    assert "ZeroDivisionError" not in answers[500].get_data(as_text=True)
    # The trace goes to the operators' log instead.
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


@pytest.fixture
def password_redis(tmp_path: Path):
    """A real redis-server that requires ``PASSWORD``."""
    server = RedisServer(
        tmp_path / "password-redis", binary=shutil.which("redis-server"), password=PASSWORD
    ).start()
    yield server
    server.close()


@pytest.mark.integration
def test_redis_password_from_the_url_is_used_and_required(
    password_redis, start_service, tmp_path, config
):
    service = start_service(env={"BOTIFY_REDIS_URL": password_redis.url})
    answer = requests.post(f"{service.url}/next/5", data=LISTEN, headers=JSON)
    assert answer.status_code == 200
    (event,) = read_events(tmp_path / "logs")
    assert not event["degraded"] and event["request"] == 1

    without_password = f"unix://{password_redis.socket_path}?db=0"
    with pytest.raises(redis.AuthenticationError):
        connect(without_password, config).ping()
    healthy, health = (
        create_app(replace(config, redis_url=without_password)).extensions["botify"].health()
    )
    assert not healthy and health["redis"].startswith("unavailable")
    assert PASSWORD not in (tmp_path / "service.out").read_text()
    assert PASSWORD not in requests.get(f"{service.url}/health").text


@pytest.mark.integration
def test_the_body_limit_holds_for_declared_and_chunked_bodies(start_service):
    service = start_service(workers=1)
    padded = LISTEN + b" " * (MAX_BODY_BYTES - len(LISTEN))
    at_limit = requests.post(f"{service.url}/next/1", data=padded, headers=JSON)
    over = requests.post(f"{service.url}/next/1", data=padded + b" ", headers=JSON)
    assert at_limit.status_code == 200
    assert over.status_code == 413 and set(over.json()) == {"message"}

    # Without a Content-Length the limit must hold while the body is read.
    over_in_chunks = [padded[i : i + 8192] for i in range(0, len(padded), 8192)] + [b" "]
    assert post_chunked(service.port, over_in_chunks) == 413
    assert post_chunked(service.port, [LISTEN[:10], LISTEN[10:]]) == 200


def post_chunked(port: int, chunks: list[bytes]) -> int:
    """POST ``chunks`` to ``/next/1`` with chunked transfer encoding; the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/next/1", body=chunks, headers=JSON, encode_chunked=True)
        return connection.getresponse().status
    finally:
        connection.close()
