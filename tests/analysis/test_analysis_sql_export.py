"""The analysis's SQL, written out (``botify report --sql``), runs on another engine."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from botify.analysis.diagnostics import load_track_artists
from botify.analysis.metrics import EXPERIMENT_EVENTS
from botify.analysis.pipeline import analyze_experiment
from botify.logs.reader import open_log


@pytest.fixture(scope="module")
def exported(effect_logs, tmp_path_factory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """The script of an analysis with a catalog, and two of its tables as it left them."""
    log_dir, tracks, _ = effect_logs
    with open_log(log_dir) as log:
        analyze_experiment(log, "EXP", "C", load_track_artists(tracks))
        script = log.export_sql(tmp_path_factory.mktemp("sql"))
        sessionized = log.query(f"SELECT * FROM {EXPERIMENT_EVENTS} ORDER BY ALL")
        treatments = log.query("SELECT * FROM user_treatment ORDER BY ALL")
    return script, sessionized, treatments


def _statements(script: Path) -> list[str]:
    return [statement for statement in script.read_text().split(";\n\n") if statement.strip()]


def test_the_script_replays_on_a_fresh_database(exported, monkeypatch) -> None:
    script, sessionized, treatments = exported
    monkeypatch.chdir(script.parent)  # the registered frames are CSV files beside it
    with duckdb.connect() as con:
        for statement in _statements(script):
            con.execute(statement)
        replayed = con.execute(f"SELECT * FROM {EXPERIMENT_EVENTS} ORDER BY ALL").df()
        labels = con.execute("SELECT * FROM user_treatment ORDER BY ALL").df()
    pd.testing.assert_frame_equal(replayed, sessionized)
    pd.testing.assert_frame_equal(labels, treatments, check_dtype=False)


@pytest.mark.parametrize("dialect", ["spark", "trino", "bigquery"])
def test_every_statement_transpiles_to_a_distributed_engine(exported, dialect: str) -> None:
    for statement in _statements(exported[0]):
        sqlglot.transpile(
            statement, read="duckdb", write=dialect, unsupported_level=ErrorLevel.RAISE
        )
