"""Sessionizing (docs/events.md) and per-user metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.analysis.metrics import request_latency, user_metrics
from botify.logs.reader import EventDatabase, open_log
from botify.logs.sessions import session_table, sessionize
from tests.helpers.synthetic_ab_logs import SyntheticLog

COLUMNS = ["user", "timestamp", "request", "message", "track", "time", "latency"]


def _events(rows: list[tuple]) -> list[dict]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


# User 1: a closed session (first track 10, then 11 at 0.5, then last 12 at 0.25) and an open
# one. User 2: one closed session whose two events tie on the timestamp. Rows are shuffled.
EVENTS = _events(
    [
        (1, 2000, 3, "last", 12, 0.25, 0.003),
        (2, 500, 2, "last", 21, 0.75, 0.001),
        (1, 1000, 1, "next", 10, 1.0, 0.001),
        (1, 3000, 4, "next", 13, 1.0, 0.001),
        (2, 500, 1, "next", 20, 1.0, 0.001),
        (1, 1500, 2, "next", 11, 0.5, 0.002),
        (1, 3500, 5, "next", 14, 0.9, 0.001),
    ]
)


def _sessionized(
    log: EventDatabase, where: str = "TRUE", params: list | None = None
) -> pd.DataFrame:
    """The events of ``log`` sessionized into table ``s``, in session order."""
    sessionize(log, "s", where, params)
    return log.query('SELECT * FROM s ORDER BY "user", session, position')


def test_counters_restarted_by_a_redis_that_lost_its_data_do_not_reorder_sessions(
    events_log,
) -> None:
    # User 3's counter restarted at 1 (a later epoch) in the millisecond its session ended.
    before, after = 1_700_000_000_000, 1_700_000_000_900
    events = _events(
        [
            (3, 1000, 7, "next", 30, 1.0, 0.001),
            (3, 1001, 8, "last", 31, 0.5, 0.001),
            (3, 1001, 1, "next", 32, 1.0, 0.001),
            (3, 1002, 2, "last", 33, 0.75, 0.001),
        ]
    )
    epochs = [before, before, after, after]
    log = events_log([{**e, "epoch": epoch} for e, epoch in zip(events, epochs, strict=True)])

    ordered = _sessionized(log)

    assert ordered["track"].tolist() == [30, 31, 32, 33]
    assert session_table(log, "s")["time"].tolist() == [0.5, 0.75]


def test_sessionize_orders_events_and_labels_sessions(events_log) -> None:
    ordered = _sessionized(events_log(EVENTS))
    assert ordered["track"].tolist() == [10, 11, 12, 13, 14, 20, 21]
    assert ordered["position"].tolist() == [0, 1, 2, 0, 1, 0, 1]
    assert ordered["session"].tolist() == [0, 0, 0, 1, 1, 0, 0]
    assert ordered["closed"].tolist() == [True, True, True, False, False, True, True]
    assert len(ordered.drop_duplicates(["user", "session"])) == 3


def test_session_time_excludes_the_first_track(events_log) -> None:
    log = events_log(EVENTS)
    sessionize(log, "s")
    sessions = session_table(log, "s")
    assert sessions["time"].tolist() == [0.75, 0.9, 0.75]
    assert sessions["tracks"].tolist() == [2, 1, 1]
    assert sessions["closed"].tolist() == [True, False, True]
    assert sessions["start"].tolist() == [1000, 3000, 500]
    assert sessions.index.tolist() == [0, 1, 2]


def test_user_metrics_count_closed_sessions_only(events_log) -> None:
    log = events_log(EVENTS)
    sessionize(log, "s")
    metrics = user_metrics(session_table(log, "s"), request_latency(log, "s"))
    assert metrics.loc[1, "time"] == 0.75
    assert metrics.loc[1, "sessions"] == 1
    assert metrics.loc[1, "mean_tracks_per_session"] == 2
    assert metrics.loc[1, "mean_request_latency"] == pytest.approx(0.008 / 5)
    assert metrics.loc[2, "mean_time_per_session"] == 0.75


def test_user_with_only_an_open_session_has_no_per_session_means(events_log) -> None:
    log = events_log(EVENTS)
    sessionize(log, "s", "timestamp >= ?", [3000])
    metrics = user_metrics(session_table(log, "s"), request_latency(log, "s"))
    assert metrics.index.tolist() == [1]
    assert metrics.loc[1, "sessions"] == 0 and metrics.loc[1, "time"] == 0
    assert np.isnan(metrics.loc[1, "mean_time_per_session"])


def test_sessions_of_written_logs_match_the_generator(effect_logs) -> None:
    log_dir, _, log = effect_logs
    with open_log(log_dir) as loaded:
        sessionize(loaded, "s")
        sessions = session_table(loaded, "s")
    truth = _truth(log)
    assert len(sessions) == len(truth)
    # Matched on time to 1e-9: session time is an exact sum (fsum), the generator's a running
    # one, so equal times may differ in their last bit and sort the other way round.
    ours, theirs = (
        frame.assign(key=frame["time"].round(9))
        .sort_values(["user", "key", "tracks"])
        .reset_index(drop=True)
        for frame in (sessions, truth)
    )
    np.testing.assert_allclose(ours["time"], theirs["time"])
    assert ours["tracks"].tolist() == theirs["tracks"].tolist()
    assert ours["closed"].tolist() == theirs["closed"].tolist()


def _truth(log: SyntheticLog) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": [s.user for s in log.sessions],
            "time": [s.time for s in log.sessions],
            "tracks": [s.tracks for s in log.sessions],
            "closed": [s.closed for s in log.sessions],
        }
    )


def test_sessionize_of_no_events_is_empty(events_log) -> None:
    log = events_log(EVENTS)
    assert sessionize(log, "s", "FALSE") == 0

    sessionized = log.query("SELECT * FROM s")
    assert len(sessionized) == 0
    assert {"session", "position", "closed"} <= set(sessionized.columns)
    assert session_table(log, "s").empty
