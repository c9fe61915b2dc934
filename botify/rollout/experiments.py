"""A/B experiments: deterministic user → treatment assignment (docs/recommenders.md).

The assignment hash is the course's: ``mmh3.hash(str(user), mmh3.hash(name), signed=False) % split``
so that logs and splits stay comparable with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import mmh3

from botify.config import check_treatments, treatment_names


def treatment_index(user: int, experiment: str, split: int) -> int:
    """Index ``0..split-1`` of ``user``'s treatment in ``experiment``.

    mmh3 < 5 took the signed name hash as seed and used its 32-bit pattern; mmh3 >= 5
    wants that pattern as an unsigned seed, so masking keeps the course's assignments.
    """
    seed = mmh3.hash(experiment) & 0xFFFFFFFF
    return mmh3.hash(str(user), seed, signed=False) % split


@dataclass(frozen=True)
class Experiment:
    """A named experiment whose treatments each map to a recommender name."""

    name: str
    arms: dict[str, str]

    def __post_init__(self) -> None:
        try:
            check_treatments(self.arms)
        except ValueError as e:
            raise ValueError(f"experiment {self.name!r} {e}") from None

    @property
    def treatments(self) -> list[str]:
        """Treatment names in index order."""
        return treatment_names(len(self.arms))

    def treatment(self, user: int) -> str:
        """The treatment ``user`` is assigned to."""
        return self.treatments[treatment_index(user, self.name, len(self.arms))]

    def recommender(self, user: int) -> str:
        """The recommender name serving ``user``."""
        return self.arms[self.treatment(user)]


def assignments(experiments: Iterable[Experiment], user: int) -> dict[str, str]:
    """``user``'s treatment in every experiment, as logged with each event."""
    return {e.name: e.treatment(user) for e in experiments}
