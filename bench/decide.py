"""Sessions to a decision: confidence sequence with looks vs the fixed-horizon test, on real logs.

Two arms of an experiment's logs are replayed as if the experiment were running: sessions
arrive in the order they started (and, to see the spread, in ``--orders`` random orders),
a look after every ``--chunk`` sessions, each look the report's estimate of session time per
user (unadjusted, and CUPED on the pre-period) with its always-valid interval
(``botify.analysis.sequential``). Printed per method: the sessions at which the interval
first excluded zero (in the real order, and the median and range over the random orders)
and the fixed-horizon test's sessions for 80% power at the effect observed on all the logs
(the most favourable plan a fixed-horizon test could have) and at ``--mde``.

    .venv/bin/python bench/decide.py --logs demo-output/logs --experiment AB \\
        --control T1 --treatment T4 [--chunk 100] [--orders 30] [--mde 10]
"""

from __future__ import annotations

import argparse
import sys
import time as clock
from pathlib import Path

import numpy as np
import pandas as pd

from botify.analysis.assignment import register_treatments, served_under, user_treatments
from botify.analysis.power import users_per_arm
from botify.analysis.preperiod import pre_period
from botify.analysis.sequential import MONITOR_METRIC, confidence_sequences
from botify.analysis.stats import COVARIATE_PREFIX, compare_treatments
from botify.logs.reader import open_log
from botify.logs.sessions import session_table, sessionize


def arm_sessions(
    log_dir: Path, experiment: str, control: str, treatment: str
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame | None]:
    """Closed sessions of the two arms (user, time, start), the users' arms, covariates."""
    with open_log(log_dir) as log:
        arms = user_treatments(log, experiment).treatments
        arms = arms[arms.isin([control, treatment])].replace({control: "C", treatment: "T1"})
        where, params = served_under(log, experiment)
        users = register_treatments(log, arms)
        sessionize(log, "arm_events", f'{where} AND "user" IN (SELECT "user" FROM {users})', params)
        sessions = session_table(log, "arm_events")
        sessions = sessions[sessions["closed"]].sort_values("start", kind="stable")
        pre = pre_period(log, experiment, pd.Index(np.unique(sessions["user"]), name="user"))
    return sessions, arms, None if pre is None else pre.covariates


def first_decision(
    sessions: pd.DataFrame,
    arms: pd.Series,
    covariates: pd.DataFrame | None,
    chunk: int,
    n_star: float,
) -> int | None:
    """Sessions played at the first look whose confidence sequence excludes zero."""
    for cutoff in range(chunk, len(sessions) + chunk, chunk):
        seen = sessions.iloc[: min(cutoff, len(sessions))]
        time = seen.groupby("user")["time"].sum().rename(MONITOR_METRIC).to_frame()
        table = compare_treatments(time, arms, "C", ["T1"], [MONITOR_METRIC], covariates=covariates)
        if confidence_sequences(table, n_star=n_star, family=1)["decided"].iloc[0]:
            return len(seen)
    return None


def fixed_horizon_sessions(
    sessions: pd.DataFrame,
    arms: pd.Series,
    covariates: pd.DataFrame | None,
    effect: float,
) -> float:
    """Sessions (both arms) for 80% power at relative ``effect``, from the control's variance."""
    time = sessions.groupby("user")["time"].sum()
    control = time[arms.reindex(time.index) == "C"]
    var = control.var(ddof=1)
    if covariates is not None:
        x = covariates.loc[control.index, COVARIATE_PREFIX + MONITOR_METRIC]
        var *= 1 - (control.corr(x) ** 2 if x.var() > 0 else 0.0)
    per_user = len(sessions) / len(time)
    return float(2 * users_per_arm(control.mean(), var, effect) * per_user)


def main() -> int:
    """Replay the two arms and print sessions to a decision against the fixed horizon."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=Path, required=True)
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--treatment", required=True)
    parser.add_argument("--chunk", type=int, default=100, help="sessions between looks")
    parser.add_argument("--orders", type=int, default=30, help="random arrival orders")
    parser.add_argument("--mde", type=float, default=10.0, help="planned effect, %%")
    args = parser.parse_args()
    started = clock.perf_counter()
    sessions, arms, covariates = arm_sessions(
        args.logs, args.experiment, args.control, args.treatment
    )
    time = sessions.groupby("user")["time"].sum()
    labels = arms.reindex(time.index)
    observed = time[labels == "T1"].mean() / time[labels == "C"].mean() - 1
    print(
        f"{args.experiment}: {args.treatment} vs {args.control}, {len(sessions):,} closed "
        f"sessions of {len(time):,} users, observed effect {100 * observed:+.1f}% on "
        f"{MONITOR_METRIC} per user; a look every {args.chunk} sessions "
        f"({clock.perf_counter() - started:.0f} s to load)"
    )
    n_star = float(len(time))
    rng = np.random.default_rng(0)
    orders = [rng.permutation(len(sessions)) for _ in range(args.orders)]
    methods = {"welch": None} | ({} if covariates is None else {"cuped": covariates})
    header = f"{'method':<7} {'real order':>11} {'random orders: median [min, max]':>34}"
    header += f" {'fixed @observed':>16} {f'fixed @{args.mde:g}%':>12}"
    lines = [header]
    for method, covariate in methods.items():
        real = first_decision(sessions, arms, covariate, args.chunk, n_star)
        shuffled = [
            first_decision(sessions.iloc[order], arms, covariate, args.chunk, n_star)
            for order in orders
        ]
        decided = np.array([np.nan if s is None else s for s in shuffled], dtype="float64")
        spread = (
            f"{np.nanmedian(decided):,.0f} [{np.nanmin(decided):,.0f}, {np.nanmax(decided):,.0f}]"
            if np.isfinite(decided).any()
            else "never"
        )
        undecided = int(np.isnan(decided).sum())
        spread += f" ({undecided} undecided)" if undecided else ""
        lines.append(
            f"{method:<7} {'never' if real is None else f'{real:,}':>11} {spread:>34} "
            f"{fixed_horizon_sessions(sessions, arms, covariate, observed):>16,.0f} "
            f"{fixed_horizon_sessions(sessions, arms, covariate, args.mde / 100):>12,.0f}"
        )
    print("sessions (both arms) to a decision; fixed = 80% power, two-sided 5%:")
    print("\n".join(lines))
    print(f"({clock.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
