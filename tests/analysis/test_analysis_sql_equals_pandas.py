"""The DuckDB pipeline gives the figures of the pandas one it replaced (``pandas_reference``,
commit 05b8c45): every figure of the report and of the analysis's tables to 1e-9, and
training's listens exactly, on the synthetic logs and on adversarial ones; and the same
report whatever the threads or the memory limit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from botify.analysis.assignment import latest_experiment
from botify.analysis.diagnostics import load_track_artists
from botify.analysis.pipeline import AbAnalysis, analyze_experiment
from botify.analysis.report import report_json
from botify.logs.reader import open_log
from botify.training.command import read_listens
from tests.helpers.pandas_reference import analyze_experiment as pandas_analysis
from tests.helpers.pandas_reference import latest_experiment as pandas_latest
from tests.helpers.pandas_reference import listens_from_sessions, read_frames, sessionize
from tests.helpers.synthetic_ab_logs import SyntheticExperiment, generate, write_tracks

TOLERANCE = {"rtol": 1e-9, "atol": 1e-9}
EPOCH, LATER_EPOCH = 1_700_000_000_000, 1_700_000_900_000
CATALOG_TRACKS = 400


def adversarial_events(seed: int) -> list[dict]:
    """A pre-period experiment PRE, then AB (C, T1, T3: T2 got no users), with what real
    logs hold: ties, a Redis epoch reset, degraded answers, events outside AB, conflicting
    users, missing figures, tracks beyond the catalog, served_by only in some arms."""
    rng = np.random.default_rng(seed)
    pre = generate(SyntheticExperiment(users=80, experiment="PRE", seed=seed, open_sessions=3))
    start = max(event["timestamp"] for event in pre.events) + 1
    arms = {"C": "anchor", "T1": "improved", "T3": "popular"}
    main = generate(
        SyntheticExperiment(
            users=120, experiment="AB", arms=arms, seed=seed + 1, start=start, open_sessions=6
        )
    )
    events = [dict(event, epoch=EPOCH) for event in pre.events + main.events]
    previous: dict[int, dict] = {}
    adversarial = []
    for event in events:
        user, before = event["user"], previous.get(event["user"])
        draw = rng.random(8)
        if before is not None and draw[0] < 0.1:  # tied with the user's previous event
            event["timestamp"] = before["timestamp"]
        if event["experiment"] == "AB" and user % 17 == 0 and event["request"] > 6:
            # Redis lost the user's counters: they restart with a later epoch.
            event.update(request=event["request"] - 6, epoch=LATER_EPOCH)
        if before is not None and draw[1] < 0.05:  # a degraded answer in the same ms
            degraded = dict(event, request=None, session=None, epoch=None, degraded=True)
            degraded.update(track=int(rng.integers(CATALOG_TRACKS)), served_by="random_fallback")
            adversarial.append(degraded)
        if event["experiment"] == "AB" and draw[2] < 0.04:  # served under another experiment
            event["experiment"] = "OTHER"
        elif event["experiment"] == "AB" and draw[2] < 0.08:  # old logs: no active experiment
            del event["experiment"]
        if user in (3, 5) and event.get("experiment") == "AB" and draw[3] < 0.3:
            event["experiments"] = {"AB": "T1" if main.treatments[user] == "C" else "C"}
        event["latency"] = round(float(rng.gamma(2.0, 0.002)), 6)
        if draw[4] < 0.05:
            del event["latency"]
        elif draw[4] < 0.08:
            event["latency"] = None
        elif draw[4] < 0.1:
            event["latency"] = "0.25"  # numeric text is a number
        if draw[5] < 0.1:
            event.pop("candidates", None)
        elif draw[5] < 0.15:
            event["candidates"] = None
        if draw[6] < 0.03:
            event["track"] = CATALOG_TRACKS + int(rng.integers(100))  # beyond the catalog
        if event.get("experiments", {}).get("AB") == "T3" and draw[7] < 0.2:
            event["served_by"] = "only_in_T3"
        adversarial.append(event)
        previous[user] = event
    return adversarial


def _write(log_dir: Path, events: list[dict], seed: int, processes: int = 3) -> Path:
    # Each event to a random process's file, in the order given: which of two tied events
    # comes first in file order depends on the files, as behind a load balancer.
    owner = np.random.default_rng(seed).integers(processes, size=len(events))
    for process in range(processes):
        lines = [json.dumps(e) + "\n" for e, o in zip(events, owner, strict=True) if o == process]
        write = log_dir / f"replica{process}" / f"events-host{process}-1-0-00000.jsonl"
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text("".join(lines) + ("garbage\n" if process == 0 else ""))
    return log_dir


@pytest.fixture(scope="module")
def adversarial_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Adversarial logs and a catalog that lacks some of their tracks."""
    root = tmp_path_factory.mktemp("adversarial")
    tracks = write_tracks(root / "tracks.jsonl", CATALOG_TRACKS, 80)
    return _write(root / "logs", adversarial_events(3), seed=3), tracks


