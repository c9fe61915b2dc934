"""The affinity model's parts on small inputs with known answers: feedback, fit, lists."""

from __future__ import annotations

import numpy as np
import pytest

from botify.training.affinity import fit_affinity, unique_codes
from botify.training.diverse_lists import (
    capped_top,
    preferred_tracks,
    ranked_artists,
    track_lists,
)
from botify.training.feedback import Feedback, feedback_from_listens
from botify.training.listens import Listens

ARTIST = np.arange(100) // 10  # track t is by artist t // 10


def one_session(plays: list[tuple[int, float]]) -> Listens:
    tracks, times = zip(*plays, strict=True)
    n = len(plays)
    return Listens(np.zeros(n, dtype=np.int64), np.array(tracks), np.array(times), np.arange(n))


def test_feedback_keeps_fresh_artists_with_the_first_and_the_last_good_track_as_contexts():
    listens = one_session([(1, 1.0), (25, 0.9), (2, 0.7), (33, 0.1), (25, 0.0), (47, 0.6)])
    feedback = feedback_from_listens(listens, ARTIST)
    pairs = sorted(
        zip(feedback.context, feedback.track, feedback.time, feedback.weight, strict=True)
    )
    # 2 is the first track's artist again and the second 25 a repeat: both left out. 33 and 47
    # come after the good listen of 2, so 2 is their second context, each context half weight.
    assert pairs == [
        (1, 25, 0.9, 1.0),
        (1, 33, 0.1, 0.5),
        (1, 47, 0.6, 0.5),
        (2, 33, 0.1, 0.5),
        (2, 47, 0.6, 0.5),
    ]
    first_only = feedback_from_listens(listens, ARTIST, anchor_context=False)
    assert first_only.context.tolist() == [1, 1, 1]
    assert first_only.weight.tolist() == [1.0, 1.0, 1.0]


def test_feedback_follows_the_good_time():
    listens = one_session([(1, 1.0), (25, 0.6), (33, 0.1)])
    assert feedback_from_listens(listens, ARTIST, good_time=0.5).context.tolist() == [1, 1, 25]
    assert feedback_from_listens(listens, ARTIST, good_time=0.7).context.tolist() == [1, 1]


def test_affinity_shrinks_artist_pairs_towards_their_genre_pair():
    artist_genre = np.array([0, 0, 0, 1])
    track_artist = np.arange(4)  # one track per artist
    feedback = Feedback(
        context=np.array([0, 0, 0, 0]),
        track=np.array([1, 1, 2, 3]),
        time=np.array([1.0, 1.0, 0.0, 0.2]),
        weight=np.ones(4),
    )
    affinity = fit_affinity(
        feedback, track_artist, artist_genre, genre_strength=2, artist_strength=1
    )
    mean = 2.2 / 4  # every pair counts both ways, which leaves the mean as it is
    genre_00 = (2 * 2.0 + 2 * mean) / (2 * 3 + 2)  # pairs (0, 1) twice and (0, 2), both ways
    assert np.isclose(affinity.mean, mean)
    assert np.isclose(affinity.genre_mean[0, 0], genre_00)
    assert np.isclose(affinity.pairs(np.array([0]), np.array([1]))[0], (2.0 + genre_00) / 3)
    assert np.isclose(affinity.pairs(np.array([1]), np.array([2]))[0], genre_00)  # no data


def test_ranked_artists_never_name_the_artist_itself_and_break_ties_by_seed():
    artist_genre = np.zeros(30, dtype=np.int64)
    empty = Feedback(*(np.empty(0, dtype=np.int64),) * 2, np.empty(0), np.empty(0))
    affinity = fit_affinity(empty, np.arange(30), artist_genre)
    ranked = ranked_artists(affinity, 10, seed=1)
    assert ranked.shape == (30, 10)
    assert not (ranked == np.arange(30)[:, None]).any()
    assert len({tuple(row) for row in ranked}) > 20  # equal affinities: spread by the hash
    assert not np.array_equal(ranked, ranked_artists(affinity, 10, seed=2))


