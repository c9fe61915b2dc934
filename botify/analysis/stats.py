"""Treatment-vs-control statistics over users: Welch intervals, delta method, Holm.

Absolute effect (treatment mean - control mean): Welch's t interval and p-value, the same
numbers as ``scipy.stats.ttest_ind(equal_var=False)``.

Relative effect (treatment mean / control mean - 1): the delta method on the log of the
ratio of means, ``Var(log m_t - log m_c) ≈ s_t²/(n_t m_t²) + s_c²/(n_c m_c²)``, with Welch's
degrees of freedom. Dividing the absolute interval by the control mean would treat the
control mean as exact; this accounts for its variance too, and working on the log scale
keeps the interval above -100%. It is the interval ``tea-tasting`` reports.

Significance is the Welch p-value after Holm's correction over every treatment × outcome
metric of the report, so the family-wise false-positive rate stays at ``alpha``. Guardrail
metrics (request latency) form a family of their own: a noisy latency p-value must not
change which outcome effects count as significant from one run to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

COMPARISON_COLUMNS = (
    "treatment",
    "metric",
    "effect",
    "upper",
    "lower",
    "control_mean",
    "treatment_mean",
    "significant",
    "p_value",
    "p_holm",
    "abs_effect",
    "abs_lower",
    "abs_upper",
    "n_control",
    "n_treatment",
)


@dataclass(frozen=True)
class Effect:
    """Treatment vs control on one metric; relative figures are fractions (0.05 = +5%)."""

    control_mean: float
    treatment_mean: float
    n_control: int
    n_treatment: int
    abs_effect: float
    abs_lower: float
    abs_upper: float
    p_value: float
    rel_effect: float
    rel_lower: float
    rel_upper: float


def _welch_df(var_c: np.ndarray, n_c: np.ndarray, var_t: np.ndarray, n_t: np.ndarray):
    a, b = var_c / n_c, var_t / n_t
    return (a + b) ** 2 / (a**2 / (n_c - 1) + b**2 / (n_t - 1))


def effect_from_summary(
    mean_c: np.ndarray,
    var_c: np.ndarray,
    n_c: np.ndarray,
    mean_t: np.ndarray,
    var_t: np.ndarray,
    n_t: np.ndarray,
    confidence: float = 0.95,
) -> dict[str, np.ndarray]:
    """Welch and delta-method estimates from means, sample variances (ddof=1) and counts.

    Works element-wise on arrays so that many comparisons (A/A replays) cost one call.
    Undefined results (fewer than two users in a group, zero variance, non-positive means
    for the relative effect) are NaN.
    """
    arrays = [np.asarray(x, dtype="float64") for x in (mean_c, var_c, n_c, mean_t, var_t, n_t)]
    mean_c, var_c, n_c, mean_t, var_t, n_t = arrays
    q = (1 + confidence) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.sqrt(var_c / n_c + var_t / n_t)
        df = _welch_df(var_c, n_c, var_t, n_t)
        abs_effect = mean_t - mean_c
        half = scipy_stats.t.ppf(q, df) * scale
        p_value = 2 * scipy_stats.t.sf(np.abs(abs_effect) / scale, df)

        positive = (mean_c > 0) & (mean_t > 0)
        log_var_c = np.where(positive, var_c / mean_c**2, np.nan)
        log_var_t = np.where(positive, var_t / mean_t**2, np.nan)
        log_scale = np.sqrt(log_var_c / n_c + log_var_t / n_t)
        log_half = scipy_stats.t.ppf(q, _welch_df(log_var_c, n_c, log_var_t, n_t)) * log_scale
        ratio = mean_t / mean_c
    return {
        "abs_effect": abs_effect,
        "abs_lower": abs_effect - half,
        "abs_upper": abs_effect + half,
        "p_value": p_value,
        "rel_effect": ratio - 1,
        "rel_lower": ratio * np.exp(-log_half) - 1,
        "rel_upper": ratio * np.exp(log_half) - 1,
    }


def welch_effect(control: np.ndarray, treatment: np.ndarray, confidence: float = 0.95) -> Effect:
    """Compare two samples of per-user values (NaNs are ignored)."""
    c = np.asarray(control, dtype="float64")
    t = np.asarray(treatment, dtype="float64")
    c, t = c[~np.isnan(c)], t[~np.isnan(t)]
    summary = [_summary(c), _summary(t)]
    (mean_c, var_c, n_c), (mean_t, var_t, n_t) = summary
    result = effect_from_summary(mean_c, var_c, n_c, mean_t, var_t, n_t, confidence)
    return Effect(
        control_mean=mean_c,
        treatment_mean=mean_t,
        n_control=n_c,
        n_treatment=n_t,
        **{key: float(value) for key, value in result.items()},
    )


def _summary(values: np.ndarray) -> tuple[float, float, int]:
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    var = float(values.var(ddof=1)) if n > 1 else float("nan")
    return mean, var, n


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values; NaN entries stay NaN and do not count as tests."""
    p = np.asarray(p_values, dtype="float64")
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = len(order)
    steps = (m - np.arange(m)) * p[order]
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted


