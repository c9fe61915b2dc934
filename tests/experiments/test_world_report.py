"""The runner's report files: each written once, with every section the run has to add."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botify.analysis.days import day_table
from botify.analysis.pipeline import analyze_experiment
from botify.analysis.report import JSON_FILE, REPORT_FILE
from botify.experiments.runner import WorldRun, write_world_report
from botify.logs.reader import open_log
from tests.helpers.synthetic_ab_logs import SyntheticExperiment, generate, write_logs


@pytest.fixture(scope="module")
def world_run(tmp_path_factory: pytest.TempPathFactory) -> WorldRun:
    """A run's results on synthetic logs of experiment EXP (no world, no service)."""
    root = tmp_path_factory.mktemp("run")
    write_logs(generate(SyntheticExperiment(users=200, seed=3)), root / "logs")
    with open_log(root / "logs") as log:
        analysis = analyze_experiment(log, "EXP")
        days = day_table(log, ["EXP"])
    return WorldRun(out=root / "out", world=root / "world", analysis=analysis, days=days)


def test_each_report_file_is_written_once_with_the_robustness_section(
    world_run: WorldRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[str] = []
    write_text = Path.write_text

    def counting_write_text(path: Path, *args, **kwargs) -> int:
        writes.append(path.name)
        return write_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", counting_write_text)
    robustness = ("\n## Does the effect hold on every world?\n\n| table |\n", {"metric": "time"})
    text = write_world_report(world_run, robustness)

    assert writes.count(REPORT_FILE) == 1 and writes.count(JSON_FILE) == 1
    written = (world_run.out / REPORT_FILE).read_text(encoding="utf-8")
    assert written == text
    assert text.startswith("# A/B report: experiment `EXP`")
    assert text.index("## Effects") < text.index("## Days") < text.index("## Does the effect")
    assert "![session time and retention per day](days.png)" in text
    report = json.loads((world_run.out / JSON_FILE).read_text())
    assert report["experiment"] == "EXP" and report["comparisons"]
    assert report["robustness"] == {"metric": "time"}
    assert "monitoring" not in report  # the run was not watched


def test_a_run_without_robustness_worlds_has_no_robustness_entry(world_run: WorldRun) -> None:
    text = write_world_report(world_run)
    assert "## Days" in text and "Does the effect hold" not in text
    assert "robustness" not in json.loads((world_run.out / JSON_FILE).read_text())
