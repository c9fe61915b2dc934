"""The views the state script keeps as a session goes (``played``, ``good_listens``) say
what the session's whole list of listens says, on a real Redis and a Redis Cluster."""

from __future__ import annotations

import random

import pytest

from botify.state.store import GOOD_LISTENS_KEPT, STATE_VIEWS, UserStateStore

pytestmark = pytest.mark.integration

ALL_VIEWS = frozenset(STATE_VIEWS)


def expected_views(listens: tuple[tuple[int, float], ...], good_time: float) -> dict:
    """The kept views, recomputed from every listen of the session."""
    good = tuple(listen for listen in listens if listen[1] >= good_time)
    return {
        "played": frozenset(track for track, _ in listens),
        "good_listens": good[-GOOD_LISTENS_KEPT:],
    }


def test_kept_views_equal_the_views_of_every_listen(real_redis, config):
    store = UserStateStore(real_redis, config)
    rng = random.Random(7)
    for user in range(12):
        for _session in range(2):
            length = rng.randint(1, 100)
            for _ in range(length):
                # Few tracks, so that tracks repeat; times on both sides of good_time, and on it.
                track = rng.randrange(40)
                time = rng.choice([rng.random(), config.good_time, 1.0, 0.0])
                state = store.on_next(user, track, time, f"Artist {track % 7}", ALL_VIEWS)
                kept = {"played": state.played, "good_listens": state.good_listens}
                assert kept == expected_views(state.listens, config.good_time)
            store.on_last(user, rng.randrange(40), rng.random(), "Artist 0")


def test_a_view_is_returned_only_when_asked_for_and_a_session_starts_empty(real_redis, config):
    store = UserStateStore(real_redis, config)
    for track in (1, 2, 3):
        state = store.on_next(5, track, 1.0, "A", frozenset({"played"}))
    assert state.played == {1, 2, 3} and state.good_listens == () and state.listens == ()

    store.on_last(5, 4, 1.0, "A")
    state = store.on_next(5, 9, 0.1, "A", ALL_VIEWS)

    assert state.played == {9} and state.good_listens == () and state.listens == ((9, 0.1),)
