"""Which events and users belong to an experiment, and with which treatment."""

from __future__ import annotations

import pandas as pd
import pytest

from botify.analysis.assignment import (
    expected_treatments,
    latest_experiment,
    served_under,
    user_treatments,
)

# Day 1 served DAY1 but logged the users' AB treatments too; day 2 served AB. User 3's AB
# events disagree on the treatment. The last event has no active-experiment field (old logs).
EVENTS = pd.DataFrame(
    {
        "user": [1, 2, 1, 2, 3, 3, 4],
        "timestamp": [1, 2, 10, 11, 12, 13, 14],
        "experiment": ["DAY1", "DAY1", "AB", "AB", "AB", "AB", None],
    }
)
EXPERIMENTS = pd.DataFrame(
    {
        "DAY1": ["C", "T1", "C", "T1", "C", "C", None],
        "AB": ["T1", "C", "T1", "C", "C", "T1", "T1"],
    }
)


def test_events_of_an_experiment_are_those_served_under_it() -> None:
    mask = served_under(EVENTS, EXPERIMENTS, "AB")
    assert mask.tolist() == [False, False, True, True, True, True, True]
    assert served_under(EVENTS, EXPERIMENTS, "DAY1").sum() == 2


def test_conflicting_users_are_excluded_and_counted() -> None:
    assigned = user_treatments(EVENTS, EXPERIMENTS, "AB")
    assert assigned.treatments.to_dict() == {1: "T1", 2: "C", 4: "T1"}
    assert assigned.users_with_conflicting_treatments == 1
    assert assigned.events_outside == 2


def test_unknown_experiment_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not occur"):
        served_under(EVENTS, EXPERIMENTS, "NOPE")


def test_default_experiment_is_the_latest_served() -> None:
    assert latest_experiment(EVENTS, EXPERIMENTS) == "AB"
    no_active = EVENTS.assign(experiment=None)
    assert latest_experiment(no_active, EXPERIMENTS.drop(columns="DAY1")) == "AB"


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        (["C", "T2"], ["C", "T1", "T2"]),  # T1 got no users: it is still part of the split
        (["T1", "C"], ["C", "T1"]),
        (["C", "new", "old"], ["C", "new", "old"]),
    ],
)
def test_expected_treatments(observed: list[str], expected: list[str]) -> None:
    assert expected_treatments(observed, "C") == expected
