"""Reading event-log directories into the events table, with their real-world mess."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from botify.analysis.diagnostics import load_track_artists
from botify.logs.reader import SQL_TYPES, EventDatabase, log_files, open_log
from botify.logs.schema import COLUMNS
from tests.helpers.pandas_reference import read_frames


def test_reads_every_rotated_nested_segment_and_skips_the_torn_line(effect_logs) -> None:
    log_dir, _, log = effect_logs
    with open_log(log_dir) as loaded:
        assert loaded.read_stats.files == len(list(Path(log_dir).rglob("events-*.jsonl"))) > 3
        assert loaded.read_stats.skipped_lines == 1
        assert loaded.events == len(log.events)
        assert loaded.invalid_events == 0
        assert loaded.row("SELECT count(*) FROM events WHERE recommendation IS NULL")[0] == sum(
            e["message"] == "last" for e in log.events
        )
        assert set(loaded.experiment_columns) == {"EXP"}


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
    with open_log(tmp_path) as loaded:
        assert loaded.events == 1
        assert loaded.invalid_events == 3
        assert loaded.read_stats.skipped_lines == 1
        column = loaded.experiment_columns["AB"]
        assert loaded.query(f"SELECT {column} FROM events")[column].tolist() == ["C"]


def test_track_artists_come_from_the_catalog(effect_logs) -> None:
    _, tracks, _ = effect_logs
    artists = load_track_artists(tracks)
    assert artists[0] == "Artist 0" and artists[81] == "Artist 1"
    assert len(artists) == 400


def _values(column: pd.Series) -> list:
    """A column's values as Python values with their types (None where missing)."""
    values = [value.item() if isinstance(value, np.generic) else value for value in column]
    return [None if pd.isna(value) else (type(value).__name__, value) for value in values]


def _rows(columns: dict[str, list]) -> list[tuple]:
    """The rows of ``columns`` (name → ``_values``), sorted: the table has no file order."""
    return sorted(zip(*columns.values(), strict=True), key=repr)


def _table(log: EventDatabase) -> dict[str, list]:
    """The ``events`` table: each schema column's and each experiment's treatment column's
    values (``_values``)."""
    events = log.query("SELECT * FROM events")
    return {name: _values(events[name]) for name in COLUMNS} | {
        name: _values(events[column]) for name, column in log.experiment_columns.items()
    }


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
    reference = read_frames(tmp_path)
    # The test covers both kinds (and two blank lines, which are no lines: not counted).
    assert reference.invalid_events == 10 and reference.read_stats.skipped_lines == 7
    expected = {name: _values(reference.events[name]) for name in COLUMNS} | {
        name: _values(reference.experiments[name]) for name in reference.experiments.columns
    }
    with open_log(tmp_path) as loaded:
        assert (loaded.read_stats, loaded.invalid_events) == (
            reference.read_stats,
            reference.invalid_events,
        )
        table = _table(loaded)
        assert list(table) == list(expected) and _rows(table) == _rows(expected)
        assert list(loaded.experiment_columns) == sorted(loaded.experiment_columns)
        types = loaded.query("DESCRIBE events").set_index("column_name")["column_type"]
        assert types.to_dict() == {
            name: SQL_TYPES[kind] for name, kind in COLUMNS.items()
        } | dict.fromkeys(loaded.experiment_columns.values(), "VARCHAR")


def test_a_log_without_events_gives_an_empty_table(tmp_path: Path) -> None:
    (tmp_path / "events-h-1-0-00000.jsonl").write_text('{"torn": ')
    with open_log(tmp_path) as loaded:
        assert loaded.events == 0 and not loaded.experiment_columns
        assert loaded.query("SELECT * FROM events").empty
        assert loaded.read_stats.skipped_lines == 1