def _same_json(new, old, where: str = "report") -> None:
    if isinstance(old, dict):
        assert isinstance(new, dict) and new.keys() == old.keys(), where
        for key in old:
            _same_json(new[key], old[key], f"{where}.{key}")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), where
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            _same_json(a, b, f"{where}[{i}]")
    elif isinstance(old, float) and not isinstance(new, bool | str | type(None)):
        assert math.isclose(new, old, rel_tol=1e-9, abs_tol=1e-9) or (
            math.isnan(new) and math.isnan(old)
        ), (where, new, old)
    else:
        assert new == old and type(new) is type(old), (where, new, old)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    # Types may differ where values do not: text as str, object or categorical, labels too.
    frame = frame.set_axis(pd.Index(list(frame.columns), dtype=object), axis=1)
    frame = frame.set_axis(pd.Index(list(frame.index), dtype=object), axis=0)
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    return frame.astype(dict.fromkeys(text, "object"))


def _same_frame(new: pd.DataFrame, old: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(_plain(new), _plain(old), check_dtype=False, **TOLERANCE)


def assert_same_analysis(new: AbAnalysis, old: AbAnalysis) -> None:
    """Every figure of the two analyses equal to 1e-9 (NaN equal to NaN)."""
    _same_json(report_json(new), report_json(old))
    scalars = [
        "experiment",
        "control",
        "treatment_names",
        "files",
        "events",
        "skipped_lines",
        "invalid_events",
        "events_outside",
        "users_with_conflicting_treatments",
        "closed_sessions",
        "open_sessions",
        "has_artists",
    ]
    assert {k: getattr(new, k) for k in scalars} == {k: getattr(old, k) for k in scalars}
    for name in ("metrics", "comparison", "latency", "diagnostics", "served_by"):
        _same_frame(getattr(new, name), getattr(old, name))
    pd.testing.assert_series_equal(
        new.treatments, old.treatments, check_dtype=False, check_names=False
    )
    pd.testing.assert_series_equal(new.sample_ratio.users, old.sample_ratio.users)
    assert new.sample_ratio.verdict == old.sample_ratio.verdict
    assert (new.pre_period is None) == (old.pre_period is None)
    assert (new.adjusted is None) == (old.adjusted is None)
    if old.pre_period is not None:
        for key in ("start", "events", "users_seen", "users"):
            assert getattr(new.pre_period, key) == getattr(old.pre_period, key), key
        _same_frame(new.pre_period.covariates, old.pre_period.covariates)
        _same_frame(new.adjusted, old.adjusted)


def _compare(log_dir: Path, experiment: str, tracks: Path | None, control: str = "C") -> None:
    artists = load_track_artists(tracks) if tracks else None
    frames = read_frames(log_dir)
    old = pandas_analysis(frames, experiment, control, artists)
    with open_log(log_dir) as log:
        assert latest_experiment(log) == pandas_latest(frames.events, frames.experiments)
        new = analyze_experiment(log, experiment, control, artists)
    assert_same_analysis(new, old)


def test_the_report_equals_the_pandas_pipelines_on_synthetic_logs(
    effect_logs, aa_logs, pre_period_logs
) -> None:
    for log_dir, tracks, _ in (effect_logs, aa_logs):
        _compare(log_dir, "EXP", tracks)
        _compare(log_dir, "EXP", None)
    _compare(pre_period_logs, "EXP", None)  # with CUPED
    _compare(pre_period_logs, "PRE", None)  # nothing before it: no pre-period


@pytest.mark.parametrize("catalog", [True, False])
@pytest.mark.parametrize(("experiment", "control"), [("AB", "C"), ("AB", "T1"), ("PRE", "C")])
def test_the_report_equals_the_pandas_pipelines_on_adversarial_logs(
    adversarial_logs, experiment: str, control: str, catalog: bool
) -> None:
    log_dir, tracks = adversarial_logs
    _compare(log_dir, experiment, tracks if catalog else None, control)


def _tied(user: int, treatment: str) -> list[dict]:
    """One user's events that only the order's tie-breaks place: degraded answers (no
    request, no epoch) in the same millisecond, a counter restarted with a later epoch."""
    event = {
        "message": "next",
        "user": user,
        "time": 0.5,
        "recommender": "anchor",
        "experiment": "AB",
        "experiments": {"AB": treatment},
    }
    degraded = {"request": None, "epoch": None, "degraded": True, "latency": 0.001}
    return [
        {**event, "timestamp": 1, "request": 1, "epoch": EPOCH, "track": 1, "recommendation": 2},
        {**event, **degraded, "timestamp": 2, "message": "last", "track": 2},
        {**event, **degraded, "timestamp": 2, "track": 3, "recommendation": 4},
        {**event, "timestamp": 2, "request": 2, "epoch": EPOCH, "track": 4, "recommendation": 5},
        {
            **event,
            "timestamp": 3,
            "request": 1,
            "epoch": LATER_EPOCH,
            "track": 5,
            "message": "last",
        },
        {**event, "timestamp": 3, "request": 3, "epoch": EPOCH, "track": 6, "recommendation": 7},
    ]


@pytest.fixture(scope="module")
def tied_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Users whose events tie, written to two files in each of the two orders."""
    events = [event for user in range(8) for event in _tied(user, "C" if user % 2 else "T1")]
    return _write(tmp_path_factory.mktemp("tied") / "logs", events, seed=1, processes=2)


def test_the_report_equals_the_pandas_pipelines_where_only_tie_breaks_order(tied_logs) -> None:
    _compare(tied_logs, "AB", None)


def test_training_listens_equal_the_pandas_pipelines(
    effect_logs, pre_period_logs, adversarial_logs, tied_logs
) -> None:
    for log_dir in (effect_logs[0], pre_period_logs, adversarial_logs[0], tied_logs):
        old = listens_from_sessions(sessionize(read_frames(log_dir).events))
        new, _, _ = read_listens(log_dir)
        for name in ("session", "track", "time", "timestamp"):
            np.testing.assert_array_equal(getattr(new, name), getattr(old, name), err_msg=name)


def test_the_report_is_the_same_on_any_threads_or_memory(pre_period_logs, adversarial_logs):
    for log_dir, experiment in ((pre_period_logs, "EXP"), (adversarial_logs[0], "AB")):
        reports = []
        for settings in ({"threads": 1}, {"threads": 2}, {"threads": 2, "memory_gb": 0.2}):
            with open_log(log_dir, **settings) as log:
                reports.append(report_json(analyze_experiment(log, experiment)))
        assert reports[0] == reports[1] == reports[2]


def _line(message: str, timestamp: int, user: int, track: int, treatment: str, more: str) -> str:
    # Written by hand: ``json.dumps`` would not be asked to write NaN on purpose.
    return (
        f'{{"message": "{message}", "timestamp": {timestamp}, "user": {user}, "track": {track}, '
        f'"time": 0.5, "experiment": "AB", "experiments": {{"AB": "{treatment}"}}, '
        f'"recommender": "r{treatment}", {more}}}'
    )


# Numbers of the unchecked number columns that the pandas pipeline handled: NaN (JSON has
# none, but Python's json writes it; the schema makes such a column "NaN / <NA> where a value
# is missing or not a JSON number", and pandas left NaN out of sums, means and quantiles as
# missing) and finite numbers beyond 1e20 (a DECIMAL(38, 18) holds less). Each arm names
# its recommender: an arm that names none differs on purpose (test_analysis_diagnostics).
NUMBER_LOGS = {
    "nan latency": [
        _line("next", 1, 1, 1, "C", '"latency": NaN, "recommendation": 2'),
        _line("last", 2, 1, 2, "C", '"latency": 0.004'),
        _line("next", 1, 2, 1, "T1", '"latency": 0.001, "recommendation": 3'),
    ],
    "nan candidates": [
        _line("next", 1, 1, 1, "C", '"candidates": NaN, "recommendation": 2'),
        _line("next", 2, 1, 2, "C", '"candidates": 20, "recommendation": 3'),
        _line("next", 1, 2, 1, "T1", '"candidates": 10, "recommendation": 3'),
    ],
    "huge latency": [
        _line("next", 1, 1, 1, "C", '"latency": 1e25, "recommendation": 2'),
        _line("next", 1, 2, 1, "T1", '"latency": 0.001, "recommendation": 3'),
    ],
    "nan epoch": [
        _line("next", 5, 1, 1, "C", '"request": 2, "epoch": NaN'),
        _line("last", 5, 1, 2, "C", '"request": 1'),
        _line("next", 7, 1, 3, "C", '"request": 3'),
        _line("next", 1, 2, 1, "T1", '"request": 1'),
    ],
}


@pytest.mark.parametrize("case", sorted(NUMBER_LOGS))
def test_numbers_sql_cannot_sum_are_handled_as_in_the_pandas_pipeline(
    tmp_path: Path, case: str
) -> None:
    (tmp_path / "events-h-1-0-00000.jsonl").write_text("\n".join(NUMBER_LOGS[case]) + "\n")
    old = listens_from_sessions(sessionize(read_frames(tmp_path).events))
    new, _, _ = read_listens(tmp_path)
    np.testing.assert_array_equal(new.session, old.session)
    np.testing.assert_array_equal(new.track, old.track)
    _compare(tmp_path, "AB", None)
