"""The treatment-naming rule (C, T1, T2, ...) has one home, and every place that takes
treatment maps — the service's configuration, the rollout, experiment specs and the
analysis — applies it the same way."""

from __future__ import annotations

import json

import pytest

from botify.analysis.assignment import expected_treatments
from botify.config import (
    CONTROL,
    Config,
    check_treatments,
    treatment_names,
    treatment_number,
)
from botify.experiments.spec import SpecError, parse_spec
from botify.rollout.experiments import Experiment

GOOD = [{"C": "a"}, {"T1": "b", "C": "a"}, {"C": "a", "T2": "c", "T1": "b"}]
BAD = [
    {"T1": "b"},  # no control
    {"C": "a", "T2": "c"},  # a gap
    {"C": "a", "X": "b"},  # a name outside the rule
    {"C": "a", "T01": "b"},  # T1 spelled another way
    {"C": "a", "T0": "b"},
]


def test_the_rule_names_the_control_then_numbered_treatments() -> None:
    assert CONTROL == "C" and treatment_names(3) == ["C", "T1", "T2"]
    assert [treatment_number(name) for name in ["C", "T1", "T12"]] == [0, 1, 12]
    assert [treatment_number(name) for name in ["T01", "T0", "X", "t1", "T1 "]] == [None] * 5
    assert check_treatments(["T2", "C", "T1"]) == ["C", "T1", "T2"]
    with pytest.raises(
        ValueError, match=r"must name the treatments C, T1 \(C: the control\); got C, X"
    ):
        check_treatments(["C", "X"])


def spec_with_arms(arms: dict) -> dict:
    return {"name": "n", "world": {"tracks": 3000}, "days": [{"sessions": 10, "arms": arms}]}


@pytest.mark.parametrize("arms", GOOD)
def test_every_place_accepts_what_the_rule_allows(arms, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BOTIFY_EXPERIMENTS", json.dumps({"E": arms}))
    monkeypatch.setenv("BOTIFY_EXPERIMENT", "E")
    assert Config.from_env().experiments == {"E": arms}
    assert Experiment("E", arms).treatments == treatment_names(len(arms))
    assert list(parse_spec(spec_with_arms(arms), tmp_path).days[0].arms) == sorted(arms)


@pytest.mark.parametrize("arms", BAD)
def test_every_place_refuses_what_the_rule_does_not_allow(arms, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BOTIFY_EXPERIMENTS", json.dumps({"E": arms}))
    monkeypatch.setenv("BOTIFY_EXPERIMENT", "E")
    with pytest.raises(ValueError, match="BOTIFY_EXPERIMENTS: experiment 'E' must name the"):
        Config.from_env()
    with pytest.raises(ValueError, match="experiment 'E' must name the treatments"):
        Experiment("E", arms)
    with pytest.raises(SpecError, match=r"days\[1\].arms must name the treatments"):
        parse_spec(spec_with_arms(arms), tmp_path)


def test_the_analysis_knows_unserved_treatments_only_under_the_rule() -> None:
    assert expected_treatments(["C", "T3"], "C") == ["C", "T1", "T2", "T3"]
    assert expected_treatments(["C", "T03"], "C") == ["C", "T03"]  # not a name the rule gives
