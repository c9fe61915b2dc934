"""The whole A/B analysis of one experiment: from loaded events to every table of the report."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from botify.analysis.assignment import (
    expected_treatments,
    latest_experiment,
    user_treatments,
)
from botify.analysis.checks import SampleRatioCheck, latency_guardrail, sample_ratio_mismatch
from botify.analysis.diagnostics import served_by_shares, treatment_diagnostics
from botify.analysis.metrics import (
    EXPERIMENT_EVENTS,
    GUARDRAIL_METRICS,
    METRICS,
    experiment_metrics,
)
from botify.analysis.preperiod import PrePeriod, pre_period
from botify.analysis.stats import compare_treatments
from botify.config import CONTROL, Config
from botify.logs.reader import EventDatabase


@dataclass(frozen=True)
class AbAnalysis:
    """Everything the report shows about one experiment."""

    experiment: str
    control: str
    treatment_names: list[str]
    files: int
    events: int
    skipped_lines: int
    invalid_events: int
    events_outside: int
    users_with_conflicting_treatments: int
    closed_sessions: int
    open_sessions: int
    metrics: pd.DataFrame
    treatments: pd.Series
    comparison: pd.DataFrame
    sample_ratio: SampleRatioCheck
    latency: pd.DataFrame
    diagnostics: pd.DataFrame
    served_by: pd.DataFrame
    has_artists: bool
    pre_period: PrePeriod | None = None
    adjusted: pd.DataFrame | None = None  # CUPED rows, when there is a pre-period
    # Paths named like a segment that are not regular files (links, directories, FIFOs).
    skipped_files: int = 0
    engine: str = "duckdb"  # where the SQL ran (``EventDatabase.engine``)

    @property
    def decisive(self) -> pd.DataFrame:
        """The rows the report decides on: CUPED-adjusted when possible, else unadjusted."""
        return self.comparison if self.adjusted is None else self.adjusted


def default_experiment(log: EventDatabase) -> str:
    """The experiment to analyse when none is named: the one the latest event was served under."""
    return latest_experiment(log)


def analyze_experiment(
    log: EventDatabase,
    experiment: str,
    control: str = CONTROL,
    track_artists: pd.Series | None = None,
    good_time: float = Config.good_time,
    confidence: float = 0.95,
    max_latency_increase: float = 0.2,
) -> AbAnalysis:
    """Sessionize the experiment's events and compute metrics, statistics and diagnostics.

    With a pre-period (events before the experiment's first), also the CUPED-adjusted
    comparison (``botify.analysis.preperiod``), on which the report decides.
    """
    assignment = user_treatments(log, experiment)
    observed = sorted(assignment.treatments.unique())
    if control not in observed:
        raise ValueError(
            f"control {control!r} has no users in experiment {experiment!r} "
            f"(treatments seen: {', '.join(observed) or 'none'})"
        )
    names = expected_treatments(observed, control)
    others = names[1:]
    sessions, metrics = experiment_metrics(log, experiment)
    treatments = assignment.treatments
    pre = pre_period(log, experiment, metrics.index)
    compare = {
        "metrics": metrics,
        "treatments": treatments,
        "control": control,
        "treatment_names": others,
        "metric_names": list(METRICS),
        "confidence": confidence,
        "guardrails": GUARDRAIL_METRICS,
    }
    users = treatments.value_counts().reindex(pd.Index(names, name="treatment"), fill_value=0)
    return AbAnalysis(
        experiment=experiment,
        control=control,
        treatment_names=others,
        files=log.read_stats.files,
        events=log.events,
        skipped_lines=log.read_stats.skipped_lines,
        skipped_files=len(log.read_stats.skipped_files),
        invalid_events=log.invalid_events,
        events_outside=assignment.events_outside,
        users_with_conflicting_treatments=assignment.users_with_conflicting_treatments,
        closed_sessions=int(sessions["closed"].sum()),
        open_sessions=int((~sessions["closed"]).sum()),
        metrics=metrics,
        treatments=treatments,
        comparison=compare_treatments(**compare),
        sample_ratio=sample_ratio_mismatch(users),
        latency=latency_guardrail(
            log, EXPERIMENT_EVENTS, treatments, control, others, max_increase=max_latency_increase
        ),
        diagnostics=treatment_diagnostics(
            log, EXPERIMENT_EVENTS, sessions, treatments, names, track_artists, good_time
        ),
        served_by=served_by_shares(log, EXPERIMENT_EVENTS, treatments, names),
        has_artists=track_artists is not None,
        pre_period=pre,
        adjusted=None if pre is None else compare_treatments(**compare, covariates=pre.covariates),
        engine=log.engine,
    )
