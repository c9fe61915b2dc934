"""``botify experiment run`` at small scale: world → service → days → report, through real
HTTP, a real redis-server, gunicorn, the simulator's remote agent and plugin recommenders
written outside the repository."""

from __future__ import annotations

import json
import math
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from botify.cli import main
from botify.logs.reader import read_events
from tests.helpers.processes import start_experiment_until

pytestmark = pytest.mark.e2e

PLUGINS = '''
class SameArtist:
    """Another track of the artist just heard, never one played in the session."""

    needs = frozenset({"played"})

    def __init__(self, context):
        self.catalog = context.catalog

    def recommend_next(self, request):
        tracks = self.catalog.tracks_of(self.catalog.artist_of(request.track))
        fresh = [t for t in tracks if t not in request.state.played] or list(tracks)
        return int(request.rng.choice(fresh))


class Flaky:
    """Raises on odd users, answers a track outside the catalog on users divisible by 4."""

    def __init__(self, context):
        self.size = context.catalog.size

    def recommend_next(self, request):
        if request.user % 2:
            raise RuntimeError("flaky plugin")
        return self.size + 5 if request.user % 4 == 0 else 0
'''

SPEC = """
name = "small"
seed = 5

[world]
tracks = 1500
users = 300

[[days]]
sessions = 300
arms = {{ C = "random", T1 = "sticky_artist" }}

[[days]]
name = "AB"
sessions = 300
train = ["contextual"]
[days.arms]
C = "sticky_artist"
T1 = "plugins:SameArtist"
T2 = "anchor_fresh"
T3 = "plugins:Flaky"

[[days]]
name = "AB"
sessions = 300
[days.arms]
C = "sticky_artist"
T1 = "plugins:SameArtist"
T2 = "anchor_fresh"
T3 = "plugins:Flaky"
{extra}
"""


