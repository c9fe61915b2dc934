"""Whether users come back (active days, retention with maturity, return gap) and a CUPED
that never widens an interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify.analysis.metrics import DAY_MS, return_metrics
from botify.analysis.stats import compare_treatments, cuped_adjust

DAY_1 = 1_767_225_600_000


def _sessions(rows: list[tuple[int, int, bool]]) -> pd.DataFrame:
    """Session table rows (user, day, closed)."""
    users, days, closed = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user": users,
            "closed": closed,
            "start": [DAY_1 + (day - 1) * DAY_MS + 3_600_000 for day in days],
        }
    )


def test_retention_counts_only_users_whose_window_has_a_later_day() -> None:
    sessions = _sessions(
        [
            (1, 1, True), (1, 1, True), (1, 3, True),  # came back: retained, gap 2 days
            (2, 2, True),                               # never came back
            (3, 3, True),                               # first seen on the last day: immature
            (4, 1, True), (4, 2, False),                # the return was never closed
            (5, 1, True), (5, 2, True), (5, 3, True),   # every day: gap 1
        ]
    )  # fmt: skip
    users = pd.Index([1, 2, 3, 4, 5], name="user")
    metrics = return_metrics(sessions, users)
    assert metrics["active_days"].tolist() == [2, 1, 1, 1, 3]
    assert metrics["retention"].tolist()[:2] == [1.0, 0.0]
    assert np.isnan(metrics.loc[3, "retention"])
    assert metrics.loc[4, "retention"] == 0.0 and metrics.loc[5, "retention"] == 1.0
    assert metrics.loc[1, "return_gap"] == 2.0 and metrics.loc[5, "return_gap"] == 1.0
    assert metrics["return_gap"].isna().tolist() == [False, True, True, True, False]


def _arms(seed: int, n_c: int = 2000, n_t: int = 100):
    rng = np.random.default_rng(seed)
    n = n_c + n_t
    users = pd.Index(range(n), name="user")
    treatments = pd.Series(["C"] * n_c + ["T1"] * n_t, index=users)
    x = rng.normal(10, 3, n)
    # The covariate predicts the large control arm's outcome closely and says nothing of
    # the small treatment arm's: the pooled θ (about 1) inflates the treatment's variance,
    # which dominates the effect's.
    y = np.where(treatments == "C", x + rng.normal(0, 0.5, n), rng.normal(10, 1, n))
    metrics = pd.DataFrame({"time": y}, index=users)
    return metrics, treatments, pd.DataFrame({"pre_time": x}, index=users)


def test_a_cuped_row_never_wider_than_its_plain_row() -> None:
    metrics, treatments, covariates = _arms(1)
    plain = compare_treatments(metrics, treatments, "C", ["T1"], ["time"]).iloc[0]
    adjusted = compare_treatments(metrics, treatments, "C", ["T1"], ["time"], covariates=covariates)
    row = adjusted.iloc[0]
    # The pooled θ (about 1) would widen the interval: θ per arm instead, never wider.
    assert row["theta"] == "per_arm" and not row["fallback"] and row["method"] == "cuped"
    assert row["abs_upper"] - row["abs_lower"] <= plain["abs_upper"] - plain["abs_lower"]
    assert row["upper"] - row["lower"] <= plain["upper"] - plain["lower"]
    assert row["variance_reduction"] > 0
    moments = {"n": 100.0, "my": 10.0, "mx": 10.0, "vy": 1.0, "vx": 9.0, "cxy": 0.0}
    control = moments | {"n": 2000.0, "vy": 9.25, "cxy": 9.0}
    pooled_c, pooled_t = cuped_adjust(control, moments)
    assert pooled_t["var"] > 8 * moments["vy"]  # what the pooled θ does to the treatment


def test_a_useful_covariate_keeps_the_cuped_row() -> None:
    metrics, treatments, covariates = _arms(2)
    both = covariates["pre_time"] + np.random.default_rng(3).normal(0, 0.5, len(metrics))
    metrics = metrics.assign(time=both)
    adjusted = compare_treatments(metrics, treatments, "C", ["T1"], ["time"], covariates=covariates)
    assert adjusted["theta"].tolist() == ["pooled"]  # tea-tasting's, where it does not widen
    assert adjusted["variance_reduction"].iloc[0] > 0.9
