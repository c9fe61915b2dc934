import numpy as np
import pandas as pd

from sim.runner import RunSettings, run_day, uniform_plan
from sim.stats import mean_ci, summarise
from sim.streams import session_keys
from sim.user_model import plan_users
from sim.world import WorldParams, generate_world


def test_same_seed_same_sessions_any_number_of_workers(world):
    one = run_day(world, RunSettings("sticky_artist", 300, seed=4), 1, show_progress=False)
    two = run_day(world, RunSettings("sticky_artist", 300, seed=4, workers=2), 1, False)
    pd.testing.assert_frame_equal(one, two)
    assert list(one["session"]) == list(range(300))
    other = run_day(world, RunSettings("sticky_artist", 300, seed=5), 1, show_progress=False)
    assert not one["time"].equals(other["time"])


def test_workers_own_disjoint_users(world):
    settings = RunSettings("random", 500, seed=1, workers=3)
    plan = uniform_plan(world, settings, 2)
    shares = [plan.share(3, w).sessions for w in range(3)]
    assert sorted(np.concatenate(shares)) == list(range(500))
    for worker, sessions in enumerate(shares):
        users = plan_users(world.users, session_keys(1, 2, sessions))
        assert (users % 3 == worker).all()


def test_in_process_agents_order_as_calibrated():
    # The default world's geometry at a fifth of its size; bench/calibration.py checks the
    # full-size margins.
    world = generate_world(WorldParams(seed=5, n_tracks=10_000, n_users=2_000))
    means = {
        agent: run_day(world, RunSettings(agent, 3000, seed=8), 1, False)["time"].mean()
        for agent in ("random", "sticky_artist", "oracle")
    }
    assert means["random"] < means["sticky_artist"] < means["oracle"]


def test_summary_has_a_row_per_day_with_t_intervals():
    sessions = pd.DataFrame(
        {"day": [1, 1, 1, 2, 2], "time": [1.0, 2.0, 3.0, 0.5, 0.5], "tracks": [1, 2, 3, 4, 4],
         "requests": [0, 0, 0, 5, 5]}
    )  # fmt: skip
    summary = summarise(sessions)
    assert list(summary["day"]) == [1, 2]
    # mean 2, sd 1, t(0.975, 2) = 4.3027 -> half-width 4.3027 / sqrt(3)
    assert summary.loc[0, "time_mean"] == 2.0
    assert abs(summary.loc[0, "time_ci"] - 4.302653 / np.sqrt(3)) < 1e-5
    assert summary.loc[1, "time_ci"] == 0.0 and summary.loc[1, "requests"] == 10
    assert mean_ci(np.array([3.0])) == (3.0, 0.0)


def test_progress_in_a_log_file_is_a_few_plain_lines(tmp_path):
    from sim.progress import day_progress

    with (
        open(tmp_path / "log.txt", "w") as stream,
        day_progress(1000, "day 3", True, stream) as bar,
    ):
        for _ in range(1000):
            bar.update(1)
    lines = (tmp_path / "log.txt").read_text().splitlines()
    assert len(lines) == 10 and "\r" not in "".join(lines)
    assert lines[-1].startswith("day 3: 1,000/1,000 sessions (100%)")


def test_a_day_played_in_parts_is_the_day_played_at_once(world):
    whole = run_day(world, RunSettings("sticky_artist", 300, seed=4, workers=2), 1, False)
    parts = [
        run_day(world, RunSettings("sticky_artist", n, seed=4, first_session=s), 1, False)
        for s, n in ((0, 120), (120, 100), (220, 80))
    ]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
