"""Validity checks of an experiment: sample-ratio mismatch and the latency guardrail."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from botify.analysis.assignment import register_treatments
from botify.logs.reader import EventDatabase
from botify.logs.sessions import selected_events

SRM_WARN_P = 0.01
SRM_ALERT_P = 0.001


@dataclass(frozen=True)
class SampleRatioCheck:
    """Chi-square test of users per treatment against the designed (equal) split."""

    users: pd.Series
    chi2: float
    p_value: float
    verdict: str  # "ok", "warn", "alert" or "no data"


def sample_ratio_mismatch(
    users: pd.Series, warn_p: float = SRM_WARN_P, alert_p: float = SRM_ALERT_P
) -> SampleRatioCheck:
    """Test users per treatment (index: treatment, including empty ones) for an equal split.

    An SRM means the assignment or the logging lost users selectively, which biases every
    comparison, so it is an alert at ``p < alert_p`` and a warning at ``p < warn_p``.
    """
    counts = users.astype("int64")
    if counts.sum() == 0 or len(counts) < 2:
        return SampleRatioCheck(
            users=counts, chi2=float("nan"), p_value=float("nan"), verdict="no data"
        )
    chi2, p_value = scipy_stats.chisquare(counts.to_numpy())
    if p_value < alert_p:
        verdict = "alert"
    elif p_value < warn_p:
        verdict = "warn"
    else:
        verdict = "ok"
    return SampleRatioCheck(users=counts, chi2=float(chi2), p_value=float(p_value), verdict=verdict)


def latency_guardrail(
    log: EventDatabase,
    table: str,
    treatments: pd.Series,
    control: str,
    treatment_names: list[str],
    max_increase: float = 0.2,
    quantile: float = 0.99,
) -> pd.DataFrame:
    """p99 request latency per treatment (index: treatment) against the control's, over the
    requests sessionized in ``table`` (``botify.logs.sessions``).

    Columns: ``requests``, ``p99_latency_ms``, ``change`` (fraction vs control) and
    ``breached`` (the treatment's p99 exceeds the control's by more than ``max_increase``).
    """
    per_treatment = log.query(
        f"""
        SELECT treatment, count(*) AS requests, 1000 * quantile_cont(latency, ?) AS p99
        FROM {selected_events(table)} JOIN {register_treatments(log, treatments)} USING ("user")
        WHERE latency IS NOT NULL GROUP BY treatment
        """,
        [quantile],
    ).set_index("treatment")
    index = pd.Index([control, *treatment_names], name="treatment")
    p99_ms = per_treatment["p99"].astype("float64").reindex(index)
    change = p99_ms / p99_ms[control] - 1
    return pd.DataFrame(
        {
            "requests": per_treatment["requests"].reindex(index, fill_value=0).astype("int64"),
            "p99_latency_ms": p99_ms,
            "change": change,
            "breached": np.asarray(change > max_increase),
        },
        index=index,
    )
