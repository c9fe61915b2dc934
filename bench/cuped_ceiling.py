"""How much of an arm's per-user variance the pre-period can remove at all.

CUPED with one covariate removes the share rho^2 of a metric's variance that the covariate
explains linearly (within an arm, with per-arm theta). No adjustment built on the pre-period,
however many covariates it combines (CUPAC-style regression), can remove more than the R^2
of the metric on *every* pre-period metric together. This bench prints both per arm, for one
metric (default ``time``, the session time per user), from an experiment's logs:

- ``users``, and the share of them the pre-period saw;
- ``rho^2``: the same metric's pre-period value alone (what the report's CUPED uses);
- ``R^2, all``: every pre-period metric together (``botify.analysis.metrics.METRICS``), by
  least squares; the ceiling of any linear adjustment from these covariates.

A treatment whose ceiling is low cannot reach a large variance cut by a better choice of
covariate; only more of each user's behaviour in the window (a longer experiment) or in the
pre-period can.

    .venv/bin/python bench/cuped_ceiling.py --logs demo-output/logs --experiment AB [--metric time]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from botify.analysis.assignment import user_treatments
from botify.analysis.metrics import METRICS, experiment_metrics
from botify.analysis.preperiod import pre_period
from botify.analysis.stats import COVARIATE_PREFIX
from botify.logs.reader import open_log


def explained_share(y: np.ndarray, covariates: np.ndarray) -> float:
    """R^2 of ``y`` on ``covariates`` (columns) and an intercept, by least squares."""
    design = np.column_stack([covariates, np.ones(y.size)])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    total = float(np.var(y))
    return 1.0 - float(np.var(residual)) / total if total > 0 else 0.0


def ceiling_table(metrics: pd.DataFrame, covariates: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per treatment: users, rho^2 of ``metric`` on its own pre-period value, and R^2 on
    every pre-period metric. ``metrics`` has a ``treatment`` column; both frames by user."""
    rows = []
    columns = [COVARIATE_PREFIX + name for name in METRICS]
    for treatment, group in metrics.groupby("treatment"):
        y = group[metric].to_numpy(dtype=float)
        x = covariates.loc[group.index, columns].to_numpy(dtype=float)
        own = covariates.loc[group.index, COVARIATE_PREFIX + metric].to_numpy(dtype=float)
        rows.append(
            {
                "treatment": treatment,
                "users": len(group),
                "rho^2, own metric": explained_share(y, own[:, None]),
                "R^2, all metrics": explained_share(y, x),
            }
        )
    return pd.DataFrame(rows).set_index("treatment")


def main() -> None:
    """Print the ceiling table of one experiment's logs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=Path, default=Path("demo-output/logs"))
    parser.add_argument("--experiment", default="AB")
    parser.add_argument("--metric", default="time", choices=list(METRICS))
    args = parser.parse_args()
    with open_log(args.logs) as log:
        _, metrics = experiment_metrics(log, args.experiment)
        treatments = user_treatments(log, args.experiment).treatments
        pre = pre_period(log, args.experiment, metrics.index)
        column = log.experiment_columns[args.experiment]
        served = log.query(
            f"SELECT {column} AS treatment, any_value(recommender) AS recommender FROM events "
            "WHERE experiment = ? GROUP BY 1",
            [args.experiment],
        )
        names = dict(zip(served["treatment"], served["recommender"], strict=True))
    if pre is None:
        raise SystemExit(f"error: experiment {args.experiment!r} has no pre-period")
    metrics = metrics.assign(treatment=treatments.reindex(metrics.index)).dropna(
        subset=["treatment"]
    )
    table = ceiling_table(metrics, pre.covariates, args.metric)
    table.index = [f"{t} {names.get(t, '')}".strip() for t in table.index]
    print(
        f"{args.experiment}, {args.metric} per user: the pre-period saw {pre.users_seen:,} of "
        f"{pre.users:,} users\n"
    )
    print("| treatment | users | rho^2, own metric | R^2, all metrics |\n|---|---:|---:|---:|")
    for name, row in table.iterrows():
        print(
            f"| {name} | {int(row['users']):,} | {row['rho^2, own metric']:.1%} "
            f"| {row['R^2, all metrics']:.1%} |"
        )


if __name__ == "__main__":
    main()
