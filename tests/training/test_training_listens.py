"""Listens read from event logs: order, sessions, invalid events."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from botify.training.command import read_listens
from tests.helpers.worlds import write_jsonl


def event(message: str, user: int, track: int, time: float, timestamp: int, request: int) -> dict:
    return {
        "message": message,
        "user": user,
        "track": track,
        "time": time,
        "timestamp": timestamp,
        "request": request,
    }


def listens_of(tmp_path: Path, events: list[dict]):
    write_jsonl(tmp_path / "logs" / "events-h-1-0-00000.jsonl", events)
    listens, _, invalid = read_listens(tmp_path / "logs")
    return listens, invalid


def test_orders_by_timestamp_then_request_and_last_closes_session(tmp_path: Path) -> None:
    events = [
        event("next", 1, 12, 0.9, 100, 2),
        event("next", 1, 11, 1.0, 100, 1),
        event("last", 1, 13, 0.1, 200, 3),
        event("next", 1, 20, 1.0, 300, 4),
        event("next", 2, 30, 1.0, 50, 1),
    ]
    listens, invalid = listens_of(tmp_path, events)
    assert invalid == 0
    assert listens.track.tolist() == [11, 12, 13, 20, 30]
    assert listens.session.tolist() == [0, 0, 0, 1, 2]
    assert listens.n_sessions == 3
    assert listens.session_starts().tolist() == [100, 300, 50]


def test_invalid_events_are_counted_and_left_out(tmp_path: Path) -> None:
    good = event("next", 1, 11, 1.0, 100, 1)
    events = [
        good,
        {**good, "message": "skip"},
        {**good, "time": 1.5},
        {**good, "time": "0.5"},
        {**good, "time": float("nan")},
        {**good, "track": "11"},
        {key: value for key, value in good.items() if key != "user"},
        {**good, "user": True},
        {**good, "timestamp": 2**63},
        {**good, "request": 1.5},
    ]
    listens, invalid = listens_of(tmp_path, events)
    assert invalid == 9
    assert listens.track.tolist() == [11]


def test_select_sessions_keeps_whole_sessions(tmp_path: Path) -> None:
    events = [
        event("next", 1, 11, 1.0, 100, 1),
        event("last", 1, 12, 0.5, 200, 2),
        event("next", 2, 21, 1.0, 150, 1),
    ]
    listens, _ = listens_of(tmp_path, events)
    kept = listens.select_sessions(np.array([False, True]))
    assert kept.track.tolist() == [21]
