"""Power: how many users and sessions per arm an experiment needs, from observed variance.

For a two-sided test at ``alpha`` with ``power`` against a relative effect ``mde`` on a
metric with control mean ``m`` and per-user variance ``s²`` (two equal arms, normal
approximation): ``users per arm = 2 (z_{1-alpha/2} + z_power)² s² / (mde · m)²`` — what
tea-tasting's ``Mean.solve_power`` gives with ``use_t=False`` (a test compares them). With
CUPED the variance is the residual one, ``s² (1 - ρ²)``, ρ the correlation of the metric
and its pre-period covariate. Sessions per arm are users per arm times the sessions per
user observed in the control arm, which holds as long as the experiment lasts as long as
the one observed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from botify.analysis.metrics import GUARDRAIL_METRICS, METRICS
from botify.analysis.pipeline import analyze_experiment, default_experiment
from botify.analysis.report import markdown_table
from botify.analysis.stats import COVARIATE_PREFIX
from botify.logs.reader import open_log

POWER_COLUMNS = (
    "metric",
    "control_mean",
    "std",
    "users",
    "sessions",
    "variance_reduction",
    "cuped_users",
    "cuped_sessions",
)


def users_per_arm(
    mean: np.ndarray, var: np.ndarray, mde: float, alpha: float = 0.05, power: float = 0.8
) -> np.ndarray:
    """Users per arm to detect a relative effect ``mde`` (0.05 = 5%); element-wise."""
    z = scipy_stats.norm.ppf(1 - alpha / 2) + scipy_stats.norm.ppf(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * z**2 * np.asarray(var) / (mde * np.asarray(mean)) ** 2


def power_table(
    control: pd.DataFrame,
    covariates: pd.DataFrame | None,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """Per outcome metric: users and sessions per arm, without and with CUPED.

    ``control`` holds the control arm's per-user metrics (``METRICS``), ``covariates`` its
    users' ``pre_<metric>`` columns (or None without a pre-period).
    """
    sessions_per_user = control["sessions"].mean()
    rows = []
    for metric in [m for m in METRICS if m not in GUARDRAIL_METRICS]:
        values = control[metric].dropna()
        mean, var = values.mean(), values.var(ddof=1)
        reduction = np.nan
        if covariates is not None:
            x = covariates.loc[values.index, COVARIATE_PREFIX + metric]
            reduction = values.corr(x) ** 2 if x.var() > 0 else 0.0
        users = users_per_arm(mean, var, mde, alpha, power)
        cuped = users_per_arm(mean, var * (1 - reduction), mde, alpha, power)
        rows.append(
            {
                "metric": metric,
                "control_mean": mean,
                "std": np.sqrt(var),
                "users": users,
                "sessions": users * sessions_per_user,
                "variance_reduction": reduction,
                "cuped_users": cuped,
                "cuped_sessions": cuped * sessions_per_user,
            }
        )
    return pd.DataFrame(rows, columns=list(POWER_COLUMNS))


def _ceil(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{int(np.ceil(value)):,}"


def power_markdown(table: pd.DataFrame) -> str:
    """The power table as markdown."""
    header = ["metric", "control mean", "std", "users/arm", "sessions/arm", "CUPED var. red."]
    header += ["CUPED users/arm", "CUPED sessions/arm"]
    rows = [
        [
            row["metric"],
            f"{row['control_mean']:.4g}",
            f"{row['std']:.4g}",
            _ceil(row["users"]),
            _ceil(row["sessions"]),
            "n/a"
            if np.isnan(row["variance_reduction"])
            else f"{100 * row['variance_reduction']:.1f}%",
            _ceil(row["cuped_users"]),
            _ceil(row["cuped_sessions"]),
        ]
        for _, row in table.iterrows()
    ]
    return markdown_table(header, rows)


def power_command(
    logs: Path, experiment: str | None, control: str, mde: float, alpha: float, power: float
) -> int:
    """``botify power``: sessions per arm for ``power`` at a relative effect of ``mde`` %."""
    if not Path(logs).is_dir():
        print(f"error: --logs {logs} is not a directory", file=sys.stderr)
        return 2
    if not (mde > 0 and 0 < alpha < 1 and 0 < power < 1):
        print("error: --mde must be positive, --alpha and --power in (0, 1)", file=sys.stderr)
        return 2
    with open_log(logs) as log:
        if not log.events:
            print(f"error: no readable events under {logs}", file=sys.stderr)
            return 2
        try:
            analysis = analyze_experiment(log, experiment or default_experiment(log), control)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    users = analysis.treatments.index[analysis.treatments == control]
    metrics = analysis.metrics.loc[analysis.metrics.index.intersection(users)]
    pre = analysis.pre_period
    table = power_table(metrics, None if pre is None else pre.covariates, mde / 100, alpha, power)
    print(
        f"Experiment {analysis.experiment}, control {control} ({len(metrics):,} users): per "
        f"arm, for {power:.0%} power at a relative effect of {mde:g}% (two-sided alpha "
        f"{alpha:g}); "
        + ("CUPED on the pre-period." if pre is not None else "no pre-period, so no CUPED.")
    )
    print(power_markdown(table))
    return 0