def test_ranked_artists_are_the_top_affinities_of_a_dense_ranking():
    rng = np.random.default_rng(3)
    artist_genre = rng.integers(0, 6, 80)
    feedback = Feedback(
        context=rng.integers(0, 80, 600),
        track=rng.integers(0, 80, 600),
        time=rng.random(600).round(2),
        weight=np.ones(600),
    )
    keep = feedback.context != feedback.track
    feedback = Feedback(*(column[keep] for column in vars(feedback).values()))
    affinity = fit_affinity(feedback, np.arange(80), artist_genre)
    ranked = ranked_artists(affinity, 12)
    for artist in range(80):
        others = np.delete(np.arange(80), artist)
        dense = affinity.pairs(np.full(79, artist), others)
        scores = affinity.pairs(np.full(12, artist), ranked[artist])
        np.testing.assert_allclose(scores, np.sort(dense)[::-1][:12], rtol=0, atol=1e-12)
        assert len(set(ranked[artist].tolist())) == 12


def test_track_lists_take_at_most_per_artist_tracks_of_each_ranked_artist_in_order():
    track_artist = np.array([0, 0, 0, 1, 1, 1, 2])
    ranked = np.array([[1, 2], [2, 0], [0, 1]])  # artist 0 → 1, 2; artist 1 → 2, 0; ...
    lists = track_lists(ranked, track_artist, k=3, per_artist=2)
    expected = {0: [1, 1, 2], 3: [2, 0, 0], 6: [0, 0, 1]}  # artist 2 has a single track
    for key in range(7):
        assert track_artist[lists[key]].tolist() == expected[key - key % 3]
        assert len(set(lists[key].tolist())) == 3


def test_preferred_tracks_follow_each_context_group_and_fall_back_to_the_track_record():
    # Artist 0 has tracks 0, 1, 2. Listeners from group 0 keep track 0 and skip track 1;
    # from group 1 the other way round; group 2 has no data. Artist 1 (tracks 3, 4) was
    # listened alike, and artist 2 has a single track: neither has a track above its mean.
    track_artist = np.array([0, 0, 0, 1, 1, 2])
    rows = [(0, 0, 1.0), (0, 1, 0.0), (1, 0, 0.1), (1, 1, 0.9), (0, 3, 0.5), (1, 4, 0.5)]
    group, track, time = (np.array(column) for column in zip(*(rows * 20), strict=True))
    weight = np.ones(track.size)
    preferred = preferred_tracks(
        group, track, time * weight, weight, track_artist, n_groups=3, n_artists=3, strength=3.0
    )
    assert preferred[:, 0].tolist() == [0, 1, 0]  # group 2: the best overall (0: 0.55 > 0.45)
    assert preferred[:, 1:].tolist() == [[-1, -1]] * 3


def test_track_lists_pick_the_preferred_track_of_the_keys_group():
    track_artist = np.array([0, 0, 0, 1, 1, 1])
    ranked = np.array([[1], [0]])
    preferred = np.array([[-1, 4], [-1, 5]])  # group 0 prefers track 4 of artist 1, group 1 5
    lists = track_lists(
        ranked, track_artist, k=1, per_artist=1, preferred=preferred, key_group=track_artist
    )
    assert [lists[key].tolist() for key in range(3)] == [[4]] * 3
    assert all(lists[key][0] in (0, 1, 2) for key in range(3, 6))  # no preference: the hash's


def test_capped_top_ranks_by_score_without_the_own_artist_and_caps_artists():
    keys = np.array([0, 0, 0, 0, 0, 5])
    candidates = np.array([1, 3, 4, 2, 6, 7])
    scores = np.array([9.0, 5.0, 4.0, 8.0, 1.0, 2.0])
    track_artist = np.array([0, 0, 1, 1, 1, 2, 3, 4])
    lists = capped_top(keys, candidates, scores, track_artist, k=2, per_artist=1)
    assert lists[0].tolist() == [2, 6]  # 1 is key 0's own artist; 3 and 4 share 2's artist
    assert lists[5].tolist() == [7]


@pytest.mark.parametrize("size", [7, 1_000_000])
def test_unique_codes_is_numpys_unique_with_its_inverse_by_table_or_by_sort(size: int) -> None:
    # Size 7 is numbered through a table (no bigger than the codes), 1,000,000 by sorting.
    codes = np.random.default_rng(3).integers(0, 7, 50) * (size // 7)
    present, inverse = unique_codes(codes, size)
    expected, expected_inverse = np.unique(codes, return_inverse=True)
    np.testing.assert_array_equal(present, expected)
    np.testing.assert_array_equal(inverse, expected_inverse)
    assert inverse.dtype == expected_inverse.dtype
