"""Which treatment each user is in, for one experiment (the user is the unit of randomisation).

A user's treatment comes from the ``experiments[NAME]`` field of their events. The service
logs the user's treatment in every configured experiment, and the experiment it actually
served under in ``experiment``; an experiment's events are those served under it (or, in
logs without the ``experiment`` field, those carrying its treatment). Other events are left
out of its analysis, and a user whose events disagree on the treatment is excluded rather
than counted twice; both are counted so the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from botify.config import treatment_number
from botify.logs.reader import EventDatabase


@dataclass(frozen=True)
class UserTreatments:
    """Treatment per user (index: user) and what had to be left out to build it."""

    treatments: pd.Series
    events_outside: int
    users_with_conflicting_treatments: int


def latest_experiment(log: EventDatabase) -> str:
    """The experiment to analyse by default: the one served by the latest event (of two at
    the same millisecond, the first by name).

    In logs without the ``experiment`` field, the most frequently logged one.
    """
    latest = log.row(
        "SELECT experiment FROM events WHERE experiment IS NOT NULL "
        "ORDER BY timestamp DESC, experiment LIMIT 1"
    )
    if latest is not None:
        return str(latest[0])
    columns = log.experiment_columns
    counts = (
        log.row(
            "SELECT "
            + ", ".join(f"count({column})" for column in columns.values())
            + " FROM events"
        )
        if columns
        else ()
    )
    if not counts or max(counts) == 0:
        raise ValueError("the logs carry no experiment assignment")
    return list(columns)[counts.index(max(counts))]


def served_under(log: EventDatabase, experiment: str) -> tuple[str, list]:
    """The SQL condition on ``events`` (and its parameters) that selects the events of
    ``experiment``."""
    if experiment not in log.experiment_columns:
        raise ValueError(f"experiment {experiment!r} does not occur in the logs")
    column = log.experiment_columns[experiment]
    return f"({column} IS NOT NULL AND (experiment IS NULL OR experiment = ?))", [experiment]


def user_treatments(log: EventDatabase, experiment: str) -> UserTreatments:
    """The treatment of every user that has events served under ``experiment``."""
    condition, params = served_under(log, experiment)
    column = log.experiment_columns[experiment]
    # min and max, not count(DISTINCT): a distinct count builds a second hash table per
    # user, which is what large logs cannot afford.
    per_user = log.query(
        f"""
        SELECT "user", min({column}) AS treatment, max({column}) AS other, count(*) AS events
        FROM events WHERE {condition} GROUP BY "user" ORDER BY "user"
        """,
        params,
    )
    included = per_user["events"].sum()
    consistent = per_user["treatment"] == per_user["other"]
    treatments = per_user[consistent].set_index("user")["treatment"].astype("str")
    return UserTreatments(
        treatments=treatments.set_axis(treatments.index.astype("int64")),
        events_outside=log.events - int(included),
        users_with_conflicting_treatments=int((~consistent).sum()),
    )


def register_treatments(log: EventDatabase, treatments: pd.Series) -> str:
    """Make ``treatments`` (index: user) queryable in ``log``'s database as a relation of
    (``user``, ``treatment``); returns its name."""
    frame = pd.DataFrame(
        {"user": treatments.index.to_numpy(dtype="int64"), "treatment": treatments.to_numpy(str)}
    )
    return log.register("user_treatment", frame)


def expected_treatments(observed: list[str], control: str) -> list[str]:
    """All treatments of the split, including any that received no users.

    Treatments are named ``C, T1, T2, ...`` (``botify.config.treatment_names``), so a split
    whose highest observed treatment is ``Tk`` has ``k`` treatments besides the control even
    if some of them never appear in the logs. With other naming, only the observed treatments
    are known.
    """
    others = [name for name in observed if name != control]
    numbers = [treatment_number(name) for name in others]
    if others and all(numbers):
        highest = max(numbers)
        others = [f"T{i}" for i in range(1, highest + 1)]
    else:
        others = sorted(others)
    return [control, *others]
