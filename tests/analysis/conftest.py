"""Fixtures of the analysis tests: small synthetic event logs written as the service would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.synthetic_ab_logs import (
    SyntheticExperiment,
    SyntheticLog,
    generate,
    write_logs,
    write_tracks,
)

EFFECT_CONFIG = SyntheticExperiment(
    arms={"C": "anchor", "T1": "improved", "T2": "anchor_popular"},
    time_lift={"T1": 0.15},
    same_artist_prob={"T2": 0.5},
    seed=1,
)
AA_CONFIG = SyntheticExperiment(arms={"C": "anchor", "T1": "anchor"}, seed=2)


def _write(root: Path, config: SyntheticExperiment) -> tuple[Path, Path, SyntheticLog]:
    log = generate(config)
    write_logs(log, root / "logs", seed=config.seed)
    tracks = write_tracks(root / "tracks.jsonl", config.tracks, config.artists)
    return root / "logs", tracks, log


@pytest.fixture(scope="session")
def effect_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, SyntheticLog]:
    """Logs where T1 lifts listen time and T2 recommends the same artist half the time."""
    return _write(tmp_path_factory.mktemp("effect"), EFFECT_CONFIG)


@pytest.fixture(scope="session")
def aa_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, SyntheticLog]:
    """Logs where both treatments get the same recommender: no effect to find."""
    return _write(tmp_path_factory.mktemp("aa"), AA_CONFIG)


def write_two_days(root: Path, lift: float) -> Path:
    """A pre-period experiment PRE, then EXP (T1 lifts listen time by ``lift``); users'
    activity persists across the two, so the pre-period predicts the experiment."""
    pre = generate(
        SyntheticExperiment(experiment="PRE", user_activity_seed=9, seed=4, open_sessions=0)
    )
    end = max(event["timestamp"] for event in pre.events) + 1
    main = generate(
        SyntheticExperiment(
            experiment="EXP",
            user_activity_seed=9,
            seed=5,
            start=end,
            time_lift={"T1": lift},
            open_sessions=0,
        )
    )
    both = SyntheticLog(pre.events + main.events, pre.sessions + main.sessions, main.treatments)
    write_logs(both, root / "logs")
    return root / "logs"


@pytest.fixture(scope="session")
def pre_period_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Logs of an experiment whose users were seen before it started (T1: +10% listen time)."""
    return write_two_days(tmp_path_factory.mktemp("two-days"), 0.1)
