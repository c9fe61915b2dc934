"""``Answered.event``: the one place where an answer becomes its event record."""

from __future__ import annotations

import time

from botify.logs.schema import Event
from botify.recommenders.base import Recommendation
from botify.rollout.experiments import Experiment
from botify.state.store import UserState
from botify.web.service import Answered

EXPERIMENTS = [Experiment("AB", {"C": "random", "T1": "anchor"}), Experiment("X", {"C": "a"})]


class Named:
    name = "anchor"


def test_a_served_next_records_the_state_and_the_recommendation() -> None:
    state = UserState(request=4, session=1, since=1_700_000_000_000, anchor=7, fav_artist=None,
                      fav_artist_last=None)  # fmt: skip
    answered = Answered(
        "next", 42, 7, 0.8, time.perf_counter(), EXPERIMENTS[0], Named(), state,
        Recommendation(track=9, served_by="i2i", candidates=50, model_version="v3"),
    )  # fmt: skip
    before = int(time.time() * 1000)
    event = answered.event(EXPERIMENTS)
    assert isinstance(event, Event)
    assert (event.message, event.user, event.track, event.time) == ("next", 42, 7, 0.8)
    assert (event.recommendation, event.served_by, event.candidates) == (9, "i2i", 50)
    assert (event.model_version, event.recommender, event.experiment) == ("v3", "anchor", "AB")
    assert (event.request, event.session, event.epoch, event.degraded) == (4, 1, state.since, False)
    assert set(event.experiments) == {"AB", "X"} and event.experiments["X"] == "C"
    assert event.timestamp >= before and 0 <= event.latency < 5


def test_a_last_without_redis_records_a_degraded_answer_without_recommendation() -> None:
    answered = Answered("last", 42, 7, 0.3, time.perf_counter(), EXPERIMENTS[0], Named(), None)
    event = answered.event(EXPERIMENTS)
    assert event.message == "last" and event.degraded
    assert (event.recommendation, event.served_by, event.model_version) == (None, None, None)
    assert (event.request, event.session, event.epoch, event.candidates) == (None,) * 4
