"""Sample-ratio mismatch verdicts and the latency guardrail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.analysis.checks import latency_guardrail, sample_ratio_mismatch
from botify.logs.sessions import sessionize


@pytest.mark.parametrize(
    ("counts", "verdict"),
    [
        ({"C": 1000, "T1": 1010}, "ok"),
        ({"C": 1000, "T1": 1125}, "warn"),  # p ≈ 0.0066
        ({"C": 1000, "T1": 1200}, "alert"),
        ({"C": 500, "T1": 500, "T2": 0}, "alert"),  # an empty treatment is an SRM
        ({"C": 0, "T1": 0}, "no data"),
    ],
)
def test_sample_ratio_verdicts(counts: dict[str, int], verdict: str) -> None:
    check = sample_ratio_mismatch(pd.Series(counts))
    assert check.verdict == verdict


def test_sample_ratio_p_value_is_the_chi_square_test() -> None:
    check = sample_ratio_mismatch(pd.Series({"C": 1000, "T1": 1125}))
    assert check.chi2 == pytest.approx(125**2 / 2 / 1062.5)
    assert 0.001 < check.p_value < 0.01


def test_latency_guardrail_flags_a_slower_treatment(events_log) -> None:
    users = pd.Series(["C", "T1", "T2"], index=[1, 2, 3])
    latency = np.concatenate([np.full(100, 0.010), np.full(100, 0.011), np.full(100, 0.020)])
    log = events_log(
        [
            {"user": int(user), "timestamp": i, "latency": float(value)}
            for i, (user, value) in enumerate(zip(np.repeat([1, 2, 3], 100), latency, strict=True))
        ]
    )
    sessionize(log, "s")
    table = latency_guardrail(log, "s", users, "C", ["T1", "T2", "T3"], max_increase=0.2)
    assert table.loc["C", "p99_latency_ms"] == pytest.approx(10.0)
    assert table["breached"].tolist() == [False, False, True, False]
    assert table.loc["T3", "requests"] == 0 and np.isnan(table.loc["T3", "p99_latency_ms"])
