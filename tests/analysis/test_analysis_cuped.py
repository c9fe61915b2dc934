"""CUPED: equal to tea-tasting's, the pre-period and its covariates, the report's rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tea_tasting

from botify.analysis.metrics import METRICS
from botify.analysis.pipeline import analyze_experiment
from botify.analysis.preperiod import fill_covariates, pre_period
from botify.analysis.report import write_report
from botify.analysis.stats import compare_treatments
from botify.logs.reader import open_log

TEA_FIELDS = {
    "abs_effect": "effect_size",
    "abs_lower": "effect_size_ci_lower",
    "abs_upper": "effect_size_ci_upper",
    "p_value": "pvalue",
    "control_mean": "control",
    "treatment_mean": "treatment",
}
TEA_PERCENT_FIELDS = {
    "effect": "rel_effect_size",
    "lower": "rel_effect_size_ci_lower",
    "upper": "rel_effect_size_ci_upper",
}


def _correlated_users(seed: int, n: int = 900) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    users = pd.Index(range(n), name="user")
    treatments = pd.Series(np.where(rng.random(n) < 0.45, "C", "T1"), index=users)
    trait = rng.gamma(2.0, 2.0, n)
    pre = trait + rng.normal(0, 1.0, n)
    lift = np.where(treatments == "T1", 1.08, 1.0)
    y = (trait + rng.normal(0, 1.5, n)) * lift
    metrics = pd.DataFrame({"time": y}, index=users)
    covariates = pd.DataFrame({"pre_time": pre}, index=users)
    return metrics, treatments, covariates


@pytest.mark.parametrize("seed", range(5))
def test_cuped_equals_tea_tasting_to_1e_9(seed: int) -> None:
    metrics, treatments, covariates = _correlated_users(seed)
    ours = compare_treatments(metrics, treatments, "C", ["T1"], ["time"], covariates=covariates)
    row = ours.iloc[0]
    data = pd.DataFrame(
        {
            "variant": treatments.to_numpy(),
            "time": metrics["time"].to_numpy(),
            "pre_time": covariates["pre_time"].to_numpy(),
        }
    )
    experiment = tea_tasting.Experiment(time=tea_tasting.Mean("time", covariate="pre_time"))
    expected = experiment.analyze(data, control="C")["time"]
    assert row["method"] == "cuped"
    for ours_key, tea_key in TEA_FIELDS.items():
        assert row[ours_key] == pytest.approx(getattr(expected, tea_key), rel=1e-9, abs=1e-12)
    for ours_key, tea_key in TEA_PERCENT_FIELDS.items():
        assert row[ours_key] == pytest.approx(100 * getattr(expected, tea_key), rel=1e-9)


def test_cuped_removes_the_variance_the_covariate_explains() -> None:
    metrics, treatments, covariates = _correlated_users(11, n=20_000)
    plain = compare_treatments(metrics, treatments, "C", ["T1"], ["time"]).iloc[0]
    adjusted = compare_treatments(
        metrics, treatments, "C", ["T1"], ["time"], covariates=covariates
    ).iloc[0]
    rho = np.corrcoef(metrics["time"], covariates["pre_time"])[0, 1]
    assert plain["method"] == "welch" and np.isnan(plain["variance_reduction"])
    assert adjusted["variance_reduction"] == pytest.approx(rho**2, abs=0.03)
    width = (adjusted["abs_upper"] - adjusted["abs_lower"]) / (
        plain["abs_upper"] - plain["abs_lower"]
    )
    assert width == pytest.approx(np.sqrt(1 - adjusted["variance_reduction"]), rel=0.01)
    # Unbiased: both estimate the same +8% lift.
    assert adjusted["lower"] < 8 < adjusted["upper"]


def test_a_constant_covariate_changes_nothing() -> None:
    metrics, treatments, covariates = _correlated_users(3)
    plain = compare_treatments(metrics, treatments, "C", ["T1"], ["time"]).iloc[0]
    flat = compare_treatments(
        metrics, treatments, "C", ["T1"], ["time"], covariates=covariates * 0 + 2.0
    ).iloc[0]
    for key in ("effect", "lower", "upper", "p_value", "control_mean"):
        assert flat[key] == pytest.approx(plain[key], rel=1e-12)
    assert flat["variance_reduction"] == pytest.approx(0.0, abs=1e-12)


def test_users_the_pre_period_never_saw_get_zero_time_and_mean_ratios() -> None:
    pre_metrics = pd.DataFrame(
        {
            "time": [4.0, 2.0],
            "sessions": [2, 1],
            "mean_time_per_session": [2.0, np.nan],
            "mean_tracks_per_session": [5.0, np.nan],
            "mean_request_latency": [0.002, 0.004],
            "active_days": [2, 1],
            "retention": [1.0, np.nan],
            "return_gap": [1.0, np.nan],
        },
        index=pd.Index([1, 2], name="user"),
    )
    filled = fill_covariates(pre_metrics, pd.Index([1, 2, 3], name="user"))
    assert filled.loc[3, "pre_time"] == 0.0 and filled.loc[3, "pre_sessions"] == 0.0
    assert filled.loc[3, "pre_active_days"] == 0.0 and filled.loc[3, "pre_retention"] == 1.0
    # Undefined ratios are the mean of the users who have them (user 1 only).
    assert filled.loc[2, "pre_mean_time_per_session"] == 2.0
    assert filled.loc[3, "pre_mean_tracks_per_session"] == 5.0
    assert filled.loc[3, "pre_mean_request_latency"] == pytest.approx(0.003)
    assert not filled.isna().any().any()


def test_pre_period_is_what_came_before_the_experiment(pre_period_logs: Path) -> None:
    with open_log(pre_period_logs) as log:
        users = pd.Index(log.query('SELECT DISTINCT "user" FROM events ORDER BY 1')["user"])
        pre = pre_period(log, "EXP", users.rename("user"))
        assert pre is not None
        pre_column = log.experiment_columns["PRE"]
        assert pre.events == log.row(f"SELECT count({pre_column}) FROM events")[0]
        assert pre.users_seen == pre.users == len(users)
        assert pre_period(log, "PRE", users) is None  # nothing came before the first experiment


def test_report_carries_cuped_rows_and_decides_on_them(pre_period_logs, tmp_path) -> None:
    with open_log(pre_period_logs) as log:
        analysis = analyze_experiment(log, "EXP")
    assert analysis.adjusted is not None and analysis.decisive is analysis.adjusted
    sessions = analysis.adjusted.set_index("metric").loc["sessions"]
    assert sessions["variance_reduction"] > 0.1  # the persistent activity trait
    text = write_report(analysis, tmp_path / "out")
    assert "### CUPED: adjusted for each user's pre-period" in text
    assert "**These rows decide.**" in text and "Variance reduction per metric" in text
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    methods = [row["method"] for row in report["comparisons"]]
    assert methods.count("welch") == methods.count("cuped") == len(METRICS)
    assert report["decided_on"] == "cuped"
    assert report["pre_period"]["users_seen"] == analysis.pre_period.users_seen
    cuped = [row for row in report["comparisons"] if row["method"] == "cuped"]
    # Retention, return gap and active days do not vary on a one-day window: no test.
    defined = [row for row in cuped if row["p_value"] is not None]
    assert defined and all(row["variance_reduction"] is not None for row in defined)


def test_without_pre_period_the_unadjusted_rows_decide(effect_logs, tmp_path: Path) -> None:
    log_dir, _, _ = effect_logs
    with open_log(log_dir) as log:
        analysis = analyze_experiment(log, "EXP")
    assert analysis.pre_period is None and analysis.decisive is analysis.comparison
    text = write_report(analysis, tmp_path)
    assert "No pre-period" in text
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["decided_on"] == "welch" and report["pre_period"] is None
