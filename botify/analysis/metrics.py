"""Per-user metrics of the A/B analysis (SPEC §7), from sessionized events.

Per-user metrics are over closed sessions (``botify.logs.sessions``), except
``mean_request_latency``, which is over all of the user's requests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def user_metrics(sessionized: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Per-user metrics (index: user; columns: ``METRICS``).

    A user whose sessions are all open has ``time`` 0, ``sessions`` 0 and undefined
    per-session means (NaN), so that user still counts for the sample ratio.
    """
    closed = sessions[sessions["closed"]].groupby("user")
    users = pd.Index(np.unique(sessionized["user"].to_numpy()), name="user")
    time = closed["time"].sum().reindex(users, fill_value=0.0)
    count = closed.size().reindex(users, fill_value=0)
    tracks = closed["tracks"].sum().reindex(users, fill_value=0)
    per_session = count.where(count > 0)
    return pd.DataFrame(
        {
            "time": time.astype("float64"),
            "sessions": count.astype("int64"),
            "mean_time_per_session": time / per_session,
            "mean_tracks_per_session": tracks / per_session,
            "mean_request_latency": sessionized.groupby("user")["latency"].mean().reindex(users),
        },
        index=users,
    )
