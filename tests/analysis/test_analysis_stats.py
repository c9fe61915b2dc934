"""Welch and delta-method intervals against scipy and tea-tasting; Holm; comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tea_tasting
from scipy import stats as scipy_stats

from botify.analysis.stats import compare_treatments, effect_from_summary, holm_adjust, welch_effect


@pytest.mark.parametrize("seed", range(20))
def test_welch_matches_scipy_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    control = rng.gamma(2.0, 3.0, size=rng.integers(5, 300))
    treatment = rng.gamma(2.0, 3.0, size=rng.integers(5, 300)) * rng.uniform(0.8, 1.2)
    confidence = float(rng.choice([0.9, 0.95, 0.99]))
    effect = welch_effect(control, treatment, confidence)
    scipy_result = scipy_stats.ttest_ind(treatment, control, equal_var=False)
    interval = scipy_result.confidence_interval(confidence)
    assert effect.p_value == pytest.approx(scipy_result.pvalue, rel=1e-9)
    assert effect.abs_lower == pytest.approx(interval.low, rel=1e-9)
    assert effect.abs_upper == pytest.approx(interval.high, rel=1e-9)
    assert effect.abs_effect == pytest.approx(treatment.mean() - control.mean())


def test_effect_and_intervals_match_tea_tasting() -> None:
    rng = np.random.default_rng(7)
    users = pd.DataFrame(
        {
            "variant": np.repeat([0, 1], [400, 380]),
            "time": np.concatenate([rng.gamma(2.0, 4.0, 400), rng.gamma(2.2, 4.0, 380)]),
        }
    )
    expected = tea_tasting.Experiment(time=tea_tasting.Mean("time")).analyze(users, control=0)[
        "time"
    ]
    ours = welch_effect(
        users.loc[users.variant == 0, "time"], users.loc[users.variant == 1, "time"]
    )
    assert ours.abs_effect == pytest.approx(expected.effect_size, rel=1e-9)
    assert ours.abs_lower == pytest.approx(expected.effect_size_ci_lower, rel=1e-9)
    assert ours.abs_upper == pytest.approx(expected.effect_size_ci_upper, rel=1e-9)
    assert ours.rel_effect == pytest.approx(expected.rel_effect_size, rel=1e-9)
    assert ours.rel_lower == pytest.approx(expected.rel_effect_size_ci_lower, rel=1e-9)
    assert ours.rel_upper == pytest.approx(expected.rel_effect_size_ci_upper, rel=1e-9)
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_relative_interval_covers_the_true_ratio_when_the_control_is_noisy() -> None:
    # A noisy, small control: dividing the absolute CI by the control mean under-covers.
    rng = np.random.default_rng(11)
    reps, n_c, n_t = 4000, 30, 300
    control = rng.normal(10.0, 6.0, size=(reps, n_c))
    treatment = rng.normal(11.0, 6.0, size=(reps, n_t))
    result = effect_from_summary(
        control.mean(1),
        control.var(1, ddof=1),
        n_c,
        treatment.mean(1),
        treatment.var(1, ddof=1),
        n_t,
    )
    true_ratio = 11.0 / 10.0 - 1
    delta = (result["rel_lower"] <= true_ratio) & (true_ratio <= result["rel_upper"])
    naive_lower = result["abs_lower"] / control.mean(1)
    naive_upper = result["abs_upper"] / control.mean(1)
    naive = (naive_lower <= true_ratio) & (true_ratio <= naive_upper)
    assert 0.93 < delta.mean() < 0.97
    assert naive.mean() < delta.mean() - 0.02


def test_undefined_comparisons_are_nan() -> None:
    result = effect_from_summary(5.0, 1.0, 10, np.nan, np.nan, 0)
    assert all(np.isnan(value) for value in result.values())
    single = welch_effect(np.array([1.0, 2.0, 3.0]), np.array([4.0]))
    assert np.isnan(single.p_value) and single.n_treatment == 1


def test_holm_adjustment_matches_hand_computation() -> None:
    adjusted = holm_adjust(np.array([0.01, 0.04, np.nan, 0.03]))
    np.testing.assert_allclose(adjusted[[0, 1, 3]], [0.03, 0.06, 0.06])
    assert np.isnan(adjusted[2])
    assert holm_adjust(np.array([0.5, 0.9])).max() == 1.0


def test_compare_treatments_flags_only_the_real_effect() -> None:
    rng = np.random.default_rng(3)
    users = pd.Index(range(900), name="user")
    treatments = pd.Series(np.array(["C", "T1", "T2"])[np.arange(900) % 3], index=users)
    lift = treatments.map({"C": 1.0, "T1": 1.0, "T2": 1.3}).to_numpy()
    metrics = pd.DataFrame(
        {"time": rng.gamma(2.0, 5.0, 900) * lift, "sessions": rng.poisson(3.0, 900) + 1.0},
        index=users,
    )
    table = compare_treatments(metrics, treatments, "C", ["T1", "T2", "T3"], ["time", "sessions"])
    flagged = table[table["significant"]]
    assert list(zip(flagged["treatment"], flagged["metric"], strict=True)) == [("T2", "time")]
    empty = table[table["treatment"] == "T3"]
    assert empty["n_treatment"].eq(0).all() and empty["effect"].isna().all()
    time_t2 = table[(table["treatment"] == "T2") & (table["metric"] == "time")].iloc[0]
    assert time_t2["lower"] < time_t2["effect"] < time_t2["upper"]
    assert time_t2["effect"] == pytest.approx(
        100 * (time_t2["treatment_mean"] / time_t2["control_mean"] - 1)
    )


def test_guardrail_metrics_are_holm_adjusted_apart_from_the_outcomes() -> None:
    rng = np.random.default_rng(5)
    users = pd.Index(range(600), name="user")
    treatments = pd.Series(np.array(["C", "T1"])[np.arange(600) % 2], index=users)
    treated = (treatments == "T1").to_numpy()
    metrics = pd.DataFrame(
        {
            "time": rng.normal(10.0, 3.0, 600) + 0.7 * treated,
            "sessions": rng.normal(3.0, 1.0, 600),
            "latency": rng.normal(1.0, 0.1, 600),
        },
        index=users,
    )
    names = ["time", "sessions", "latency"]

    together = compare_treatments(metrics, treatments, "C", ["T1"], names).set_index("metric")
    apart = compare_treatments(
        metrics, treatments, "C", ["T1"], names, guardrails=["latency"]
    ).set_index("metric")

    p_time = apart.loc["time", "p_value"]
    assert p_time < 0.01 and apart.loc["latency", "p_value"] > p_time
    # In one family the latency comparison is one more test, so the time effect's
    # adjusted p-value would depend on it (and on its noise) ...
    assert together.loc["time", "p_holm"] == pytest.approx(3 * p_time)
    # ... apart, the outcomes are adjusted among themselves, the latency on its own.
    assert apart.loc["time", "p_holm"] == pytest.approx(2 * p_time)
    assert apart.loc["latency", "p_holm"] == apart.loc["latency", "p_value"]
