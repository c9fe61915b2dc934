"""The API contract: every bad input is a 400 naming the field, and changes nothing."""

from __future__ import annotations

import json

import pytest

from botify.logs.reader import read_events
from botify.web import create_app

GOOD = {"track": 3, "time": 0.5}

BAD_BODIES = [
    # (id, raw body, content type, words the message must contain)
    ("no body", b"", "application/json", "empty"),
    ("not json", b"track=3&time=0.5", "application/json", "not valid JSON"),
    ("form content type", json.dumps(GOOD).encode(), "application/x-www-form-urlencoded", "JSON"),
    ("no content type", json.dumps(GOOD).encode(), None, "Content-Type"),
    ("json list", b"[3, 0.5]", "application/json", "object"),
    ("json string", b'"hello"', "application/json", "object"),
    ("json null", b"null", "application/json", "object"),
    ("missing track", b'{"time": 0.5}', "application/json", "'track'"),
    ("missing time", b'{"track": 3}', "application/json", "'time'"),
    ("extra field", b'{"track": 3, "time": 0.5, "mood": 1}', "application/json", "'mood'"),
    ("track string", b'{"track": "3", "time": 0.5}', "application/json", "'track'"),
    ("track bool", b'{"track": true, "time": 0.5}', "application/json", "'track'"),
    ("track float", b'{"track": 3.0, "time": 0.5}', "application/json", "'track'"),
    ("track list", b'{"track": [3], "time": 0.5}', "application/json", "'track'"),
    ("track null", b'{"track": null, "time": 0.5}', "application/json", "'track'"),
    ("track negative", b'{"track": -1, "time": 0.5}', "application/json", "'track'"),
    ("track unknown", b'{"track": 200, "time": 0.5}', "application/json", "'track'"),
    (
        "track huge",
        b'{"track": 99999999999999999999999, "time": 0.5}',
        "application/json",
        "'track'",
    ),
    ("time string", b'{"track": 3, "time": "0.5"}', "application/json", "'time'"),
    ("time bool", b'{"track": 3, "time": false}', "application/json", "'time'"),
    ("time null", b'{"track": 3, "time": null}', "application/json", "'time'"),
    ("time list", b'{"track": 3, "time": [0.5]}', "application/json", "'time'"),
    ("time NaN", b'{"track": 3, "time": NaN}', "application/json", "'time'"),
    ("time inf", b'{"track": 3, "time": Infinity}', "application/json", "'time'"),
    ("time -inf", b'{"track": 3, "time": -Infinity}', "application/json", "'time'"),
    ("time negative", b'{"track": 3, "time": -0.01}', "application/json", "'time'"),
    ("time above 1", b'{"track": 3, "time": 5.0}', "application/json", "'time'"),
    ("time huge int", b'{"track": 3, "time": ' + b"9" * 400 + b"}", "application/json", "'time'"),
    (
        "number too long",
        b'{"track": ' + b"1" * 5000 + b', "time": 0.5}',
        "application/json",
        "JSON",
    ),
    ("deep nesting", b"[" * 20000 + b"]" * 20000, "application/json", "JSON"),
]


@pytest.fixture
def app(config, fake_redis):
    return create_app(config, fake_redis)


@pytest.mark.parametrize("path", ["/next/42", "/last/42"])
@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_body_is_400_naming_the_problem_and_changes_nothing(
    app, fake_redis, config, path, body, content_type, words
):
    headers = {"Content-Type": content_type} if content_type else {}
    response = app.test_client().post(path, data=body, headers=headers)

    assert response.status_code == 400
    assert set(response.json) == {"message"}
    assert words in response.json["message"]
    assert fake_redis.keys("user:*") == []
    assert list(read_events(config.log_dir)) == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/next/-1", 404),
        ("/next/abc", 404),
        ("/next/1.5", 404),
        ("/next/9223372036854775808", 400),
        ("/nowhere", 404),
        # One user, one URL: leading zeros, non-ASCII digits and signs match no route.
        ("/next/000516", 404),
        ("/next/00", 404),
        ("/next/%D9%A5%D9%A1%D9%A7", 404),
        ("/next/%EF%BC%95", 404),
        ("/next/+5", 404),
        ("/last/0516", 404),
    ],
)
def test_bad_user_or_route_is_a_json_error(app, fake_redis, path, status):
    response = app.test_client().post(path, json=GOOD)

    assert response.status_code == status
    assert "message" in response.json
    assert fake_redis.keys("user:*") == []


def test_body_over_64_kib_is_413(app, fake_redis):
    body = b'{"track": 3, "time": 0.5, "pad": "' + b"x" * (70 * 1024) + b'"}'
    response = app.test_client().post(
        "/next/42", data=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert "message" in response.json
    assert fake_redis.keys("user:*") == []


@pytest.mark.parametrize("user", [0, 2**63 - 1])
def test_extreme_user_ids_are_served(app, user):
    response = app.test_client().post(f"/next/{user}", json=GOOD)

    assert response.status_code == 200
    assert response.json["user"] == user


def test_next_answers_a_catalog_track_and_logs_one_event(app, config):
    response = app.test_client().post("/next/42", json={"track": 3, "time": 1})

    assert response.status_code == 200
    assert set(response.json) == {"user", "track", "recommender"}
    assert 0 <= response.json["track"] < 200
    [event] = read_events(config.log_dir)
    assert event["message"] == "next"
    assert event["track"] == 3 and event["time"] == 1.0
    assert event["recommendation"] == response.json["track"]
    assert event["recommender"] == response.json["recommender"]
    assert event["experiments"] == {"AB": event["experiments"]["AB"]}
    assert event["request"] == 1 and event["session"] == 0
    for field in ("timestamp", "latency", "served_by", "model_version"):
        assert field in event


def test_last_answers_user_and_logs_one_event(app, config):
    client = app.test_client()
    client.post("/next/42", json=GOOD)
    response = client.post("/last/42", json=GOOD)

    assert response.status_code == 200
    assert response.json == {"user": 42}
    events = list(read_events(config.log_dir))
    assert [e["message"] for e in events] == ["next", "last"]
    assert events[1]["recommendation"] is None


def test_track_endpoint(app):
    client = app.test_client()

    assert client.get("/track/12").json == {
        "track": 12,
        "artist": "Artist 1",
        "title": "Song 12",
        "genre": "genre0",
        "popularity": 12,
    }
    assert client.get("/track/200").status_code == 404
    assert client.get("/track/007").status_code == 404
    assert "message" in client.get("/track/200").json


def test_root_health_and_openapi(app):
    client = app.test_client()

    assert client.get("/").json["status"] == "alive"
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json["redis"] == "ok" and health.json["tracks"] == 200
    assert health.json["recommendations"] == {"contextual": None, "indexed": None}
    document = client.get("/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/",
        "/health",
        "/track/{track}",
        "/next/{user}",
        "/last/{user}",
        "/openapi.json",
    }
