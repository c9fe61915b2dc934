"""The A/B notebook runs headless, start to end, on a small generated log."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[2] / "jupyter" / "ab_analysis.ipynb"


def test_notebook_runs_and_shows_the_effects(effect_logs, monkeypatch, tmp_path: Path) -> None:
    log_dir, tracks, _ = effect_logs
    monkeypatch.setenv("BOTIFY_AB_LOGS", str(log_dir))
    monkeypatch.setenv("BOTIFY_AB_TRACKS", str(tracks))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # "python3" runs this interpreter (the venv's): jupyter_client substitutes sys.executable.
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output["output_type"] == "error"]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) >= 3
    text = "".join(str(output.get("data", {}).get("text/plain", "")) for output in outputs)
    assert "mean_time_per_session" in text and "same_artist_rate" in text
