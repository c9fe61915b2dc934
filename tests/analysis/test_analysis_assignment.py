"""Which events and users belong to an experiment, and with which treatment."""

from __future__ import annotations

import pytest

from botify.analysis.assignment import (
    expected_treatments,
    latest_experiment,
    served_under,
    user_treatments,
)

# Day 1 served DAY1 but logged the users' AB treatments too; day 2 served AB. User 3's AB
# events disagree on the treatment. The last event has no active-experiment field (old logs).
USERS = [1, 2, 1, 2, 3, 3, 4]
TIMESTAMPS = [1, 2, 10, 11, 12, 13, 14]
SERVED = ["DAY1", "DAY1", "AB", "AB", "AB", "AB", None]
DAY1 = ["C", "T1", "C", "T1", "C", "C", None]
AB = ["T1", "C", "T1", "C", "C", "T1", "T1"]


def _events(served: list[str | None], experiments: dict[str, list[str | None]]) -> list[dict]:
    return [
        {
            "user": USERS[i],
            "timestamp": TIMESTAMPS[i],
            "experiment": served[i],
            "experiments": {
                name: values[i] for name, values in experiments.items() if values[i] is not None
            },
        }
        for i in range(len(USERS))
    ]


EVENTS = _events(SERVED, {"DAY1": DAY1, "AB": AB})


@pytest.fixture
def log(events_log):
    return events_log(EVENTS)


def test_events_of_an_experiment_are_those_served_under_it(log) -> None:
    def mask(experiment: str) -> list[bool]:
        condition, params = served_under(log, experiment)
        query = f"SELECT {condition} AS served FROM events ORDER BY timestamp"
        return log.query(query, params)["served"].tolist()

    assert mask("AB") == [False, False, True, True, True, True, True]
    assert sum(mask("DAY1")) == 2


def test_conflicting_users_are_excluded_and_counted(log) -> None:
    assigned = user_treatments(log, "AB")
    assert assigned.treatments.to_dict() == {1: "T1", 2: "C", 4: "T1"}
    assert assigned.users_with_conflicting_treatments == 1
    assert assigned.events_outside == 2


def test_unknown_experiment_is_an_error(log) -> None:
    with pytest.raises(ValueError, match="does not occur"):
        served_under(log, "NOPE")


def test_default_experiment_is_the_latest_served(log, events_log) -> None:
    assert latest_experiment(log) == "AB"
    no_active = events_log(_events([None] * len(USERS), {"AB": AB}))
    assert latest_experiment(no_active) == "AB"


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
