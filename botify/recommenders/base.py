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
from dataclasses import dataclass
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
    """The recommended track, who produced it, from how many candidates, with which lists."""

    track: int
    served_by: str
    candidates: int = 0
    model_version: str | None = None


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
