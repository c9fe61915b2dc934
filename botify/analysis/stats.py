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

CUPED (Deng, Xu, Kohavi, Walker, "Improving the sensitivity of online controlled experiments
by utilizing pre-experiment data", WSDM 2013): with a per-user covariate ``x`` measured before
the experiment (``botify.analysis.preperiod``), each arm's mean of ``y`` becomes
``mean(y) - θ (mean(x) - mean_pooled(x))`` with variance ``var(y) + θ² var(x) - 2θ cov(x, y)``,
``θ = cov(x, y) / var(x)`` over the users of both arms of the comparison (pooled, so θ does
not depend on the treatment). The adjusted means and variances then go through the same
Welch and delta-method formulas. This is tea-tasting's ``Mean(..., covariate=...)``, number
for number (a test checks it to 1e-9). Since ``x`` predates the treatment, the adjustment
removes variance without biasing the effect.

CUPED never hurts: the pooled θ is optimal for the pooled data, not for each arm, and the
relative interval also moves with the adjusted means, so when the arms differ much (an
effect of +1,000%: the pooled θ fits the treatment's spread and inflates the control's) an
adjusted interval can come out wider than the plain one (by up to 2x on the demo). Such a
row takes θ per arm instead (``theta`` "per_arm": each arm's own cov(x, y) / var(x), Lin's
interacted regression, whose per-arm variance is never above the plain one), and if that
too would widen the absolute or relative interval, it is the plain Welch row (``theta``
"none", ``fallback``). Rows with ``theta`` "pooled" are tea-tasting's.
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
    "method",
    "variance_reduction",
    "std_error",
    "log_std_error",
    "fallback",
    "theta",
)
# Covariate columns passed to ``compare_treatments`` are named after the metric they adjust.
COVARIATE_PREFIX = "pre_"


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
        "std_error": scale,
        "log_std_error": log_scale,
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
        **{key: float(value) for key, value in result.items() if "std_error" not in key},
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


def _group_moments(
    values: pd.DataFrame, metric_names: list[str], covariates: bool
) -> dict[str, pd.DataFrame]:
    """Per metric and treatment: n, means, sample variances (ddof=1) and the covariance of
    the metric and its covariate column (``pre_<metric>``; 0 without ``covariates``).

    Users whose metric is undefined (NaN) are left out, as in the unadjusted comparison.
    One groupby for all metrics: the A/A replays call this thousands of times.
    """
    columns = {}
    for metric in metric_names:
        y = values[metric].astype("float64")
        x = values[COVARIATE_PREFIX + metric].astype("float64") if covariates else y * 0.0
        x = x.where(y.notna())
        columns |= {f"y:{metric}": y, f"x:{metric}": x, f"xy:{metric}": x * y}
    frame = pd.DataFrame(columns)
    grouped = frame.groupby(values["treatment"].to_numpy())
    counts, means, variances = grouped.count(), grouped.mean(), grouped.var(ddof=1)
    moments = {}
    for metric in metric_names:
        n = counts[f"y:{metric}"]
        my, mx = means[f"y:{metric}"], means[f"x:{metric}"]
        moments[metric] = pd.DataFrame(
            {
                "n": n,
                "my": my,
                "mx": mx,
                "vy": variances[f"y:{metric}"],
                "vx": variances[f"x:{metric}"],
                "cxy": (means[f"xy:{metric}"] - mx * my) * n / (n - 1),
            }
        )
    return moments


def cuped_adjust(control: dict, treatment: dict, per_arm: bool = False) -> tuple[dict, dict]:
    """CUPED-adjusted ``mean`` and ``var`` of two arms from their moments (arrays allowed).

    Each arm is a dict of ``n``, ``my``, ``mx`` (means of metric and covariate), ``vy``,
    ``vx`` (sample variances) and ``cxy`` (sample covariance). θ is estimated on both arms
    together (their concatenation, tea-tasting's), or with ``per_arm`` on each arm's own
    users (Lin's interacted regression: each arm's variance is then at its minimum); a
    covariate without variance gives θ = 0 (no adjustment).
    """
    n_c, n_t = (np.asarray(arm["n"], dtype="float64") for arm in (control, treatment))
    n = n_c + n_t
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = (n_c * control["mx"] + n_t * treatment["mx"]) / n
        between = n_c * n_t / n
        dx = np.asarray(control["mx"]) - treatment["mx"]
        dy = np.asarray(control["my"]) - treatment["my"]
        vx = ((n_c - 1) * control["vx"] + (n_t - 1) * treatment["vx"] + between * dx**2) / (n - 1)
        cxy = ((n_c - 1) * control["cxy"] + (n_t - 1) * treatment["cxy"] + between * dx * dy) / (
            n - 1
        )
        pooled = np.where(vx > 0, cxy / vx, 0.0)
        thetas = [
            np.where(arm["vx"] > 0, np.asarray(arm["cxy"]) / arm["vx"], 0.0) if per_arm else pooled
            for arm in (control, treatment)
        ]
    adjusted = []
    for arm, theta in zip((control, treatment), thetas, strict=True):
        adjusted.append(
            {
                "mean": arm["my"] - theta * (arm["mx"] - mx),
                "var": arm["vy"] + theta**2 * arm["vx"] - 2 * theta * arm["cxy"],
            }
        )
    return adjusted[0], adjusted[1]


