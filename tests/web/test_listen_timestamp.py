"""A client's own clock: ``timestamp`` in a listen's body dates its event (the simulator's
days reach the logs this way); a bad one is refused and logs nothing."""

from __future__ import annotations

import fakeredis
import pytest

from botify.logs.reader import read_events
from botify.web import create_app
from tests.helpers.worlds import with_experiment

DAY_4 = 1_767_225_600_000 + 3 * 86_400_000


def test_a_given_timestamp_dates_the_event_and_a_missing_one_is_the_service_clock(config):
    client = create_app(with_experiment(config, "random"), fakeredis.FakeRedis()).test_client()
    assert (
        client.post("/next/5", json={"track": 3, "time": 1.0, "timestamp": DAY_4}).status_code
        == 200
    )
    assert (
        client.post("/last/5", json={"track": 4, "time": 0.5, "timestamp": DAY_4 + 1}).status_code
        == 200
    )
    assert client.post("/next/6", json={"track": 3, "time": 1.0}).status_code == 200
    events = sorted(read_events(config.log_dir), key=lambda e: (e["user"], e["message"]))
    assert [e["timestamp"] for e in events[:2]] == [DAY_4 + 1, DAY_4]  # last, next of user 5
    assert events[2]["timestamp"] > DAY_4 + 86_400_000 * 300  # now, not the simulated day


@pytest.mark.parametrize("bad", [-1, 1.5, "1767225600000", True, 2**63])
def test_a_bad_timestamp_is_refused_and_logs_nothing(config, bad):
    client = create_app(with_experiment(config, "random"), fakeredis.FakeRedis()).test_client()
    answer = client.post("/next/5", json={"track": 3, "time": 1.0, "timestamp": bad})
    assert answer.status_code == 400 and "'timestamp'" in answer.json["message"]
    assert list(read_events(config.log_dir)) == []
