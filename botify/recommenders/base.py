"""What every recommender is given and what it returns.

The interface (docs/recommenders.md) is
``recommend_next(user, prev_track, prev_track_time) -> track``. Here the arguments travel
in a ``Request`` together with the two things a recommender must not fetch itself: the
per-request random generator (for reproducibility) and the user's state after this
request's atomic update (so the hot path stays at one Redis round trip). The answer names
which recommender or fallback actually produced the track, for the event log.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from botify.state.store import UserState


@dataclass(frozen=True)
class Request:
    """One ``/next`` call: the user, what they just listened to, and its context."""

    user: int
    track: int
    time: float
    rng: random.Random
    state: UserState | None


@dataclass(frozen=True)
class Recommendation:
    """The recommended track, who produced it, from how many candidates, with which lists.

    ``propensity`` is the probability with which the serving policy chose ``track`` (logged,
    for off-policy evaluation; None when unknown, as for a plugin that does not say).
    ``pool`` is the set the pick was uniform over (None: the whole catalog), which
    exploration needs to mix its own probability with the recommender's.
    """

    track: int
    served_by: str
    candidates: int = 0
    model_version: str | None = None
    propensity: float | None = None
    pool: np.ndarray | None = field(default=None, repr=False, compare=False)


class Recommender(Protocol):
    """A next-track recommender. It has a fallback and never fails for lack of data."""

    name: str
    # The user-state views it reads from ``request.state`` (``botify.state.store``'s
    # ``STATE_VIEWS``, e.g. "played"); the script returns only what the serving one needs.
    needs: frozenset[str]

    def recommend_next(self, request: Request) -> Recommendation:
        """The next track for ``request.user`` after ``request.track``."""


def pick(rng: random.Random, candidates: np.ndarray) -> int:
    """A uniformly random element of a non-empty id array."""
    return int(candidates[rng.randrange(len(candidates))])


def uniform_pick(
    rng: random.Random,
    candidates: np.ndarray,
    served_by: str,
    model_version: str | None = None,
) -> Recommendation:
    """A uniformly random candidate of a non-empty id array, with its propensity."""
    return Recommendation(
        pick(rng, candidates),
        served_by,
        len(candidates),
        model_version,
        propensity=1.0 / len(candidates),
        pool=candidates,
    )
