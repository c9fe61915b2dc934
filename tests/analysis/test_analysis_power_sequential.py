"""Power against tea-tasting; confidence sequences: valid under peeking, and they decide."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tea_tasting

from botify.analysis.power import power_table, users_per_arm
from botify.analysis.sequential import confidence_sequences, halfwidth, mixture_rho
from botify.analysis.stats import effect_from_summary
from botify.cli import main

METRIC_COLUMNS = ["time", "sessions", "mean_time_per_session", "mean_tracks_per_session"]


def _control(seed: int, n: int = 2000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    trait = rng.gamma(2.0, 1.5, n)
    users = pd.Index(range(n), name="user")
    metrics = pd.DataFrame(
        {
            "time": trait + rng.gamma(1.0, 1.0, n),
            "sessions": rng.poisson(1.5, n) + 1.0,
            "mean_time_per_session": rng.gamma(3.0, 1.0, n),
            "mean_tracks_per_session": rng.gamma(5.0, 1.0, n),
            "mean_request_latency": rng.gamma(2.0, 0.001, n),
            "active_days": rng.poisson(1.0, n) + 1.0,
            "retention": rng.binomial(1, 0.6, n).astype(float),
            "return_gap": rng.gamma(2.0, 1.0, n),
        },
        index=users,
    )
    covariates = pd.DataFrame(
        {f"pre_{m}": metrics[m] * 0 + rng.normal(0, 1, n) for m in metrics.columns}, index=users
    )
    covariates["pre_time"] = trait + rng.normal(0, 0.8, n)
    return metrics, covariates


@pytest.mark.parametrize("mde", [0.03, 0.05, 0.1])
def test_users_per_arm_equals_tea_tasting_solve_power(mde: float) -> None:
    metrics, covariates = _control(1)
    table = power_table(metrics, covariates, mde).set_index("metric")
    data = metrics.join(covariates).assign(variant=0)
    for covariate, column in ((None, "users"), ("pre_time", "cuped_users")):
        metric = tea_tasting.Mean(
            "time", covariate, use_t=False, rel_effect_size=mde, power=0.8, alpha=0.05
        )
        n_obs = metric.solve_power(data, "n_obs")[0].n_obs
        # tea-tasting rounds its total up to a whole user.
        assert n_obs - 1 < 2 * table.loc["time", column] <= n_obs
    assert table.loc["time", "variance_reduction"] > 0.4
    assert table.loc["time", "cuped_sessions"] < table.loc["time", "sessions"]
    ratio = table.loc["time", "sessions"] / table.loc["time", "users"]
    assert ratio == pytest.approx(metrics["sessions"].mean())


def test_users_per_arm_scales_with_variance_and_inverse_square_effect() -> None:
    base = users_per_arm(10.0, 25.0, 0.05)
    assert users_per_arm(10.0, 100.0, 0.05) == pytest.approx(4 * base)
    assert users_per_arm(10.0, 25.0, 0.10) == pytest.approx(base / 4)


def test_halfwidth_is_the_published_formula_and_wider_than_a_fixed_interval() -> None:
    rho = mixture_rho(0.05, 1000)
    n, se = 1000.0, 0.1
    expected = (
        np.sqrt(n)
        * se
        * np.sqrt(2 * (n * rho**2 + 1) / (n**2 * rho**2) * np.log(np.sqrt(n * rho**2 + 1) / 0.05))
    )
    assert halfwidth(se, n, 0.05, 1000) == pytest.approx(expected, rel=1e-12)
    assert expected > 1.96 * se  # the price of looking whenever one likes
    assert expected < 1.6 * 1.96 * se  # ... about 1.55 times as wide at the tuned size


def _peeking(reps: int, looks: int, chunk: int, lift: float, seed: int) -> dict[str, np.ndarray]:
    """Cumulative two-arm streams: per replication and look, fixed and sequential verdicts."""
    rng = np.random.default_rng(seed)
    size = looks * chunk
    control = rng.gamma(2.0, 2.0, (reps, size))
    treatment = rng.gamma(2.0, 2.0, (reps, size)) * (1 + lift)
    n = np.arange(1, looks + 1) * chunk
    fixed, sequential = np.zeros((reps, looks), bool), np.zeros((reps, looks), bool)
    for look, count in enumerate(n):
        c, t = control[:, :count], treatment[:, :count]
        result = effect_from_summary(
            c.mean(1), c.var(1, ddof=1), count, t.mean(1), t.var(1, ddof=1), count
        )
        frame = pd.DataFrame(
            {
                "effect": 100 * result["rel_effect"],
                "abs_effect": result["abs_effect"],
                "std_error": result["std_error"],
                "log_std_error": result["log_std_error"],
                "n_control": count,
                "n_treatment": count,
            }
        )
        fixed[:, look] = result["p_value"] < 0.05
        sequential[:, look] = confidence_sequences(frame, 0.05, n_star=size, family=1).to_numpy(
            bool
        )[:, -1]
    return {"fixed": fixed, "sequential": sequential}


def test_peeking_at_a_confidence_sequence_keeps_false_positives_below_alpha() -> None:
    verdicts = _peeking(reps=1000, looks=20, chunk=100, lift=0.0, seed=4)
    ever_fixed = verdicts["fixed"].any(1).mean()
    ever_sequential = verdicts["sequential"].any(1).mean()
    assert ever_fixed > 0.12  # twenty looks at a fixed-horizon test: far above 5%
    assert ever_sequential <= 0.05


def test_a_real_effect_is_decided_and_stays_decided_mostly() -> None:
    verdicts = _peeking(reps=200, looks=20, chunk=100, lift=0.1, seed=5)["sequential"]
    assert verdicts[:, -1].mean() > 0.8
    first = np.where(verdicts.any(1), verdicts.argmax(1), 20)
    assert np.median(first) < 19  # decided before the last look in most runs


def test_power_command_prints_the_table(effect_logs, capsys) -> None:
    log_dir, _, _ = effect_logs
    assert main(["power", "--logs", str(log_dir), "--mde", "10"]) == 0
    printed = capsys.readouterr().out
    assert "no pre-period, so no CUPED" in printed and "| time |" in printed
    assert main(["power", "--logs", str(log_dir), "--mde", "0"]) == 2
    assert "--mde must be positive" in capsys.readouterr().err
