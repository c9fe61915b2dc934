import numpy as np
import pytest

from sim.neighbours import NearestTracks, nearest_rows
from sim.streams import Stream, session_keys, uniforms
from sim.user_model import budget_drops, listen_time, plan_sessions, plan_users


def test_listen_time_at_the_bias_is_one_half():
    assert listen_time(0.5, 0.5, 10.0, 0.8, 0, False) == 0.5


def test_listen_time_rounds_to_two_decimals():
    # expit((0.6 - 0.1) * 2) = expit(1) = 0.7310585...
    assert listen_time(0.6, 0.1, 2.0, 0.8, 0, False) == 0.73


def test_artist_discount_applies_per_earlier_play():
    # 0.7310585 * 0.8 = 0.5848 -> 0.58; * 0.8^2 = 0.4679 -> 0.47
    assert listen_time(0.6, 0.1, 2.0, 0.8, 1, False) == 0.58
    assert listen_time(0.6, 0.1, 2.0, 0.8, 2, False) == 0.47
    assert listen_time(0.6, 0.1, 2.0, 0.5, 2, False) == 0.18


def test_repeat_listens_zero():
    assert listen_time(1.0, 0.1, 15.0, 0.8, 0, True) == 0.0


def test_listen_time_is_vectorised():
    # second: expit((0.6 - 0.5) * 2) * 0.8 = 0.5498 * 0.8 = 0.4399 -> 0.44
    times = listen_time(
        np.array([0.5, 0.6, 0.6]), 0.5, np.array([10.0, 2.0, 2.0]), 0.8,
        np.array([0, 1, 0]), np.array([False, False, True]),
    )  # fmt: skip
    np.testing.assert_array_equal(times, [0.5, 0.44, 0.0])


def test_budget_drops_with_probability_one_minus_time():
    assert not budget_drops(1.0, 0.0)
    assert budget_drops(0.0, 0.999)
    assert budget_drops(0.3, 0.69)
    assert not budget_drops(0.3, 0.71)


def test_uniforms_do_not_depend_on_batching():
    keys = session_keys(5, 1, np.arange(1000))
    draws = uniforms(keys, Stream.BUDGET, 3)
    assert ((draws >= 0) & (draws < 1)).all()
    assert abs(draws.mean() - 0.5) < 0.05
    np.testing.assert_array_equal(uniforms(keys[17:18], Stream.BUDGET, 3), draws[17:18])
    assert not np.array_equal(uniforms(keys, Stream.AGENT, 3), draws)
    assert not np.array_equal(session_keys(5, 2, np.arange(1000)), keys)


def expected_of(matrix, rows, k):
    return np.argsort(-(matrix[rows] @ matrix.T), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("k", [1, 10, 300])
def test_nearest_rows_match_brute_force(k):
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((3000, 8)).astype(np.float32)
    queries = matrix[rng.integers(0, 3000, 50)]
    expected = np.argsort(-(queries @ matrix.T), axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(nearest_rows(matrix, queries, k), expected)
    cached = NearestTracks(matrix, k)
    np.testing.assert_array_equal(cached.of(np.array([5, 5, 9])), expected_of(matrix, [5, 5, 9], k))
    np.testing.assert_array_equal(cached.of(np.array([9])), expected_of(matrix, [9], k))


def test_nearest_rows_do_not_depend_on_batching_and_break_ties_by_index():
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal((5000, 32)).astype(np.float32)
    matrix[7] = matrix[3]  # an exact tie: the lower index ranks first
    queries = matrix[rng.integers(0, 5000, 600)]
    queries[0] = matrix[3]
    whole = nearest_rows(matrix, queries, 12)
    for size in (1, 7, 300):
        batched = [nearest_rows(matrix, queries[i : i + size], 12) for i in range(0, 600, size)]
        np.testing.assert_array_equal(np.concatenate(batched), whole)
    assert list(whole[0, :2]) == [3, 7]
    exact = queries.astype(np.float64) @ matrix.astype(np.float64).T
    ranked = np.argsort(-exact, axis=1, kind="stable")[:, :12]
    np.testing.assert_array_equal(whole, ranked)


def test_first_track_is_among_the_interest_neighbours(world):
    keys = session_keys(1, 1, np.arange(500))
    users = plan_users(world.users, keys)
    plan = plan_sessions(world, keys, users)
    e = world.embeddings
    for user, interest, first in zip(users, plan.interest_tracks, plan.first_tracks, strict=True):
        assert interest in world.users.interests(user)
        scores = e @ e[interest]
        assert (scores > scores[first]).sum() < world.users.interest_neighbours[user]
    assert len(np.unique(plan.first_tracks)) > len(np.unique(plan.interest_tracks))