def compare_treatments(
    metrics: pd.DataFrame,
    treatments: pd.Series,
    control: str,
    treatment_names: list[str],
    metric_names: list[str],
    confidence: float = 0.95,
    guardrails: Sequence[str] = (),
    covariates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every treatment vs the control on every metric, one row each (``COMPARISON_COLUMNS``).

    ``metrics`` is indexed by user, ``treatments`` maps user → treatment. ``effect``,
    ``upper`` and ``lower`` are the relative effect and its interval in %; ``significant``
    is Holm-adjusted p < 1 - ``confidence``, over the rows of the metrics in ``guardrails``
    and over all other rows separately.

    With ``covariates`` (indexed by user, a column ``pre_<metric>`` per metric, no NaN for
    the users of ``metrics``) the rows are CUPED-adjusted (``method`` "cuped") and
    ``variance_reduction`` is ``1 - Var(adjusted effect) / Var(unadjusted effect)``;
    otherwise ``method`` is "welch". ``std_error`` and ``log_std_error`` are the standard
    errors of the absolute effect and of the log of the means' ratio (for ``sequential``).
    """
    groups = metrics[metric_names].join(treatments.rename("treatment"), how="inner")
    if covariates is not None:
        names = [COVARIATE_PREFIX + metric for metric in metric_names]
        groups = groups.join(covariates[names], how="left")
    index = pd.Index([control, *treatment_names], name="treatment")
    moments = {
        metric: frame.reindex(index).fillna({"n": 0})
        for metric, frame in _group_moments(groups, metric_names, covariates is not None).items()
    }
    rows = [(name, metric) for name in treatment_names for metric in metric_names]
    fields = ("n", "my", "mx", "vy", "vx", "cxy")
    pick = {
        field: np.array([moments[metric].at[name, field] for name, metric in rows], "float64")
        for field in fields
    }
    base = {
        field: np.array([moments[metric].at[control, field] for _, metric in rows], "float64")
        for field in fields
    }
    plain_c = {"mean": base["my"], "var": base["vy"]}
    plain_t = {"mean": pick["my"], "var": pick["vy"]}
    adjusted_c, adjusted_t = (
        cuped_adjust(base, pick)
        if covariates is not None
        else (
            plain_c,
            plain_t,
        )
    )
    result = effect_from_summary(
        adjusted_c["mean"],
        adjusted_c["var"],
        base["n"],
        adjusted_t["mean"],
        adjusted_t["var"],
        pick["n"],
        confidence,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        reduction = 1 - (adjusted_c["var"] / base["n"] + adjusted_t["var"] / pick["n"]) / (
            plain_c["var"] / base["n"] + plain_t["var"] / pick["n"]
        )
    theta = np.full(len(rows), "none" if covariates is None else "pooled", dtype=object)
    if covariates is not None:
        plain = effect_from_summary(
            plain_c["mean"], plain_c["var"], base["n"], plain_t["mean"], plain_t["var"],
            pick["n"], confidence,
        )  # fmt: skip
        arm_c, arm_t = cuped_adjust(base, pick, per_arm=True)
        per_arm = effect_from_summary(
            arm_c["mean"], arm_c["var"], base["n"], arm_t["mean"], arm_t["var"], pick["n"],
            confidence,
        )  # fmt: skip
        # Pooled θ (tea-tasting's) where it does not widen the interval, else per-arm θ
        # where that does not, else the plain row.
        use_arm = wider_than_plain(result, plain) & ~wider_than_plain(per_arm, plain)
        use_plain = wider_than_plain(result, plain) & wider_than_plain(per_arm, plain)
        theta[use_arm], theta[use_plain] = "per_arm", "none"
        for chosen, summary, arm_means in (
            (use_arm, per_arm, (arm_c, arm_t)),
            (use_plain, plain, (plain_c, plain_t)),
        ):
            for key in result:
                result[key] = np.where(chosen, summary[key], result[key])
            adjusted_c = {k: np.where(chosen, arm_means[0][k], v) for k, v in adjusted_c.items()}
            adjusted_t = {k: np.where(chosen, arm_means[1][k], v) for k, v in adjusted_t.items()}
        with np.errstate(divide="ignore", invalid="ignore"):
            reduction = 1 - (adjusted_c["var"] / base["n"] + adjusted_t["var"] / pick["n"]) / (
                plain_c["var"] / base["n"] + plain_t["var"] / pick["n"]
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
            "control_mean": adjusted_c["mean"],
            "treatment_mean": adjusted_t["mean"],
            "significant": p_holm < 1 - confidence,
            "p_value": result["p_value"],
            "p_holm": p_holm,
            "abs_effect": result["abs_effect"],
            "abs_lower": result["abs_lower"],
            "abs_upper": result["abs_upper"],
            "n_control": base["n"].astype("int64"),
            "n_treatment": pick["n"].astype("int64"),
            "method": "cuped" if covariates is not None else "welch",
            "variance_reduction": reduction if covariates is not None else np.nan,
            "std_error": result["std_error"],
            "log_std_error": result["log_std_error"],
            "fallback": theta == "none" if covariates is not None else False,
            "theta": theta,
        }
    )
    return table[list(COMPARISON_COLUMNS)]


def wider_than_plain(adjusted: dict[str, np.ndarray], plain: dict[str, np.ndarray]) -> np.ndarray:
    """Per row of two ``effect_from_summary`` results: whether the adjusted absolute or
    relative interval is wider than the plain one (undefined widths compare as not wider)."""
    with np.errstate(invalid="ignore"):
        wider_abs = (adjusted["abs_upper"] - adjusted["abs_lower"]) > (
            plain["abs_upper"] - plain["abs_lower"]
        )
        wider_rel = (adjusted["rel_upper"] - adjusted["rel_lower"]) > (
            plain["rel_upper"] - plain["rel_lower"]
        )
    return wider_abs | wider_rel
