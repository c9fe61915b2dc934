"""The anchor recommender, rule by rule (docs/recommenders.md), and its variants."""

from __future__ import annotations

import random

import pytest

from botify.data.catalog import build_catalog
from botify.data.lists import load_lists
from botify.recommenders.anchor import FreshAnchorRecommender
from botify.recommenders.base import Request
from botify.recommenders.registry import build_recommenders
from botify.state.store import UserStateStore, state_keys
from tests.helpers.worlds import tiny_tracks, write_jsonl

USER = 42
# Artist 0 owns tracks 0..9, artist 1 owns 10..19, ...; track 200 is a one-track artist.
TRACKS = tiny_tracks() + [
    {"track": 200, "artist": "Solo", "title": "Only", "genre": "x", "popularity": 0}
]
I2I = {
    0: [1, 2, 3],
    5: [50, 51],
    7: [70],
    30: [31, 32, 33, 34],
    100: [15, 101, 199],
    160: [181, 190],
    170: [190, 182],
}


@pytest.fixture
def harness(tmp_path, config, fake_redis):
    catalog = build_catalog(TRACKS)
    path = write_jsonl(
        tmp_path / "i2i.jsonl", [{"track": t, "recommendations": r} for t, r in I2I.items()]
    )
    lists = load_lists(path, catalog)
    store = UserStateStore(fake_redis, config)
    recommenders = build_recommenders(catalog, {"contextual": lambda: lists}, config)
    return Harness(store, recommenders, catalog, fake_redis)


class Harness:
    def __init__(self, store, recommenders, catalog, client):
        self.store, self.recommenders, self.catalog, self.client = (
            store,
            recommenders,
            catalog,
            client,
        )

    def next(self, track, time, recommender="anchor", seed=0):
        rec = self.recommenders[recommender]
        state = self.store.on_next(USER, track, time, self.catalog.artist_of(track), rec.needs)
        request = Request(USER, track, time, random.Random(seed), state)
        return state, rec.recommend_next(request)

    def last(self, track, time):
        return self.store.on_last(USER, track, time, self.catalog.artist_of(track))

    def state(self):
        raw = self.client.hgetall(state_keys(USER)[0])
        return {k.decode(): v.decode() for k, v in raw.items()}

    def artists(self):
        raw = self.client.hgetall(state_keys(USER)[1])
        return {k.decode(): v.decode() for k, v in raw.items()}


def test_step1_artist_rating_sums_counts_and_remembers_last_track(harness):
    harness.next(3, 0.6)
    harness.next(4, 0.2)

    artists = harness.artists()
    assert float(artists["Artist 0:sum"]) == pytest.approx(0.8)
    assert artists["Artist 0:count"] == "2"
    assert artists["Artist 0:last"] == "4"


@pytest.mark.parametrize(
    ("listens", "favourite"),
    [
        ([(3, 0.4)], "Artist 0"),  # no favourite yet: the first artist becomes it
        ([(3, 0.4), (13, 0.9)], "Artist 1"),  # higher mean takes over
        ([(3, 0.9), (13, 0.4)], "Artist 0"),  # lower mean does not
        ([(3, 0.5), (13, 0.5)], "Artist 0"),  # equal mean does not ("higher")
        # Only the listened artist is compared with the favourite: a favourite whose own
        # mean drops below another artist's stays until that artist is listened again.
        ([(3, 0.9), (13, 0.8), (4, 0.1)], "Artist 0"),
        ([(3, 0.9), (13, 0.8), (4, 0.1), (14, 0.8)], "Artist 1"),
    ],
)
def test_step1_favourite_artist_is_the_highest_mean_rating(harness, listens, favourite):
    for track, time in listens:
        state, _ = harness.next(track, time)

    assert state.fav_artist == favourite
    assert harness.state()["fav_artist"] == favourite


def test_step2_good_listen_becomes_last_good_and_anchor_and_resets_fails(harness):
    harness.next(30, 0.1)
    state, rec = harness.next(0, 0.5)

    assert state.anchor == 0
    assert harness.state()["last_good"] == "0"
    assert harness.state()["fails"] == "0"
    assert rec.track in I2I[0] and rec.served_by == "anchor"


def test_step2_bad_listen_anchors_on_last_good_and_counts_a_fail(harness):
    harness.next(5, 0.9)
    state, rec = harness.next(100, 0.2)

    assert state.anchor == 5
    assert harness.state()["fails"] == "1"
    assert rec.track in I2I[5]


def test_step2_bad_listen_without_last_good_anchors_on_the_track(harness):
    state, rec = harness.next(30, 0.2)

    assert state.anchor == 30
    assert rec.track in I2I[30]


def test_step3_best_track_is_the_highest_time_of_the_session(harness):
    harness.next(30, 0.3)
    harness.next(5, 0.45)
    harness.next(7, 0.4)

    assert harness.state()["best"] == "5"
    assert float(harness.state()["best_time"]) == pytest.approx(0.45)


def test_step3_max_fails_falls_back_to_best(harness):
    # No good listen at all: fails 1, 2, 3; the best so far is track 7 (0.45).
    harness.next(30, 0.3)
    state, _ = harness.next(7, 0.45)
    assert state.anchor == 7  # fails=2: anchor is still the track itself (no last_good)
    state, rec = harness.next(100, 0.1)

    assert harness.state()["fails"] == "3"
    assert state.anchor == 7
    assert rec.track in I2I[7]


