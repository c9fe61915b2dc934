import numpy as np
from gymnasium.utils.env_checker import check_env

from sim.engine import ActiveSessions, run_batch
from sim.env import ListeningSessionEnv
from sim.policies import OraclePolicy, RandomPolicy
from sim.streams import session_keys
from sim.user_model import SessionPlan, plan_sessions, plan_users


def test_env_passes_the_gymnasium_checker(world):
    check_env(ListeningSessionEnv(world), skip_render_check=True)


def test_reset_with_a_seed_is_reproducible(world):
    env = ListeningSessionEnv(world)
    first, info = env.reset(seed=123)
    again, info_again = env.reset(seed=123)
    assert first["track"] == again["track"] and info == info_again
    assert first["time"][0] == 1.0 and first["budget"] == 5


def test_repeating_the_first_track_ends_the_session_after_the_budget(world):
    env = ListeningSessionEnv(world)
    observation, info = env.reset(seed=7)
    budget = observation["budget"]
    for step in range(1, budget + 1):
        observation, reward, terminated, truncated, _ = env.step(info["first_track"])
        assert reward == 0.0 and not truncated
        assert observation["budget"] == budget - step
        assert terminated == (step == budget)


def test_sessions_are_truncated_at_max_tracks(world):
    env = ListeningSessionEnv(world, max_tracks=1)
    env.reset(seed=1)
    _, _, terminated, truncated, _ = env.step(0)
    assert not terminated and truncated


def test_listen_time_uses_the_session_interest(world):
    env = ListeningSessionEnv(world)
    _, info = env.reset(seed=11)
    interest, user = info["interest_track"], info["user"]
    observation, reward, *_ = env.step(interest)
    users = world.users
    expected = 1.0 / (
        1.0 + np.exp(-(1.0 - users.consume_bias[user]) * users.consume_sharpness[user])
    )
    same_artist = (
        world.catalog.track_artist[interest] == world.catalog.track_artist[info["first_track"]]
    )
    repeat = interest == info["first_track"]
    expected = 0.0 if repeat else round(expected * 0.8 ** int(same_artist), 2)
    assert reward == expected and observation["time"][0] == np.float32(expected)


class StrideAgent:
    """Deterministic test agent: the track ``7 * previous + 1`` modulo the catalog size."""

    def __init__(self, n_tracks):
        self.n_tracks = n_tracks

    def start(self, plan: SessionPlan) -> None:
        pass

    def recommend(self, active: ActiveSessions) -> np.ndarray:
        return (7 * active.previous_tracks + 1) % self.n_tracks


def test_engine_and_env_give_the_same_sessions(world):
    keys = session_keys(9, 1, np.arange(60))
    plan = plan_sessions(world, keys, plan_users(world.users, keys))
    n = world.catalog.n_tracks
    batch = run_batch(world, plan, StrideAgent(n), max_tracks=30)
    env = ListeningSessionEnv(world, max_tracks=30)
    for row, key in enumerate(keys):
        observation, info = env.reset(seed=int(key))
        assert info["first_track"] == plan.first_tracks[row]
        track, total, tracks, done = observation["track"], 0.0, 0, False
        while not done:
            track = (7 * track + 1) % n
            _, reward, terminated, truncated, _ = env.step(track)
            total, tracks, done = total + reward, tracks + 1, terminated or truncated
        assert (tracks, round(total, 6)) == (batch.tracks[row], round(batch.time[row], 6))
        assert truncated == batch.truncated[row]


def test_oracle_beats_random(world):
    keys = session_keys(2, 1, np.arange(400))
    plan = plan_sessions(world, keys, plan_users(world.users, keys))
    random = run_batch(world, plan, RandomPolicy(world))
    oracle = run_batch(world, plan, OraclePolicy(world))
    assert oracle.time.mean() > 2 * random.time.mean()
