"""Vectorised session engine: runs many sessions of an in-process policy at once with numpy.

All running sessions advance one recommended track per iteration; a session leaves the active set
when its budget reaches 0 or it hits ``max_tracks``. Listen times and budget draws come from
:mod:`sim.user_model`, so results equal those of :class:`sim.env.ListeningSessionEnv` given the
same recommendations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.user_model import (
    MAX_SESSION_TRACKS,
    SessionPlan,
    budget_draws,
    budget_drops,
    interest_dots,
    listen_time,
)
from sim.world import World


@dataclass(frozen=True)
class ActiveSessions:
    """What a policy sees at one step: the running sessions' batch rows, keys, users and the
    track each one just played (``step`` recommended tracks have been played before)."""

    rows: np.ndarray
    keys: np.ndarray
    users: np.ndarray
    previous_tracks: np.ndarray
    step: int


class BatchPolicy(Protocol):
    """An in-process agent that recommends for many sessions at once."""

    def start(self, plan: SessionPlan) -> None:
        """Prepare for a batch of sessions (rows of ``plan``)."""

    def recommend(self, active: ActiveSessions) -> np.ndarray:
        """One recommended track per active session."""


@dataclass(frozen=True)
class BatchResult:
    """Per session of the batch: recommended tracks, session time, and whether it was cut."""

    tracks: np.ndarray
    time: np.ndarray
    truncated: np.ndarray


def run_batch(
    world: World,
    plan: SessionPlan,
    policy: BatchPolicy,
    max_tracks: int = MAX_SESSION_TRACKS,
    on_finished: Callable[[int], None] | None = None,
) -> BatchResult:
    """Run every session of ``plan`` to its end; ``on_finished(n)`` reports finished sessions."""
    n = len(plan.keys)
    users, track_artist = world.users, world.catalog.track_artist
    bias = users.consume_bias[plan.users]
    sharpness = users.consume_sharpness[plan.users]
    gamma = users.artist_discount_gamma[plan.users]
    budget = users.session_budget[plan.users].copy()
    played = np.empty((n, max_tracks + 1), dtype=np.int64)
    played_artists = np.empty_like(played)
    played[:, 0] = plan.first_tracks
    played_artists[:, 0] = track_artist[plan.first_tracks]
    session_time = np.zeros(n)
    n_tracks = np.zeros(n, dtype=np.int64)
    policy.start(plan)
    active = np.arange(n)
    step = 0
    while active.size and step < max_tracks:
        previous = played[active, step]
        view = ActiveSessions(active, plan.keys[active], plan.users[active], previous, step)
        recommended = policy.recommend(view)
        artists = track_artist[recommended]
        repeat = (played[active, : step + 1] == recommended[:, None]).any(axis=1)
        n_artist = (played_artists[active, : step + 1] == artists[:, None]).sum(axis=1)
        dots = interest_dots(world.embeddings, recommended, plan.interest_tracks[active])
        time = listen_time(dots, bias[active], sharpness[active], gamma[active], n_artist, repeat)
        budget[active] -= budget_drops(time, budget_draws(plan.keys[active], step))
        session_time[active] += time
        n_tracks[active] += 1
        step += 1
        played[active, step] = recommended
        played_artists[active, step] = artists
        still_running = budget[active] > 0
        if on_finished is not None:
            on_finished(int(active.size - still_running.sum()))
        active = active[still_running]
    if on_finished is not None and active.size:
        on_finished(int(active.size))
    return BatchResult(tracks=n_tracks, time=session_time, truncated=budget > 0)
