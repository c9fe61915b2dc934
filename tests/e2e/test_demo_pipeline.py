"""The main job at small scale: world → service → day 1 → train → deploy → day 2 → report,
through real HTTP, a real redis-server, gunicorn and the simulator's remote agent."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from botify.analysis.diagnostics import load_track_artists
from botify.analysis.pipeline import analyze_experiment
from botify.logs.reader import load_events, read_events
from botify.run import demo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    args = ["--tracks", "1500", "--users", "300", "--day1-sessions", "300", "--day2-sessions",
            "600", "--world", str(root / "world"), "--out", str(root / "out")]  # fmt: skip
    assert demo.main(args) == 0
    return root


def test_every_request_the_simulator_made_is_logged_once(demo_run):
    sessions = pd.concat(
        [pd.read_csv(demo_run / "out" / f"day{day}-sessions.csv") for day in (1, 2)]
    )
    events = list(read_events(demo_run / "out" / "logs"))

    assert len(sessions) == 900
    assert len(events) == sessions["requests"].sum()
    assert sum(e["message"] == "last" for e in events) == 900


def test_day_two_serves_the_deployed_lists(demo_run):
    events = [e for e in read_events(demo_run / "out" / "logs") if e["experiment"] == "AB"]
    contextual = [e for e in events if e["served_by"] == "contextual"]

    assert contextual, "no day-2 request was served from the trained lists"
    assert {e["model_version"] for e in contextual} != {None}


def test_the_report_has_every_treatment_with_finite_effects(demo_run):
    out = demo_run / "out"
    analysis = analyze_experiment(
        load_events(out / "logs"),
        "AB",
        track_artists=load_track_artists(demo_run / "world" / "tracks.jsonl"),
    )

    assert set(analysis.comparison["treatment"]) == {"T1", "T2", "T3"}
    for column in ("effect", "lower", "upper", "control_mean", "treatment_mean"):
        assert all(math.isfinite(v) for v in analysis.comparison[column])
    served = set(analysis.served_by.columns)
    assert not served & {"random", "sticky_artist"}, "day-1 (DAY1) events leaked into AB"
    report = (out / "report.md").read_text()
    for treatment in ("T1", "T2", "T3"):
        assert f"| {treatment} | time |" in report
    assert (out / "effects.png").stat().st_size > 10_000
