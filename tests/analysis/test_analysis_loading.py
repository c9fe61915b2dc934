"""Reading event-log directories into frames, with their real-world mess."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from botify.analysis.diagnostics import load_track_artists
from botify.logs.reader import ReadStats, load_events, log_files, read_events
from botify.logs.schema import COLUMNS


def test_reads_every_rotated_nested_segment_and_skips_the_torn_line(effect_logs) -> None:
    log_dir, _, log = effect_logs
    loaded = load_events(log_dir)
    assert loaded.read_stats.files == len(list(Path(log_dir).rglob("events-*.jsonl"))) > 3
    assert loaded.read_stats.skipped_lines == 1
    assert len(loaded.events) == len(log.events)
    assert loaded.invalid_events == 0
    assert loaded.events["recommendation"].isna().sum() == sum(
        e["message"] == "last" for e in log.events
    )
    assert set(loaded.experiments.columns) == {"EXP"}


def test_events_missing_required_fields_are_dropped_and_counted(tmp_path: Path) -> None:
    good = {
        "message": "next",
        "timestamp": 1,
        "user": 1,
        "track": 2,
        "time": 1.0,
        "latency": 0.001,
        "recommendation": 3,
        "experiments": {"AB": "C"},
    }
    lines = [
        good,
        {**good, "user": None},
        {k: v for k, v in good.items() if k != "time"},
        {**good, "message": "bogus"},
        [1, 2],
    ]
    (tmp_path / "events-h-1-0-00000.jsonl").write_text(
        "\n".join(json.dumps(line) for line in lines) + "\n"
    )
    loaded = load_events(tmp_path)
    assert len(loaded.events) == 1
    assert loaded.invalid_events == 3
    assert loaded.read_stats.skipped_lines == 1
    assert loaded.experiments["AB"].tolist() == ["C"]


def test_track_artists_come_from_the_catalog(effect_logs) -> None:
    _, tracks, _ = effect_logs
    artists = load_track_artists(tracks)
    assert artists[0] == "Artist 0" and artists[81] == "Artist 1"
    assert len(artists) == 400


def _is_int64(value) -> bool:
    return type(value) is int and -(2**63) <= value < 2**63


def _is_number(value) -> bool:
    return type(value) in (int, float)


def _reference(log_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, ReadStats, int]:
    """What load_events must return, event by event with ``json`` (the reader before DuckDB,
    with the documented rules for what is an event and what a valid one)."""
    stats = ReadStats()
    kept, invalid = [], 0
    for event in read_events(log_dir, stats):
        if not set(event) & {*COLUMNS, "experiments"} or all(
            event.get(name) is None for name in (*COLUMNS, "experiments")
        ):
            stats.events -= 1  # no field of an event: not an event line
            stats.skipped_lines += 1
            continue
        valid = (
            event.get("message") in ("next", "last")
            and all(_is_int64(event.get(name)) for name in ("timestamp", "user", "track"))
            and _is_number(event.get("time"))
            and 0 <= event["time"] <= 1
            and (event.get("request") is None or _is_int64(event["request"]))
        )
        if not valid:
            invalid += 1
            continue
        kept.append(event)

    def number(value):
        if _is_number(value):
            return float(value)
        try:  # a numeric string is a number too
            return float(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def text(value):
        if value is None or isinstance(value, str):
            return value
        return (
            json.dumps(value, separators=(",", ":"))
            if isinstance(value, dict | list)
            else (json.dumps(value))
        )

    events = pd.DataFrame(
        {
            "message": [e["message"] for e in kept],
            "timestamp": [e["timestamp"] for e in kept],
            "user": [e["user"] for e in kept],
            "track": [e["track"] for e in kept],
            "time": [float(e["time"]) for e in kept],
            "latency": [number(e.get("latency")) for e in kept],
            "recommendation": [
                e.get("recommendation") if _is_int64(e.get("recommendation")) else None
                for e in kept
            ],
            "recommender": [text(e.get("recommender")) for e in kept],
            "served_by": [text(e.get("served_by")) for e in kept],
            "experiment": [text(e.get("experiment")) for e in kept],
            "request": [number(e.get("request")) for e in kept],
            "candidates": [number(e.get("candidates")) for e in kept],
            "epoch": [number(e.get("epoch")) for e in kept],
        }
    )
    events = events.astype(
        {
            "timestamp": "int64",
            "user": "int64",
            "track": "int64",
            "latency": "float64",
            "recommendation": "Int64",
            "request": "float64",
            "candidates": "float64",
            "epoch": "float64",
        }
    ).astype({name: "category" for name in ("message", "recommender", "served_by", "experiment")})
    treatments = [
        {k: text(v) for k, v in e["experiments"].items()}
        if isinstance(e.get("experiments"), dict)
        else {}
        for e in kept
    ]
    experiments = pd.DataFrame.from_records(treatments, index=events.index)
    experiments = experiments[sorted(experiments.columns)].astype("category")
    return events, experiments, stats, invalid


def test_the_reader_gives_what_reading_line_by_line_gives_on_messy_logs(
    effect_logs, tmp_path: Path
) -> None:
    log_dir, _, _ = effect_logs
    good = {
        "message": "next",
        "timestamp": 5,
        "user": 7,
        "track": 2,
        "time": 0.5,
        "latency": 0.001,
        "recommendation": 3,
        "recommender": "anchor",
        "served_by": "anchor",
        "experiment": "AB",
        "experiments": {"AB": "C", 'x."y': "T1"},
        "request": 4,
    }
    messy = [
        good,
        {**good, "message": "last", "recommendation": None, "request": None},
        {**good, "user": 2**63},  # beyond int64
        {**good, "user": 2**64 - 1},
        {**good, "user": -3},
        {**good, "track": 2.0},  # a float is not a track id
        {**good, "track": True},
        {**good, "user": "7"},
        {**good, "time": True},
        {**good, "time": 1},
        {**good, "time": 1.0000001},
        {**good, "request": 1.5},
        {**good, "request": False},
        {**good, "recommendation": 3.5},  # kept, without a recommendation
        {**good, "latency": "0.25"},
        {**good, "latency": "fast", "candidates": [1]},
        {**good, "recommender": 5, "served_by": None, "experiments": {"AB": 1}},
        {**good, "experiments": ["AB"]},
        {"unrelated": 1},
        {"message": None, "user": None},
        {**good, "message": "Next"},
    ]
    lines = [json.dumps(e) for e in messy] + ["", "  ", "[1, 2]", "7", "null", '{"a": 1} {"b"}']
    nested = tmp_path / "nested" / "deeper"
    nested.mkdir(parents=True)
    (nested / "events-h-1-0-00000.jsonl").write_text("\n".join(lines) + "\n" + '{"torn": ')
    (tmp_path / "events-h-2-0-00000.jsonl").write_text((Path(log_files(log_dir)[0])).read_text())
    events, experiments, stats, invalid = _reference(tmp_path)
    loaded = load_events(tmp_path)
    assert invalid == 10 and stats.skipped_lines >= 9  # the test covers both kinds
    assert (loaded.read_stats, loaded.invalid_events) == (stats, invalid)
    pd.testing.assert_frame_equal(loaded.events, events)
    pd.testing.assert_frame_equal(loaded.experiments, experiments)


def test_a_log_without_events_gives_empty_frames(tmp_path: Path) -> None:
    (tmp_path / "events-h-1-0-00000.jsonl").write_text('{"torn": ')
    loaded = load_events(tmp_path)
    assert loaded.events.empty and loaded.experiments.empty
    assert loaded.read_stats.skipped_lines == 1
