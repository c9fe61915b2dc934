"""The population across days: persistent activity, returns, churn, determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sim.population import (
    DAY_MS,
    activity,
    day_start_ms,
    day_visits,
    end_day,
    fresh_state,
    load_state,
    record_sessions,
    state_for_day,
)
from sim.runner import RunSettings, play_day
from sim.world import WorldParams, generate_world

# 300 users playing 600 expected visits a day: every figure below has hundreds of draws.
EPISODES = 600


@pytest.fixture(scope="module")
def population(small):
    return replace(small, population=True)


def _days(world, agent, days, workers=1, state=None):
    frames = []
    for day in range(1, days + 1):
        frame, state = play_day(
            world, RunSettings(agent, EPISODES, seed=9, workers=workers), day, state, False
        )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True), state


def test_visits_are_the_users_own_and_dated_within_their_day(population):
    state = fresh_state(population.n_users, seed=1, day=3)
    visits = day_visits(population, state, EPISODES, activity(population))
    assert abs(len(visits.users) - EPISODES) < 4 * np.sqrt(EPISODES)
    assert (np.diff(visits.starts) >= 0).all()
    assert (visits.starts >= day_start_ms(3)).all() and (visits.starts < day_start_ms(4)).all()
    # A user's visits of a day start at distinct seconds, so their sessions never interleave.
    per_user = pd.DataFrame({"user": visits.users, "start": visits.starts})
    assert not per_user.duplicated().any()
    # Satisfied users come back more, without taking a visit from anyone else.
    pleased = np.zeros(population.n_users)
    pleased[:150] = 1.0
    more = day_visits(population, replace(state, memory=pleased), EPISODES, activity(population))
    count = np.bincount(visits.users, minlength=population.n_users)
    count_more = np.bincount(more.users, minlength=population.n_users)
    assert (count_more[150:] == count[150:]).all()
    assert count_more[:150].sum() > 1.3 * count[:150].sum()  # exp(0.5 * 1.0) = 1.65


def test_activity_is_heavy_tailed_and_persists_across_days(population):
    world = generate_world(population)
    sessions, _ = _days(world, "random", 4)
    per_day = sessions.pivot_table(index="user", columns="day", values="session", aggfunc="count")
    per_day = per_day.reindex(range(population.n_users)).fillna(0)
    assert np.corrcoef(per_day[1] + per_day[2], per_day[3] + per_day[4])[0, 1] > 0.6
    rates = activity(population)
    assert rates.mean() == pytest.approx(1.0, rel=0.15) and np.median(rates) < 0.6


def test_memory_fades_and_satisfied_users_churn_less(population):
    state = fresh_state(population.n_users, seed=2, day=1)
    state = replace(state, memory=np.full(population.n_users, 0.4))
    quiet = end_day(population, state)
    assert quiet.day == 2 and np.allclose(quiet.memory, 0.4 * population.memory_decay)
    users = np.arange(population.n_users)
    played = record_sessions(population, state, users, np.full(population.n_users, 10.0))
    assert (end_day(population, played).memory > quiet.memory).all()
    leaving = replace(population, churn_rate=0.5, churn_sensitivity=3.0)
    neutral = end_day(leaving, fresh_state(population.n_users, 2, 1)).churned.mean()
    pleased = end_day(leaving, replace(state, memory=np.full(population.n_users, 0.5)))
    assert 0.4 < neutral < 0.6 and pleased.churned.mean() < neutral / 2


def test_churned_users_never_come_back(population):
    gone = replace(population, churn_rate=1.0, churn_sensitivity=0.0)
    state = end_day(gone, fresh_state(gone.n_users, 3, 1))
    assert state.churned.all()
    assert len(day_visits(gone, state, EPISODES, activity(gone)).users) == 0


def test_same_seed_same_days_for_any_number_of_workers_or_parts(population, tmp_path):
    world = generate_world(population)
    one, state_one = _days(world, "sticky_artist", 3)
    two, state_two = _days(world, "sticky_artist", 3, workers=2)
    pd.testing.assert_frame_equal(one, two)
    assert np.array_equal(state_one.memory, state_two.memory)
    # Day 3 resumed from the state saved after day 2, played in parts of 100 visits.
    _, after_two = _days(world, "sticky_artist", 2)
    after_two.save(tmp_path / "state.npz")
    state, parts, first = load_state(tmp_path / "state.npz"), [], 0
    while True:
        settings = RunSettings("sticky_artist", EPISODES, seed=9, first_session=first, part=100)
        frame, state = play_day(world, settings, 3, state, False)
        parts.append(frame)
        first += len(frame)
        if len(frame) < 100:
            break
    day_three = one[one["day"] == 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), day_three)
    assert np.array_equal(state.memory, state_one.memory)
    assert (day_three["start"] // DAY_MS == day_start_ms(3) // DAY_MS).all()


def test_a_better_recommender_brings_more_visits():
    # The default world's geometry at a fifth of its size, where sticky_artist beats random.
    world = generate_world(WorldParams(seed=5, n_tracks=10_000, n_users=2_000))
    random_days, _ = _days(world, "random", 4)
    sticky_days, _ = _days(world, "sticky_artist", 4)
    assert (sticky_days["day"] == 4).sum() > 1.1 * (random_days["day"] == 4).sum()


def test_a_state_cannot_go_back_or_change_seed(population):
    state = fresh_state(population.n_users, seed=4, day=5)
    with pytest.raises(ValueError, match="cannot go back to day 3"):
        state_for_day(population, state, 4, 3, resume=False)
    with pytest.raises(ValueError, match="seed 4"):
        state_for_day(population, state, 5, 6, resume=False)
    assert state_for_day(population, state, 4, 7, resume=False).day == 7
