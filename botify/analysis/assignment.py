"""Which treatment each user is in, for one experiment (the user is the unit of randomisation).

A user's treatment comes from the ``experiments[NAME]`` field of their events. The service
logs the user's treatment in every configured experiment, and the experiment it actually
served under in ``experiment``; an experiment's events are those served under it (or, in
logs without the ``experiment`` field, those carrying its treatment). Other events are left
out of its analysis, and a user whose events disagree on the treatment is excluded rather
than counted twice; both are counted so the report says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

_TREATMENT_NAME = re.compile(r"T(\d+)")


@dataclass(frozen=True)
class UserTreatments:
    """Treatment per user (index: user) and what had to be left out to build it."""

    treatments: pd.Series
    events_outside: int
    users_with_conflicting_treatments: int


def latest_experiment(events: pd.DataFrame, experiments: pd.DataFrame) -> str:
    """The experiment to analyse by default: the one served by the latest event.

    In logs without the ``experiment`` field, the most frequently logged one.
    """
    served = events["experiment"].notna()
    if served.any():
        return str(events.loc[events.loc[served, "timestamp"].idxmax(), "experiment"])
    counts = experiments.notna().sum()
    if counts.empty or counts.max() == 0:
        raise ValueError("the logs carry no experiment assignment")
    return str(counts.idxmax())


def served_under(events: pd.DataFrame, experiments: pd.DataFrame, experiment: str) -> pd.Series:
    """Which events belong to ``experiment`` (a boolean mask aligned with ``events``)."""
    if experiment not in experiments.columns:
        raise ValueError(f"experiment {experiment!r} does not occur in the logs")
    active = events["experiment"]
    return experiments[experiment].notna() & (active.isna() | (active == experiment))


def user_treatments(
    events: pd.DataFrame, experiments: pd.DataFrame, experiment: str
) -> UserTreatments:
    """The treatment of every user that has events served under ``experiment``."""
    included = served_under(events, experiments, experiment)
    labelled = pd.DataFrame({"user": events["user"], "treatment": experiments[experiment]})
    labelled = labelled[included].astype({"treatment": "str"})
    distinct = labelled.drop_duplicates()
    per_user = distinct.groupby("user")["treatment"]
    consistent = per_user.size() == 1
    treatments = per_user.first()[consistent].rename("treatment")
    return UserTreatments(
        treatments=treatments,
        events_outside=int((~included).sum()),
        users_with_conflicting_treatments=int((~consistent).sum()),
    )


def expected_treatments(observed: list[str], control: str) -> list[str]:
    """All treatments of the split, including any that received no users.

    Treatments are named ``C, T1, T2, ...`` (SPEC §5), so a split whose highest observed
    treatment is ``Tk`` has ``k`` treatments besides the control even if some of them never
    appear in the logs. With other naming, only the observed treatments are known.
    """
    others = [name for name in observed if name != control]
    numbers = [_TREATMENT_NAME.fullmatch(name) for name in others]
    if others and all(numbers):
        highest = max(int(match.group(1)) for match in numbers if match)
        others = [f"T{i}" for i in range(1, highest + 1)]
    else:
        others = sorted(others)
    return [control, *others]
