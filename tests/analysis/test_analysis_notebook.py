"""The A/B notebook runs headless, start to end, on a small generated log."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[2] / "jupyter" / "ab_analysis.ipynb"


def _run(tmp_path: Path, monkeypatch) -> tuple[list[dict], str]:
    # The kernel runs in tmp_path: without this it would import the botify the venv was
    # installed from, not this checkout's.
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOK.parents[1]))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # "python3" runs this interpreter (the venv's): jupyter_client substitutes sys.executable.
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output["output_type"] == "error"]
    text = "".join(str(output.get("data", {}).get("text/plain", "")) for output in outputs)
    text += "".join(output.get("text", "") for output in outputs if output.get("name") == "stdout")
    return outputs, text


def test_notebook_runs_and_shows_the_effects(effect_logs, monkeypatch, tmp_path: Path) -> None:
    log_dir, tracks, _ = effect_logs
    monkeypatch.setenv("BOTIFY_AB_LOGS", str(log_dir))
    monkeypatch.setenv("BOTIFY_AB_TRACKS", str(tracks))
    outputs, text = _run(tmp_path, monkeypatch)
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) >= 3
    assert "mean_time_per_session" in text and "same_artist_rate" in text
    assert "no pre-period" in text and "cuped_users" in text
    assert "users counted for retention" in text and "return_gap" in text


def test_notebook_shows_cuped_with_a_pre_period(pre_period_logs, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BOTIFY_AB_LOGS", str(pre_period_logs))
    monkeypatch.setenv("BOTIFY_AB_EXPERIMENT", "EXP")
    monkeypatch.delenv("BOTIFY_AB_TRACKS", raising=False)
    monkeypatch.delenv("BOTIFY_DATA_DIR", raising=False)
    outputs, text = _run(tmp_path, monkeypatch)
    assert "pre-period: " in text and "variance_reduction_cuped" in text
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) >= 4  # the CUPED effects figure too