def test_step3_fails_below_max_keep_last_good(harness):
    harness.next(0, 1.0)
    harness.next(30, 0.1)
    state, _ = harness.next(100, 0.2)

    assert state.anchor == 0


def test_step4_random_pick_covers_the_anchor_list(harness):
    picks = {harness.next(30, 0.9, seed=seed)[1].track for seed in range(60)}

    assert picks == set(I2I[30])


def test_step5_no_list_falls_back_to_favourite_artist_except_its_last_track(harness):
    harness.next(12, 0.9)  # Artist 1 is the favourite; its last track is 12
    for seed in range(40):
        _, rec = harness.next(12, 0.9, seed=seed)
        assert rec.served_by == "anchor_fav_artist"
        assert rec.track in range(10, 20) and rec.track != 12


def test_step5_favourite_with_no_other_track_falls_back_to_random(harness):
    _, rec = harness.next(200, 1.0)

    assert rec.served_by == "random_fallback"
    assert rec.track in harness.catalog


def test_last_clears_session_fields_and_keeps_artist_ratings(harness, config):
    harness.next(0, 0.9)
    harness.next(30, 0.1)
    harness.last(31, 0.7)

    state = harness.state()
    assert not {"last_good", "best", "best_time", "fails"} & set(state)
    assert state["session"] == "1" and state["fav_artist"]
    assert harness.artists()["Artist 3:count"] == "2"
    assert harness.client.exists(state_keys(USER)[2]) == 0
    for key in state_keys(USER)[:2]:
        assert 0 < harness.client.ttl(key) <= config.state_ttl_s


def test_next_session_starts_fresh(harness):
    harness.next(0, 0.9)
    harness.last(1, 0.2)
    state, rec = harness.next(30, 0.2)

    assert state.anchor == 30  # last_good of the previous session is gone
    assert state.session == 1 and state.request == 3


def test_anchor_popular_takes_the_most_popular_candidate(harness):
    for seed in range(10):
        _, rec = harness.next(100, 0.9, recommender="anchor_popular", seed=seed)
        assert rec.track == 199
        assert rec.served_by == "anchor_popular"


def test_anchor_fresh_never_repeats_and_prefers_new_artists(harness):
    harness.next(15, 1.0, recommender="anchor_fresh")  # plays track 15 of Artist 1
    for seed in range(20):
        _, rec = harness.next(100, 0.9, recommender="anchor_fresh", seed=seed)
        # 15 was played; 101 is by Artist 10, whose track 100 was just played; 199 is new.
        assert rec.track == 199


def test_anchor_fresh_widens_to_favourite_artist_when_the_list_is_all_played(harness):
    for track in (7, 70):
        harness.next(track, 1.0, recommender="anchor_fresh")
    _, rec = harness.next(7, 1.0, recommender="anchor_fresh")

    assert rec.served_by == "anchor_fresh_fav_artist"
    assert rec.track not in (7, 70)


def test_the_store_returns_the_played_tracks_only_to_a_recommender_that_needs_them(harness):
    harness.next(7, 1.0)
    state, _ = harness.next(70, 1.0)  # anchor needs nothing
    assert harness.recommenders["anchor"].needs == frozenset() and state.played == frozenset()

    state, _ = harness.next(3, 1.0, recommender="anchor_fresh")

    assert harness.recommenders["anchor_fresh"].needs == {"played"}
    assert state.played == {7, 70, 3}


def test_anchor_session_takes_what_the_sessions_good_tracks_point_to_most(harness):
    harness.next(160, 1.0, recommender="anchor_session")
    for seed in range(10):
        state, rec = harness.next(170, 0.8, recommender="anchor_session", seed=seed)
        # 190 is named by both good tracks' lists (weight 1.0 + 0.8), 181 and 182 by one.
        assert rec.track == 190 and rec.served_by == "anchor_session"
        harness.last(rec.track, 0.0)
        harness.next(160, 1.0, recommender="anchor_session")
    assert state.good_listens == ((160, 1.0), (170, 0.8)) and state.listens == ()


def test_anchor_session_ignores_skipped_tracks_and_played_ones(harness):
    harness.next(160, 1.0, recommender="anchor_session")
    picks = set()
    for seed in range(20):
        _, rec = harness.next(170, 0.3, recommender="anchor_session", seed=seed)
        picks.add(rec.track)
    # 170 was skipped: only 160's list counts, and 190, 181 tie; 170 itself was played.
    assert picks <= {181, 190} and 182 not in picks
    harness.next(181, 0.9, recommender="anchor_session")
    harness.next(190, 0.9, recommender="anchor_session")
    _, rec = harness.next(182, 0.9, recommender="anchor_session")
    assert rec.served_by == "anchor_session_fav_artist"


def test_a_recommender_needing_unknown_state_fails_when_recommenders_are_built(config, monkeypatch):
    monkeypatch.setattr(FreshAnchorRecommender, "needs", frozenset({"played", "mood"}))

    with pytest.raises(ValueError, match=r"'anchor_fresh' needs unknown user state \['mood'\]"):
        build_recommenders(build_catalog(TRACKS), {}, config)
