"""Sessionizing (SPEC §7) and per-user metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic_ab_logs import SyntheticLog

from botify.analysis.metrics import user_metrics
from botify.logs.reader import load_events
from botify.logs.sessions import session_table, sessionize


def _events(rows: list[tuple]) -> pd.DataFrame:
    columns = ["user", "timestamp", "request", "message", "track", "time", "latency"]
    return pd.DataFrame(rows, columns=columns)


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


def test_counters_restarted_by_a_redis_that_lost_its_data_do_not_reorder_sessions() -> None:
    # User 3's counter restarted at 1 (a later epoch) in the millisecond its session ended.
    before, after = 1_700_000_000_000, 1_700_000_000_900
    events = _events(
        [
            (3, 1000, 7, "next", 30, 1.0, 0.001),
            (3, 1001, 8, "last", 31, 0.5, 0.001),
            (3, 1001, 1, "next", 32, 1.0, 0.001),
            (3, 1002, 2, "last", 33, 0.75, 0.001),
        ]
    ).assign(epoch=[before, before, after, after])

    ordered = sessionize(events)

    assert ordered["track"].tolist() == [30, 31, 32, 33]
    assert session_table(ordered)["time"].tolist() == [0.5, 0.75]


def test_sessionize_orders_events_and_labels_sessions() -> None:
    ordered = sessionize(EVENTS)
    assert ordered["track"].tolist() == [10, 11, 12, 13, 14, 20, 21]
    assert ordered["position"].tolist() == [0, 1, 2, 0, 1, 0, 1]
    assert ordered["closed"].tolist() == [True, True, True, False, False, True, True]
    assert ordered["session_id"].nunique() == 3


def test_session_time_excludes_the_first_track() -> None:
    sessions = session_table(sessionize(EVENTS))
    assert sessions["time"].tolist() == [0.75, 0.9, 0.75]
    assert sessions["tracks"].tolist() == [2, 1, 1]
    assert sessions["closed"].tolist() == [True, False, True]


def test_user_metrics_count_closed_sessions_only() -> None:
    ordered = sessionize(EVENTS)
    metrics = user_metrics(ordered, session_table(ordered))
    assert metrics.loc[1, "time"] == 0.75
    assert metrics.loc[1, "sessions"] == 1
    assert metrics.loc[1, "mean_tracks_per_session"] == 2
    assert metrics.loc[1, "mean_request_latency"] == pytest.approx(0.008 / 5)
    assert metrics.loc[2, "mean_time_per_session"] == 0.75


def test_user_with_only_an_open_session_has_no_per_session_means() -> None:
    ordered = sessionize(EVENTS[EVENTS["timestamp"] >= 3000])
    metrics = user_metrics(ordered, session_table(ordered))
    assert metrics.loc[1, "sessions"] == 0 and metrics.loc[1, "time"] == 0
    assert np.isnan(metrics.loc[1, "mean_time_per_session"])


def test_sessions_of_written_logs_match_the_generator(effect_logs) -> None:
    log_dir, _, log = effect_logs
    sessions = session_table(sessionize(load_events(log_dir).events))
    truth = _truth(log)
    assert len(sessions) == len(truth)
    ours = sessions.sort_values(["user", "time", "tracks"]).reset_index(drop=True)
    theirs = truth.sort_values(["user", "time", "tracks"]).reset_index(drop=True)
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


def test_sessionize_of_no_events_is_empty() -> None:
    sessionized = sessionize(EVENTS.iloc[:0])

    assert len(sessionized) == 0
    assert {"session_id", "position", "closed"} <= set(sessionized.columns)
