"""Sessions from events (SPEC §7), shared by training and the A/B analysis.

Per user, events are ordered by ``(timestamp, epoch, request)`` (timestamps can tie at
millisecond resolution; the user's request counter breaks the tie, and since a Redis that
lost its data restarts the counter, its epoch comes first) and a ``last`` event closes a
session.
A session of L listened recommended tracks is L+1 events::

    next(first, 1.0), next(r1, t1), ..., next(r_{L-1}, t_{L-1}), last(r_L, t_L)

where ``r_i`` is the recommendation answered to the previous event. The first event carries
the user's own first track with time 1.0, which is not the outcome of a recommendation, so:

- session time = sum of ``time`` over the session's events except the first
  (the listen times of the recommended tracks);
- tracks per session = L = number of events - 1.

A session without a ``last`` (the user was still listening when the logs were cut) is open:
the analysis excludes it from its metrics and counts it (``botify.analysis.metrics``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def sessionize(events: pd.DataFrame) -> pd.DataFrame:
    """Order events per user and label their sessions.

    Returns the events sorted by ``(user, timestamp, epoch, request)`` (logs from before
    the epoch have none: the request alone breaks ties) with three more columns:
    ``session_id`` (unique over the frame), ``position`` (0 for the session's first event)
    and ``closed`` (the session ends with a ``last``).
    """
    order = ["user", "timestamp", *(["epoch"] if "epoch" in events else []), "request"]
    ordered = events.sort_values(order, kind="stable").reset_index(drop=True)
    user = ordered["user"].to_numpy()
    is_last = ordered["message"].to_numpy() == "last"
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = (user[1:] != user[:-1]) | is_last[:-1]
    session_id = np.cumsum(starts) - 1
    first_row = np.flatnonzero(starts)
    ordered["session_id"] = session_id
    ordered["position"] = np.arange(len(ordered)) - first_row[session_id]
    ends = np.append(first_row[1:], len(ordered)) - 1 if len(ordered) else first_row
    ordered["closed"] = is_last[ends][session_id]
    return ordered


def session_table(sessionized: pd.DataFrame) -> pd.DataFrame:
    """One row per session: ``user``, ``closed``, ``time`` and ``tracks`` (see module doc)."""
    recommended = sessionized["position"] > 0
    grouped = sessionized.assign(
        listened_time=sessionized["time"].where(recommended, 0.0),
        listened=recommended.astype("int64"),
    ).groupby("session_id", sort=True)
    return pd.DataFrame(
        {
            "user": grouped["user"].first(),
            "closed": grouped["closed"].first(),
            "time": grouped["listened_time"].sum(),
            "tracks": grouped["listened"].sum(),
        }
    )