def compare_treatments(
    metrics: pd.DataFrame,
    treatments: pd.Series,
    control: str,
    treatment_names: list[str],
    metric_names: list[str],
    confidence: float = 0.95,
    guardrails: Sequence[str] = (),
) -> pd.DataFrame:
    """Every treatment vs the control on every metric, one row each (``COMPARISON_COLUMNS``).

    ``metrics`` is indexed by user, ``treatments`` maps user → treatment. ``effect``,
    ``upper`` and ``lower`` are the relative effect and its interval in %; ``significant``
    is Holm-adjusted p < 1 - ``confidence``, over the rows of the metrics in ``guardrails``
    and over all other rows separately.
    """
    groups = metrics[metric_names].join(treatments.rename("treatment"), how="inner")
    grouped = groups.groupby("treatment")[metric_names]
    means, variances, counts = grouped.mean(), grouped.var(ddof=1), grouped.count()
    index = pd.Index([control, *treatment_names], name="treatment")
    means, variances = means.reindex(index), variances.reindex(index)
    counts = counts.reindex(index, fill_value=0)

    rows = [(name, metric) for name in treatment_names for metric in metric_names]
    pick = {
        frame_name: np.array([frame.at[name, metric] for name, metric in rows], dtype="float64")
        for frame_name, frame in (("mean", means), ("var", variances), ("n", counts))
    }
    base = {
        frame_name: np.array([frame.at[control, metric] for _, metric in rows], dtype="float64")
        for frame_name, frame in (("mean", means), ("var", variances), ("n", counts))
    }
    result = effect_from_summary(
        base["mean"], base["var"], base["n"], pick["mean"], pick["var"], pick["n"], confidence
    )
    p_holm = np.full(len(rows), np.nan)
    guardrail = np.array([metric in guardrails for _, metric in rows], dtype=bool)
    for family in (guardrail, ~guardrail):
        p_holm[family] = holm_adjust(result["p_value"][family])
    table = pd.DataFrame(
        {
            "treatment": [name for name, _ in rows],
            "metric": [metric for _, metric in rows],
            "effect": 100 * result["rel_effect"],
            "upper": 100 * result["rel_upper"],
            "lower": 100 * result["rel_lower"],
            "control_mean": base["mean"],
            "treatment_mean": pick["mean"],
            "significant": p_holm < 1 - confidence,
            "p_value": result["p_value"],
            "p_holm": p_holm,
            "abs_effect": result["abs_effect"],
            "abs_lower": result["abs_lower"],
            "abs_upper": result["abs_upper"],
            "n_control": base["n"].astype("int64"),
            "n_treatment": pick["n"].astype("int64"),
        }
    )
    return table[list(COMPARISON_COLUMNS)]
