"""Always-valid monitoring: confidence sequences that may be looked at after every chunk.

A fixed-horizon 95% interval is valid once, at the planned sample size; looking after every
chunk and stopping at the first significant look inflates the false-positive rate (the
``bench/aa.py --looks`` replay of real logs measures it; figures in the README). A confidence
sequence covers the true effect at every sample size at once with probability 1 - alpha,
so an experiment may be watched and stopped as soon as it excludes zero.

This is the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and
Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences" (Annals of
Statistics, 2024; arXiv:2103.06476, eq. 9 with the normal mixture), the one GrowthBook's
sequential mode uses: around an estimate whose variance is ``V`` after ``n`` units,
``half-width = sqrt(n V) · sqrt(2 (n ρ² + 1) / (n² ρ²) · log(sqrt(n ρ² + 1) / alpha))``,
with ``ρ`` chosen so that the sequence is tightest at ``n_star`` units. It is applied to the
same estimates as the report — the absolute difference and, for the relative effect, the
log of the ratio of means (delta method), CUPED-adjusted when there is a pre-period — with
``n`` the users of both arms. Several comparisons watched together share ``alpha`` by
Bonferroni, so the chance that any of them is ever wrongly decided stays below ``alpha``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify.analysis.assignment import expected_treatments, user_treatments
from botify.analysis.metrics import experiment_metrics
from botify.analysis.preperiod import pre_period
from botify.analysis.stats import compare_treatments
from botify.config import CONTROL
from botify.logs.reader import EventDatabase


def mixture_rho(alpha: float, n_star: float) -> float:
    """The normal mixture's ρ that makes the sequence tightest at ``n_star`` units."""
    log_alpha = np.log(alpha)
    return float(np.sqrt((-2 * log_alpha + np.log(-2 * log_alpha + 1)) / n_star))


def halfwidth(
    std_error: np.ndarray, n: np.ndarray, alpha: float = 0.05, n_star: float = 1000
) -> np.ndarray:
    """Half-width of the two-sided confidence sequence of an estimate with ``std_error``
    after ``n`` units (arrays element-wise)."""
    n = np.asarray(n, dtype="float64")
    rho2 = mixture_rho(alpha, n_star) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = 2 * (n * rho2 + 1) / (n**2 * rho2) * np.log(np.sqrt(n * rho2 + 1) / alpha)
        return np.sqrt(n) * np.asarray(std_error, dtype="float64") * np.sqrt(spread)


def confidence_sequences(
    comparison: pd.DataFrame,
    alpha: float = 0.05,
    n_star: float = 1000,
    family: int | None = None,
) -> pd.DataFrame:
    """``comparison`` (rows of ``stats.compare_treatments``) with always-valid intervals.

    Adds ``cs_lower``/``cs_upper`` (relative effect, %), ``abs_cs_lower``/``abs_cs_upper``
    and ``decided`` (the sequence excludes zero), each row at ``alpha / family``; ``family``
    (default: the number of rows) is how many comparisons are watched together.
    """
    level = alpha / (family or max(len(comparison), 1))
    n = comparison["n_control"] + comparison["n_treatment"]
    abs_half = halfwidth(comparison["std_error"], n, level, n_star)
    log_half = halfwidth(comparison["log_std_error"], n, level, n_star)
    ratio = 1 + comparison["effect"] / 100
    table = comparison.assign(
        cs_lower=100 * (ratio * np.exp(-log_half) - 1),
        cs_upper=100 * (ratio * np.exp(log_half) - 1),
        abs_cs_lower=comparison["abs_effect"] - abs_half,
        abs_cs_upper=comparison["abs_effect"] + abs_half,
    )
    table["decided"] = (table["cs_lower"] > 0) | (table["cs_upper"] < 0)
    return table


MONITOR_METRIC = "time"
LOOK_COLUMNS = (
    "treatment",
    "effect",
    "cs_lower",
    "cs_upper",
    "n_control",
    "n_treatment",
    "method",
    "decided",
)


def running_effects(
    log: EventDatabase,
    experiment: str,
    control: str = CONTROL,
    metric: str = MONITOR_METRIC,
    alpha: float = 0.05,
    n_star: float = 1000,
) -> pd.DataFrame:
    """Every treatment vs ``control`` on ``metric`` so far, with confidence sequences.

    The same estimate as the report (CUPED on the pre-period when there is one), so a look
    is the report's decisive row of ``metric`` with an always-valid interval; the treatments
    share ``alpha``. One row per treatment (``LOOK_COLUMNS`` and more).
    """
    treatments = user_treatments(log, experiment).treatments
    names = expected_treatments(sorted(treatments.unique()), control)[1:]
    _, metrics = experiment_metrics(log, experiment)
    pre = pre_period(log, experiment, metrics.index)
    comparison = compare_treatments(
        metrics,
        treatments,
        control,
        names,
        [metric],
        covariates=None if pre is None else pre.covariates,
    )
    return confidence_sequences(comparison, alpha, n_star)
