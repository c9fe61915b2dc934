"""Per-user metrics of the A/B analysis (docs/statistics.md), from sessions and request latencies.

Per-user metrics are over closed sessions (``botify.logs.sessions``), except
``mean_request_latency``, which is over all of the user's requests.

Whether users come back, over the window of the sessions analysed (the experiment's days; a
day is a UTC calendar day of the session's start, the simulator's days included):

- ``active_days``: the days on which the user had a session;
- ``retention``: 1 if the user had a session on a later day of the window than the day of
  their first one, else 0. A user whose first session is on the window's last day has had
  no chance to come back and is not counted (NaN): the maturity rule of rolling retention
  (Statsig), so a window that ends does not read as users leaving;
- ``return_gap``: the mean number of days between the user's consecutive active days
  (NaN with fewer than two).
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
    "active_days",
    "retention",
    "return_gap",
)
DAY_MS = 86_400_000
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
    returns = return_metrics(sessions, users)
    return pd.DataFrame(
        {
            "time": time.astype("float64"),
            "sessions": count.astype("int64"),
            "mean_time_per_session": time / per_session,
            "mean_tracks_per_session": tracks / per_session,
            "mean_request_latency": timed["latency"]
            / timed["requests"].where(timed["requests"] > 0),
            **{name: returns[name] for name in returns},
        },
        index=users,
    )


def return_metrics(sessions: pd.DataFrame, users: pd.Index) -> pd.DataFrame:
    """``active_days``, ``retention`` and ``return_gap`` of ``users`` (see module doc) from
    the session table; the window is the days of all its sessions, open ones included."""
    day = sessions["start"] // DAY_MS
    last_day = day.max() if len(day) else 0
    days = day[sessions["closed"]].groupby(sessions["user"][sessions["closed"]])
    first, last, active = days.min(), days.max(), days.nunique()
    active = active.reindex(users, fill_value=0).astype("int64")
    first, last = first.reindex(users), last.reindex(users)
    retention = (last > first).astype("float64").where(first < last_day)
    gap = (last - first) / (active - 1).where(active > 1)
    return pd.DataFrame(
        {"active_days": active, "retention": retention, "return_gap": gap.astype("float64")},
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
