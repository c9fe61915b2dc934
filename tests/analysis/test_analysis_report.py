"""``botify report`` end to end on written synthetic logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botify.analysis.diagnostics import load_track_artists
from botify.analysis.pipeline import analyze_experiment
from botify.analysis.report import report_command
from botify.cli import main
from botify.logs.reader import open_log
from tests.helpers.synthetic_ab_logs import SyntheticExperiment, generate, write_logs


def _row(comparison, treatment: str, metric: str):
    rows = comparison[(comparison["treatment"] == treatment) & (comparison["metric"] == metric)]
    return rows.iloc[0]


def test_injected_effects_are_detected_and_explained(effect_logs) -> None:
    log_dir, tracks, _ = effect_logs
    with open_log(log_dir) as log:
        analysis = analyze_experiment(log, "EXP", "C", load_track_artists(tracks))
    lifted = _row(analysis.comparison, "T1", "time")
    assert lifted["significant"] and lifted["lower"] > 0
    assert not _row(analysis.comparison, "T1", "mean_request_latency")["significant"]
    diagnostics = analysis.diagnostics
    assert (
        diagnostics.loc["T2", "same_artist_rate"] > 0.4 > diagnostics.loc["C", "same_artist_rate"]
    )
    assert analysis.sample_ratio.verdict == "ok"
    assert analysis.open_sessions == 10 and analysis.skipped_lines == 1


def test_aa_logs_show_no_significant_effect(aa_logs) -> None:
    log_dir, tracks, _ = aa_logs
    with open_log(log_dir) as log:
        analysis = analyze_experiment(log, "EXP", "C", load_track_artists(tracks))
    assert not analysis.comparison["significant"].any()
    # Retention and the return gap are undefined (NaN) on the logs' single day.
    defined = analysis.comparison.dropna(subset=["lower"])
    assert set(defined["metric"]) >= {"time", "active_days"}
    assert (defined["lower"] < 0).all() and (defined["upper"] > 0).all()


def test_cli_prints_and_writes_the_report(effect_logs, tmp_path: Path, capsys) -> None:
    log_dir, tracks, _ = effect_logs
    code = main(["report", "--logs", str(log_dir), "--out", str(tmp_path), "--tracks", str(tracks)])
    printed = capsys.readouterr().out
    assert code == 0
    written = (tmp_path / "report.md").read_text()
    assert written in printed
    header = "| treatment | metric | effect | upper | lower | control_mean | treatment_mean |"
    assert header in written
    assert "**Sample ratio:** OK" in written and "**Guardrail, p99 request latency:** OK" in written
    assert "| T1 improved | time | +" in written  # treatments named by recommender
    assert "10 open (no `last`)" in written and "1 unreadable lines skipped" in written
    png = (tmp_path / "effects.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_empty_treatment_is_reported_not_crashed(tmp_path: Path, monkeypatch, capsys) -> None:
    config = SyntheticExperiment(users=200, arms={"C": "a", "T1": "b", "T2": "c"}, seed=5)
    log = generate(config)
    empty = type(log)(
        events=[e for e in log.events if e["experiments"]["EXP"] != "T1"],
        sessions=log.sessions,
        treatments=log.treatments,
    )
    write_logs(empty, tmp_path / "logs")
    monkeypatch.delenv("BOTIFY_DATA_DIR", raising=False)
    assert report_command(tmp_path / "logs", None, "C", None, None) == 0
    printed = capsys.readouterr().out
    assert "| T1 | time | n/a | n/a | n/a |" in printed
    assert "**Sample ratio:** ALERT" in printed
    assert "Same-artist diagnostics skipped" in printed


def test_catalog_defaults_to_the_data_dir(effect_logs, monkeypatch, capsys) -> None:
    log_dir, tracks, _ = effect_logs
    monkeypatch.setenv("BOTIFY_DATA_DIR", str(tracks.parent))
    assert report_command(log_dir, "EXP", "C", None, None) == 0
    assert "Same-artist diagnostics skipped" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("experiment", "control", "message"),
    [("NOPE", "C", "does not occur"), ("EXP", "X", "has no users")],
)
def test_unknown_experiment_or_control_is_an_error(
    effect_logs, experiment: str, control: str, message: str, capsys
) -> None:
    log_dir, _, _ = effect_logs
    assert report_command(log_dir, experiment, control, None, None) == 2
    assert message in capsys.readouterr().err


def test_missing_or_empty_log_dir_is_an_error(tmp_path: Path, capsys) -> None:
    assert report_command(tmp_path / "absent", None, "C", None, None) == 2
    (tmp_path / "events-h-1-0-00000.jsonl").write_text(json.dumps({"torn": "line"})[:5])
    assert report_command(tmp_path, None, "C", None, None) == 2
    assert "no readable events" in capsys.readouterr().err


def test_report_counts_skips_at_the_services_good_time(effect_logs, monkeypatch, capsys) -> None:
    log_dir, tracks, _ = effect_logs

    def skip_rates(good_time: str) -> str:
        monkeypatch.setenv("BOTIFY_GOOD_TIME", good_time)
        assert main(["report", "--logs", str(log_dir), "--tracks", str(tracks)]) == 0
        return next(r for r in capsys.readouterr().out.splitlines() if r.startswith("| skip_rate"))

    def rates(row: str) -> list[float]:
        return [float(cell.strip(" %")) for cell in row.strip("|").split("|")[1:]]

    assert all(
        low < high
        for low, high in zip(rates(skip_rates("0.3")), rates(skip_rates("0.9")), strict=True)
    )


def test_report_names_a_broken_service_setting(effect_logs, monkeypatch, capsys) -> None:
    log_dir, _, _ = effect_logs
    monkeypatch.setenv("BOTIFY_GOOD_TIME", "half")

    assert main(["report", "--logs", str(log_dir)]) == 2
    assert capsys.readouterr().err.startswith("botify report: BOTIFY_GOOD_TIME must be a number")


def test_too_little_memory_for_the_logs_is_one_line_and_exit_2(
    effect_logs, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("BOTIFY_LOG_MEMORY_GB", "0.02")  # DuckDB's reader wants 32 MiB buffers
    assert report_command(effect_logs[0], "EXP", "C", None, None) == 2
    error = capsys.readouterr().err
    assert (
        error.startswith("error: reading the logs needs more memory")
        and "BOTIFY_LOG_MEMORY_GB" in error
    )
