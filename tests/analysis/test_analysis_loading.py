"""Reading event-log directories into frames, with their real-world mess."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from botify.analysis.diagnostics import load_track_artists
from botify.logs.reader import load_events


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


def test_chunked_conversion_gives_the_same_frames(effect_logs) -> None:
    log_dir, _, _ = effect_logs
    whole, chunked = load_events(log_dir), load_events(log_dir, chunk_size=997)
    pd.testing.assert_frame_equal(whole.events, chunked.events)
    pd.testing.assert_frame_equal(whole.experiments, chunked.experiments)


def test_a_log_without_events_gives_empty_frames(tmp_path: Path) -> None:
    (tmp_path / "events-h-1-0-00000.jsonl").write_text('{"torn": ')
    loaded = load_events(tmp_path)
    assert loaded.events.empty and loaded.experiments.empty
    assert loaded.read_stats.skipped_lines == 1
