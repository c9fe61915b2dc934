"""Repeat, same-artist and skip rates, coverage and served_by shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.analysis.diagnostics import served_by_shares, treatment_diagnostics
from botify.logs.reader import EventDatabase
from botify.logs.sessions import session_table, sessionize

ARTISTS = pd.Series({1: "a", 2: "a", 3: "b", 4: "c", 5: "b"}, name="artist")


def _session(user: int, start: int, tracks: list[int], times: list[float]) -> list[dict]:
    """One closed session: ``tracks[0]`` is the first track, the rest are recommendations."""
    rows = []
    for i, (track, time) in enumerate(zip(tracks, times, strict=True)):
        last = i == len(tracks) - 1
        rows.append(
            {
                "user": user,
                "timestamp": start + i,
                "request": start + i,
                "message": "last" if last else "next",
                "track": track,
                "time": time,
                "latency": 0.001,
                "recommendation": None if last else tracks[i + 1],
                "served_by": "random_fallback" if i == 0 else "anchor",
                "candidates": 0 if i == 0 else 10,
                "recommender": "anchor",
            }
        )
    return rows


# User 1 (C): 1 → 2 (same artist a) → 1 (repeat, same artist) → 3 (artist b); skips at < 0.5.
# User 2 (T1): 3 → 4 → 5 (artist b again, not the previous artist).
EVENTS = _session(1, 0, [1, 2, 1, 3], [1.0, 0.8, 0.0, 0.4]) + _session(
    2, 0, [3, 4, 5], [1.0, 0.6, 0.7]
)
TREATMENTS = pd.Series({1: "C", 2: "T1"}, name="treatment")


@pytest.fixture
def log(events_log) -> EventDatabase:
    """The events, sessionized into table ``s``."""
    log = events_log(EVENTS)
    sessionize(log, "s")
    return log


def _diagnostics(log: EventDatabase, artists: pd.Series | None, names: list[str]) -> pd.DataFrame:
    return treatment_diagnostics(log, "s", session_table(log, "s"), TREATMENTS, names, artists, 0.5)


def test_listened_recommendation_flags(log) -> None:
    # Listened recommended tracks: C 2, 1, 3 (repeat: -, yes, -; same artist as the track
    # before: yes, yes, -; artist already played: yes, yes, -; skip: -, yes, yes); T1 4, 5
    # (artist already played: -, yes).
    table = _diagnostics(log, ARTISTS, ["C", "T1"])
    assert table["recommendations"].tolist() == [3, 2]
    assert table["repeat_rate"].tolist() == pytest.approx([1 / 3, 0.0])
    assert table["same_artist_rate"].tolist() == pytest.approx([2 / 3, 0.0])
    assert table["artist_repeat_rate"].tolist() == pytest.approx([2 / 3, 1 / 2])
    assert table["skip_rate"].tolist() == pytest.approx([2 / 3, 0.0])


def test_artist_flags_need_a_catalog(log) -> None:
    table = _diagnostics(log, None, ["C", "T1"])
    assert table["same_artist_rate"].isna().all() and table["artist_repeat_rate"].isna().all()
    assert table["repeat_rate"].notna().all()


def test_diagnostics_per_treatment(log) -> None:
    sessions = session_table(log, "s")
    table = treatment_diagnostics(log, "s", sessions, TREATMENTS, ["C", "T1", "T2"], ARTISTS, 0.5)
    assert table.loc["C", "repeat_rate"] == pytest.approx(1 / 3)
    assert table.loc["C", "same_artist_rate"] == pytest.approx(2 / 3)
    assert table.loc["C", "skip_rate"] == pytest.approx(2 / 3)  # 0.0 and 0.4 < 0.5
    assert table.loc["T1", "skip_rate"] == 0.0
    assert table.loc["C", "repeat_listen_time"] == 0.0
    assert table.loc["C", "fresh_listen_time"] == pytest.approx(0.6)
    assert table.loc["T1", "artist_repeat_rate"] == pytest.approx(1 / 2)
    assert table.loc["C", "coverage"] == pytest.approx(3 / 5)  # recommended 2, 1, 3
    assert table.loc["C", "recommender"] == "anchor"
    assert table.loc["T2", "users"] == 0 and np.isnan(table.loc["T2", "repeat_rate"])


def test_coverage_without_catalog_uses_tracks_seen(log) -> None:
    sessions = session_table(log, "s")
    table = treatment_diagnostics(log, "s", sessions, TREATMENTS, ["C", "T1"], None)
    assert table.loc["T1", "coverage"] == pytest.approx(2 / 5)


def test_served_by_shares(log) -> None:
    shares = served_by_shares(log, "s", TREATMENTS, ["C", "T1"])
    assert shares.loc["C", "random_fallback"] == pytest.approx(1 / 3)
    assert shares.loc["T1", "anchor"] == pytest.approx(1 / 2)


def test_an_arm_whose_events_name_no_recommender_has_none(events_log) -> None:
    # The pandas pipeline (commit 05b8c45) named one of the log's recommenders here: it
    # counted a categorical's unobserved values.
    log = events_log([{**e, "recommender": None} if e["user"] == 2 else e for e in EVENTS])
    sessionize(log, "s")
    table = treatment_diagnostics(log, "s", session_table(log, "s"), TREATMENTS, ["C", "T1"], None)
    assert table.loc["C", "recommender"] == "anchor"
    assert pd.isna(table.loc["T1", "recommender"])
