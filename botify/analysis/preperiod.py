"""The pre-period of an experiment and each user's CUPED covariates from it.

The pre-period is everything logged before the experiment started: the events whose
timestamp is earlier than the first event served under the experiment, whatever they were
served under (earlier days' experiments, no experiment). In an experiment run, the days
before the report day; in the demo, the three ``PRE`` days for the two-day A/B ``AB``.

A user's covariate for a metric is the same metric (``botify.analysis.metrics``) over the
user's pre-period events, sessionized the same way. A user the pre-period never saw gets
what ``user_metrics`` gives a user without closed sessions: ``time``, ``sessions`` and
``active_days`` 0 (true values, not guesses); a metric that stays undefined (a per-session
mean, the request latency, retention, the return gap) is filled with the mean of the
experiment's users who have it. Any value fixed before the treatment keeps CUPED unbiased;
the fill only decides how much variance those users' covariate removes. tea-tasting expects
a complete covariate column and leaves the filling to its user, so the same filled column
goes into both (the test compares them).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from botify.analysis.assignment import served_under
from botify.analysis.metrics import METRICS, sessions_and_metrics
from botify.analysis.stats import COVARIATE_PREFIX
from botify.logs.reader import EventDatabase
from botify.logs.sessions import sessionize


@dataclass(frozen=True)
class PrePeriod:
    """The pre-period's extent and the covariates of the experiment's users."""

    start: int  # timestamp (ms) of the experiment's first event; the pre-period ends there
    events: int
    users_seen: int  # experiment users with at least one pre-period event
    users: int
    covariates: pd.DataFrame  # index: user; columns: pre_<metric> for every metric


def experiment_start(log: EventDatabase, experiment: str) -> int:
    """Timestamp (ms) of the first event served under ``experiment``."""
    condition, params = served_under(log, experiment)
    query = f"SELECT min(timestamp) FROM events WHERE {condition}"
    return int(log.row(query, params)[0])


def fill_covariates(pre_metrics: pd.DataFrame, users: pd.Index) -> pd.DataFrame:
    """The covariate columns for ``users`` from their pre-period metrics (see module doc)."""
    present = pre_metrics.reindex(users)
    filled = present.fillna({"time": 0.0, "sessions": 0, "active_days": 0})
    filled = filled.fillna(filled.mean()).fillna(0.0)
    return filled[list(METRICS)].add_prefix(COVARIATE_PREFIX).astype("float64")


def pre_period(log: EventDatabase, experiment: str, users: pd.Index) -> PrePeriod | None:
    """The pre-period of ``experiment`` and covariates of ``users``; None without one.

    Its events are sessionized into the table ``pre_period_events`` of ``log``'s database.
    """
    start = experiment_start(log, experiment)
    events = sessionize(log, "pre_period_events", "timestamp < ?", [start])
    if not events:
        return None
    _, pre_metrics = sessions_and_metrics(log, "pre_period_events")
    return PrePeriod(
        start=start,
        events=events,
        users_seen=int(users.isin(pre_metrics.index).sum()),
        users=len(users),
        covariates=fill_covariates(pre_metrics, users),
    )
