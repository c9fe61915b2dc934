"""The analysis on Spark (``botify report --engine spark``) gives DuckDB's report: every figure
of the report and of the analysis's tables to 1e-9, on the synthetic and the adversarial logs
of the equality tests (``test_analysis_sql_equals_pandas``).

Nothing needed stating or bounding as a dialect difference: Spark's ``percentile`` is exact
and interpolates as DuckDB's ``quantile_cont``, the exact sums are DECIMAL(38, 18) on both,
and the sessionized tables are computed once on both, so a window's ties fall one way.

One Spark session (local[2], UI off, 2 shuffle partitions, a small driver) serves the whole
test run. Without pyspark or Java the tests skip on a developer's machine and fail in CI
(``CI=true``), which installs both (``.ci/run``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from botify.analysis.diagnostics import load_track_artists
from botify.analysis.pipeline import analyze_experiment
from botify.analysis.report import report_command
from botify.logs.reader import open_log
from botify.logs.spark import open_spark_log, spark_missing, spark_session

# The equality tests' logs: their fixtures, used here as they are (hence F811 below).
from tests.analysis.test_analysis_sql_equals_pandas import (  # noqa: F401
    NUMBER_LOGS,
    adversarial_logs,
    assert_same_analysis,
    tied_logs,
)
from tests.helpers.worlds import write_events
from tests.logs.test_hostile_log_files import HOSTILE, ab_events


@pytest.fixture(scope="session")
def spark():
    """The test run's one Spark session."""
    missing = spark_missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Spark tests: {missing}")
        pytest.skip(missing)
    session = spark_session(
        "local[2]",
        app_name="botify-tests",
        **{"spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g"},
    )
    yield session
    session.stop()


def _same_on_spark(spark, log_dir: Path, experiment: str, tracks: Path | None, control="C"):
    artists = load_track_artists(tracks) if tracks else None
    with open_log(log_dir) as log:
        duckdb = analyze_experiment(log, experiment, control, artists)
    with open_spark_log(log_dir, spark) as log:
        on_spark = analyze_experiment(log, experiment, control, artists)
    assert (duckdb.engine, on_spark.engine) == ("duckdb", "spark")
    assert_same_analysis(dataclasses.replace(on_spark, engine="duckdb"), duckdb)


def test_spark_reports_as_duckdb_on_synthetic_logs(spark, effect_logs, pre_period_logs) -> None:
    log_dir, tracks, _ = effect_logs
    _same_on_spark(spark, log_dir, "EXP", tracks)
    _same_on_spark(spark, pre_period_logs, "EXP", None)  # with CUPED


@pytest.mark.parametrize(
    ("experiment", "control", "catalog"), [("AB", "C", True), ("AB", "T1", False)]
)
def test_spark_reports_as_duckdb_on_adversarial_logs(
    spark,
    adversarial_logs,  # noqa: F811
    experiment: str,
    control: str,
    catalog: bool,
) -> None:
    log_dir, tracks = adversarial_logs
    _same_on_spark(spark, log_dir, experiment, tracks if catalog else None, control)


def test_spark_reports_as_duckdb_where_only_tie_breaks_order(spark, tied_logs) -> None:  # noqa: F811
    _same_on_spark(spark, tied_logs, "AB", None)


def test_spark_reads_numbers_sql_cannot_sum_as_duckdb(spark, tmp_path: Path) -> None:
    # NaN (Python's json writes it; Spark's parser refuses it) and numbers beyond a decimal.
    for case, lines in NUMBER_LOGS.items():
        log_dir = tmp_path / case.replace(" ", "-")
        log_dir.mkdir()
        (log_dir / "events-h-1-0-00000.jsonl").write_text("\n".join(lines) + "\n")
        _same_on_spark(spark, log_dir, "AB", None)


def test_the_report_says_spark_ran_it(spark, effect_logs, tmp_path: Path, capsys) -> None:
    log_dir, tracks, _ = effect_logs
    out = tmp_path / "report"
    code = report_command(log_dir, "EXP", "C", out, tracks, engine="spark", spark_master="local[2]")
    assert code == 0
    assert "Engine: Spark." in (out / "report.md").read_text()
    assert '"engine": "spark"' in (out / "report.json").read_text()


def test_without_java_the_spark_engine_is_one_line_and_exit_2(
    effect_logs, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    out = tmp_path / "report"
    code = report_command(effect_logs[0], "EXP", "C", out, None, engine="spark")
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --engine spark: ") and err.count("\n") == 1, err
    assert not out.exists()


def test_spark_skips_and_counts_the_hostile_log_files_as_duckdb(spark, tmp_path: Path) -> None:
    # A NUL tail, a line over MAX_LINE_BYTES, dangling and looping links, a directory, a FIFO.
    log_dir = tmp_path / "logs"
    write_events(log_dir, ab_events())
    for write in HOSTILE:
        write(log_dir)

    with open_log(log_dir) as log:
        expected = (log.events, len(log.read_stats.skipped_files), log.read_stats.skipped_lines)
    with open_spark_log(log_dir, spark) as log:
        got = (log.events, len(log.read_stats.skipped_files), log.read_stats.skipped_lines)
    assert got == expected == (len(ab_events()) + 3, 4, 2)
    _same_on_spark(spark, log_dir, "AB", None)
