"""The population's return figures against the published ones its defaults are set to.

Plays ``--days`` days of an in-process agent on a generated world (default: the `sim world`
defaults) with ``--episodes`` expected visits a day and prints, over the whole window: the
mean return gap (days between a user's consecutive active days, averaged over users with
two or more), retention (users whose first visit leaves a later day in the window and who
came back), active days per user, users churned, visits per day, and the correlation of
users' visits in the first and second half of the window (how much activity persists).
KuaiSim's cross-session task (Zhao et al., 2023, on KuaiRand) reports a return time of
about 3.5 days and a retention of about 0.6.

    .venv/bin/python bench/population.py [--days 14] [--episodes 3000] [--agent random]
        [--activity-sigma 1.5] [--churn-rate 0.02] [--users 10000]
"""

from __future__ import annotations

import argparse
import time as clock
from dataclasses import replace

import numpy as np
import pandas as pd

from sim.runner import RunSettings, play_day
from sim.world import WorldParams, generate_world


def return_figures(sessions: pd.DataFrame, days: int) -> dict[str, float]:
    """The window's return figures from per-session stats with ``day`` and ``user``."""
    active = sessions.groupby("user")["day"].agg(lambda d: np.unique(d.to_numpy()))
    first = active.map(lambda d: d[0])
    gaps = active[active.map(len) > 1].map(lambda d: np.diff(d).mean())
    eligible = active[first < days]
    half = days // 2
    per_half = sessions.assign(late=sessions["day"] > half).pivot_table(
        index="user", columns="late", values="session", aggfunc="count", fill_value=0
    )
    return {
        "return_gap_days": float(gaps.mean()),
        "retention": float(eligible.map(lambda d: len(d) > 1).mean()),
        "active_days": float(active.map(len).mean()),
        "users_seen": float(len(active)),
        "activity_correlation": float(np.corrcoef(per_half[False], per_half[True])[0, 1]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--agent", default="random")
    parser.add_argument("--users", type=int, default=WorldParams.n_users)
    parser.add_argument("--activity-sigma", type=float, default=WorldParams.activity_sigma)
    parser.add_argument("--churn-rate", type=float, default=WorldParams.churn_rate)
    args = parser.parse_args()
    params = replace(
        WorldParams(seed=42),
        n_users=args.users,
        activity_sigma=args.activity_sigma,
        churn_rate=args.churn_rate,
    )
    world = generate_world(params)
    started = clock.perf_counter()
    state, frames = None, []
    for day in range(1, args.days + 1):
        settings = RunSettings(args.agent, args.episodes, seed=1)
        frame, state = play_day(world, settings, day, state, show_progress=False)
        frames.append(frame)
    sessions = pd.concat(frames, ignore_index=True)
    figures = return_figures(sessions, args.days)
    print(
        f"{args.agent}, {args.days} days of {args.episodes} expected visits, "
        f"{params.n_users} users, activity sigma {params.activity_sigma}, churn "
        f"{params.churn_rate}/day ({clock.perf_counter() - started:.0f} s)"
    )
    print(f"visits per day: {[len(f) for f in frames]}")
    print(f"churned by the end: {int(state.churned.sum())}")
    for name, value in figures.items():
        print(f"{name}: {value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
