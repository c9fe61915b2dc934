"""Per-user metrics of the A/B analysis (docs/statistics.md), from sessions and request latencies.

Per-user metrics are over closed sessions (``botify.logs.sessions``), except
``mean_request_latency``, which is over all of the user's requests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify.analysis.assignment import served_under
from botify.logs.reader import EventDatabase
from botify.logs.sessions import exact_sum, selected_events, session_table, sessionize

METRICS = (
    "time",
    "sessions",
    "mean_time_per_session",
    "mean_tracks_per_session",
    "mean_request_latency",
)
# Metrics that guard against harm rather than measure the outcome: Holm-adjusted as a
# family of their own (see ``botify.analysis.stats``).
GUARDRAIL_METRICS = ("mean_request_latency",)
# The table of an experiment's events, sessionized (``experiment_metrics``).
EXPERIMENT_EVENTS = "experiment_events"


def request_latency(log: EventDatabase, table: str) -> pd.DataFrame:
    """Per user of the events sessionized in ``table`` (``botify.logs.sessions``): the sum
    of request latencies (``latency``) and how many requests have one (``requests``);
    index: user."""
    return log.query(
        f"""
        SELECT "user", {exact_sum("latency")} AS latency, count(latency) AS requests
        FROM {selected_events(table)} GROUP BY "user" ORDER BY "user"
        """
    ).set_index("user")


def user_metrics(sessions: pd.DataFrame, latency: pd.DataFrame) -> pd.DataFrame:
    """Per-user metrics (index: user; columns: ``METRICS``) from the session table
    (``botify.logs.sessions.session_table``) and the users' ``request_latency``.

    A user whose sessions are all open has ``time`` 0, ``sessions`` 0 and undefined
    per-session means (NaN), so that user still counts for the sample ratio.
    """
    closed = sessions[sessions["closed"]].groupby("user")
    users = pd.Index(np.unique(sessions["user"].to_numpy()), name="user")
    time = closed["time"].sum().reindex(users, fill_value=0.0)
    count = closed.size().reindex(users, fill_value=0)
    tracks = closed["tracks"].sum().reindex(users, fill_value=0)
    per_session = count.where(count > 0)
    timed = latency.reindex(users)
    return pd.DataFrame(
        {
            "time": time.astype("float64"),
            "sessions": count.astype("int64"),
            "mean_time_per_session": time / per_session,
            "mean_tracks_per_session": tracks / per_session,
            "mean_request_latency": timed["latency"]
            / timed["requests"].where(timed["requests"] > 0),
        },
        index=users,
    )


def sessions_and_metrics(log: EventDatabase, table: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sessions (``session_table``) and per-user metrics of the events sessionized in
    ``table``."""
    sessions = session_table(log, table)
    return sessions, user_metrics(sessions, request_latency(log, table))


def sessionize_experiment(log: EventDatabase, experiment: str) -> int:
    """Sessionize ``experiment``'s events into ``log``'s table ``EXPERIMENT_EVENTS``;
    returns their number."""
    return sessionize(log, EXPERIMENT_EVENTS, *served_under(log, experiment))


def experiment_metrics(log: EventDatabase, experiment: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sessions and per-user metrics (``sessions_and_metrics``) of ``experiment``'s
    events, which stay sessionized in ``log``'s table ``EXPERIMENT_EVENTS``."""
    sessionize_experiment(log, experiment)
    return sessions_and_metrics(log, EXPERIMENT_EVENTS)