def write_spec(directory: Path, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plugins.py").write_text(PLUGINS)
    spec = directory / "small.toml"
    spec.write_text(SPEC.format(extra=extra))
    return spec


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    # The spec and its plugins live outside the repository, found through the spec's folder.
    spec = write_spec(tmp_path_factory.mktemp("elsewhere"), "[robustness]\nworlds = 1\n")
    out = tmp_path_factory.mktemp("run") / "out"
    assert main(["experiment", "run", str(spec), "--out", str(out)]) == 0
    return out


def test_every_request_the_simulator_made_is_logged_once(run):
    sessions = pd.concat([pd.read_csv(run / f"day{day}-sessions.csv") for day in (1, 2, 3)])
    events = list(read_events(run / "logs"))

    # A day's sessions are the population's visits: about the spec's expected number.
    assert 700 < len(sessions) < 1300
    assert len(events) == sessions["requests"].sum()
    assert sum(e["message"] == "last" for e in events) == len(sessions)
    # Every event is dated on its simulated day (day 1: 2026-01-01 UTC).
    days = {(e["timestamp"] - 1_767_225_600_000) // 86_400_000 + 1 for e in events}
    assert days == {1, 2, 3}


def test_day_two_serves_the_lists_trained_on_day_one(run):
    events = [e for e in read_events(run / "logs") if e["experiment"] == "AB"]
    fresh = [e for e in events if e["served_by"] == "anchor_fresh"]

    assert fresh, "no day-2 request was served from the trained lists"
    assert {e["model_version"] for e in fresh} != {None}
    assert (run / "contextual-day2.jsonl").is_file()


def test_plugins_serve_and_a_failing_plugin_degrades_to_random_never_a_500(run):
    events = [
        e for e in read_events(run / "logs") if e["experiment"] == "AB" and e["message"] == "next"
    ]
    flaky = [e for e in events if e["recommender"] == "plugins:Flaky"]
    assert {e["served_by"] for e in flaky} == {"random_plugin_error", "plugins:Flaky"}
    assert all(0 <= e["recommendation"] < 1500 for e in flaky)
    same_artist = {e["served_by"] for e in events if e["recommender"] == "plugins:SameArtist"}
    assert same_artist == {"plugins:SameArtist"}


def test_the_report_names_every_arm_with_finite_effects_and_a_json_twin(run):
    report = json.loads((run / "report.json").read_text())
    assert report["experiment"] == "AB" and report["control"] == "C"
    assert report["sample_ratio"]["verdict"] in {"ok", "warn", "alert"}
    rows = report["comparisons"]
    assert {(r["treatment"], r["recommender"]) for r in rows} == {
        ("T1", "plugins:SameArtist"),
        ("T2", "anchor_fresh"),
        ("T3", "plugins:Flaky"),
    }
    keys = {"treatment", "recommender", "metric", "effect", "lower", "upper", "p_value"}
    keys |= {"p_holm", "significant", "control_mean", "treatment_mean", "n_control"}
    keys |= {"n_treatment", "method", "variance_reduction"}
    for row in rows:
        assert keys <= set(row) and row["method"] in {"welch", "cuped"}
        if row["metric"] != "return_gap":  # few users of an arm may have two active days
            assert all(math.isfinite(row[k]) for k in ("effect", "lower", "upper", "control_mean"))
    # The report covers both days of AB: users came back on its second day.
    for method in ("welch", "cuped"):
        metrics = {r["metric"] for r in rows if r["method"] == method}
        assert {"active_days", "retention", "return_gap"} <= metrics
    retained = [r for r in rows if r["metric"] == "retention" and r["method"] == "welch"]
    assert all(r["control_mean"] is not None and 0 < r["control_mean"] < 1 for r in retained)
    assert "retention" in (run / "report.md").read_text()
    # Day 1 is AB's pre-period: every comparison also has its CUPED row, which decides.
    assert [r["method"] for r in rows].count("cuped") == [r["method"] for r in rows].count("welch")
    assert report["decided_on"] == "cuped" and report["pre_period"]["users_seen"] > 0
    assert "monitoring" not in report
    text = (run / "report.md").read_text()
    assert "## Days" in text and "| 2 | AB | T2 | anchor_fresh |" in text
    assert "| 3 | AB | T2 | anchor_fresh |" in text
    assert "## Does the effect hold on every world?" in text
    assert report["robustness"]["worlds"][1]["world"].startswith("world 1: seed")
    for image in ("effects.png", "days.png", "worlds/1/effects.png"):
        assert (run / image).stat().st_size > 10_000


def test_a_watched_day_is_the_same_day_and_stops_once_decided(run, tmp_path, capsys):
    spec = write_spec(tmp_path / "spec")
    out = tmp_path / "watched"
    args = ["experiment", "run", str(spec), "--out", str(out), "--stop-early"]
    assert main([*args, "--look-every", "150"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    looks = report["monitoring"]["looks"]
    whole = pd.read_csv(run / "day3-sessions.csv")
    played = [look["sessions"] for look in looks]
    assert played[:-1] == [150 * (i + 1) for i in range(len(looks) - 1)]
    assert played[-1] <= len(whole) and played[-1] - 150 * (len(looks) - 1) <= 150
    assert all(len(look["effects"]) == 3 for look in looks)
    assert all(look["effects"][0]["method"] == "cuped" for look in looks)
    assert "look 1: 150/300 sessions" in printed  # plain blocks: the output is not a tty
    assert "## Monitoring" in (out / "report.md").read_text()
    stopped = looks[-1]["all_decided"]
    assert stopped or played[-1] == len(whole)
    assert not any(look["all_decided"] for look in looks[:-1])
    # The chunks played exactly the visits the unwatched run played first.
    watched = pd.read_csv(out / "day3-sessions.csv")
    pd.testing.assert_frame_equal(watched, whole.iloc[: len(watched)])
    assert not list(out.glob("day3-sessions-from-*.csv"))


def test_a_bad_spec_is_one_line_naming_the_key_before_anything_starts(tmp_path, capsys):
    cases = {
        "[colour]\nred = 1\n": "colour: unknown key",
        "[report]\nday = 4\n": "report.day must be at most 3",
        "budget = 0": "world: --budget: session_budget must be between 1 and 1000",
        "wings = 2": "world: error: unrecognized arguments: --wings 2",
    }
    for number, (extra, message) in enumerate(cases.items()):
        spec = write_spec(tmp_path / str(number), extra if extra.startswith("[") else "")
        if not extra.startswith("["):  # a key of the spec's [world] table
            spec.write_text(spec.read_text().replace("users = 300", f"users = 300\n{extra}"))
        out = tmp_path / "never"
        assert main(["experiment", "run", str(spec), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
        assert not out.exists()
    spec = write_spec(tmp_path / "arms")
    original = spec.read_text()
    for arm, message in {
        "nonsense": "unknown recommender 'nonsense'",
        "missing_module:X": "cannot import 'missing_module'",
        "plugins:Nope": "module 'plugins' has no 'Nope'",
    }.items():
        spec.write_text(original.replace('T3 = "plugins:Flaky"', f'T3 = "{arm}"'))
        assert main(["experiment", "run", str(spec), "--out", str(tmp_path / "never")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_or_kill_stops_every_process_the_run_started(tmp_path, stop):
    spec = write_spec(tmp_path / "spec")
    out = tmp_path / "interrupted"
    runner = start_experiment_until(spec, out, "=== day 1")
    time.sleep(1.0)  # the simulator is running against the service now
    assert processes_mentioning(str(out)), "nothing to stop: the run did not get going"
    runner.send_signal(stop)
    # A timeout, not a hang, if children that hold the pipe outlive the runner.
    runner.communicate(timeout=90)
    assert runner.returncode == 130
    deadline = time.monotonic() + 10
    while processes_mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(out)) == []
