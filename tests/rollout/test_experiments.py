"""User → treatment assignment and experiment configuration."""

from __future__ import annotations

import json
import os
import re
from collections import Counter

import pytest

from botify.config import Config
from botify.rollout.experiments import Experiment, assignments, treatment_index


def test_assignment_matches_the_course_hash():
    # Reference values computed with mmh3 3.1 (the course's), whose seed was the signed
    # hash of the experiment name.
    assert [treatment_index(u, "AB", 3) for u in range(20)] == [
        1, 0, 2, 2, 1, 0, 1, 0, 2, 0, 0, 1, 0, 1, 1, 2, 0, 1, 2, 2
    ]  # fmt: skip
    assert [treatment_index(u, "HOMEWORK", 2) for u in range(20)] == [
        0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0
    ]  # fmt: skip


def test_split_is_balanced_and_depends_on_the_name():
    users = range(30_000)
    counts = Counter(treatment_index(u, "EXP", 3) for u in users)
    assert all(abs(c - 10_000) < 400 for c in counts.values())
    same = sum(treatment_index(u, "A", 2) == treatment_index(u, "B", 2) for u in users)
    assert 14_000 < same < 16_000


def test_experiment_maps_treatments_to_recommenders():
    experiment = Experiment("AB", {"C": "contextual", "T1": "anchor", "T2": "anchor_popular"})
    expected = ["contextual", "anchor", "anchor_popular"]
    for user in range(50):
        assert experiment.recommender(user) == expected[treatment_index(user, "AB", 3)]
    assert assignments([experiment, Experiment("X", {"C": "random"})], 7) == {
        "AB": experiment.treatment(7),
        "X": "C",
    }


def test_experiment_needs_contiguous_treatment_names():
    with pytest.raises(ValueError, match="T1"):
        Experiment("AB", {"C": "random", "T2": "anchor"})


def test_config_reads_experiments_from_the_environment(monkeypatch):
    monkeypatch.setenv("BOTIFY_EXPERIMENTS", json.dumps({"E": {"C": "random", "T1": "toppop"}}))
    monkeypatch.setenv("BOTIFY_EXPERIMENT", "E")
    monkeypatch.setenv("BOTIFY_SEED", "5")

    config = Config.from_env()

    assert config.experiment == "E" and config.seed == 5
    assert config.experiments == {"E": {"C": "random", "T1": "toppop"}}


@pytest.mark.parametrize(
    ("experiments", "active", "words"),
    [
        ('{"E": {"T1": "random"}}', "E", "control"),
        ("[]", "E", "non-empty"),
        ('{"E": {"C": "random"}}', "OTHER", "OTHER"),
    ],
)
def test_config_rejects_bad_experiments(monkeypatch, experiments, active, words):
    monkeypatch.setenv("BOTIFY_EXPERIMENTS", experiments)
    monkeypatch.setenv("BOTIFY_EXPERIMENT", active)

    with pytest.raises(ValueError, match=words):
        Config.from_env()


def test_unset_variables_take_the_config_defaults(monkeypatch):
    for variable in [v for v in os.environ if v.startswith("BOTIFY_")]:
        monkeypatch.delenv(variable)

    assert Config.from_env() == Config()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BOTIFY_SEED", "abc", "BOTIFY_SEED must be an integer, got 'abc'"),
        ("BOTIFY_GOOD_TIME", "half", "BOTIFY_GOOD_TIME must be a number, got 'half'"),
        ("BOTIFY_REDIS_CLUSTER", "maybe", "BOTIFY_REDIS_CLUSTER must be 1/true/yes or 0/false/no"),
        ("BOTIFY_EXPERIMENTS", "{", "BOTIFY_EXPERIMENTS must be JSON"),
    ],
)
def test_an_unparsable_variable_is_an_error_naming_it(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)

    with pytest.raises(ValueError, match=re.escape(message)):
        Config.from_env()
