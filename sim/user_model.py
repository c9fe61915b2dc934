"""The user model (docs/simulator.md): session plan, listen time and budget.

- A session belongs to a user drawn uniformly; its interest ``s`` is the embedding of a random
  one of the user's interest tracks; the first track is random among the user's
  ``interest_neighbours`` nearest tracks to ``s``.
- A recommended track already played in the session (the first track included) gets
  ``time = 0``; otherwise ``time = round(expit((e·s − consume_bias) · consume_sharpness) ·
  gamma^n_artist, 2)`` where ``n_artist`` counts every track of that artist already in the session,
  the user's own first track included and skipped tracks included (a play is a play).
- The budget starts at ``session_budget`` and drops by 1 with probability ``1 − time``; the session
  ends when it reaches 0, or is truncated after ``max_tracks`` recommended tracks.
- Session time is the sum of ``time`` over the recommended tracks; the user's own first track
  (sent with time 1.0) is not counted. Tracks per session counts recommended tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from sim.streams import Stream, choices, uniforms
from sim.world import Users, World

MAX_SESSION_TRACKS = 200


def listen_time(
    dot: np.ndarray | float,
    consume_bias: np.ndarray | float,
    consume_sharpness: np.ndarray | float,
    gamma: np.ndarray | float,
    n_artist: np.ndarray | int,
    repeat: np.ndarray | bool,
) -> np.ndarray:
    """Fraction of a recommended track the user listens to (docs/simulator.md), to 2 decimals."""
    liking = expit((np.asarray(dot, dtype=np.float64) - consume_bias) * consume_sharpness)
    time = np.round(liking * np.power(gamma, n_artist), 2)
    return np.where(repeat, 0.0, time)


def interest_dots(embeddings: np.ndarray, tracks: np.ndarray, interests: np.ndarray) -> np.ndarray:
    """``e·s`` per pair of track and interest track (one summation order for every caller)."""
    return np.einsum("ij,ij->i", embeddings[tracks], embeddings[interests]).astype(np.float64)


def budget_drops(time: np.ndarray | float, draws: np.ndarray | float) -> np.ndarray:
    """Whether the budget drops by 1: with probability ``1 − time`` given uniform ``draws``."""
    return np.asarray(draws) < 1.0 - np.asarray(time)


@dataclass(frozen=True)
class SessionPlan:
    """Per session: key, user, interest track and first track (arrays of equal length)."""

    keys: np.ndarray
    users: np.ndarray
    interest_tracks: np.ndarray
    first_tracks: np.ndarray


def plan_users(users: Users, keys: np.ndarray) -> np.ndarray:
    """The user of each session key, uniform over all users."""
    return choices(keys, Stream.USER, 0, users.n_users)


def plan_sessions(world: World, keys: np.ndarray, session_users: np.ndarray) -> SessionPlan:
    """Interest and first track of each session."""
    users = world.users
    n_interests = users.interest_offsets[session_users + 1] - users.interest_offsets[session_users]
    picked = choices(keys, Stream.INTEREST, 0, n_interests)
    interest_tracks = users.interest_tracks[users.interest_offsets[session_users] + picked]
    k = users.interest_neighbours[session_users]
    nearest = world.first_track_candidates.of(interest_tracks)
    first_tracks = nearest[np.arange(len(keys)), choices(keys, Stream.FIRST_TRACK, 0, k)]
    return SessionPlan(keys, session_users, interest_tracks, first_tracks)


def budget_draws(keys: np.ndarray, step: np.ndarray | int) -> np.ndarray:
    """The uniform draws deciding budget drops at recommended-track number ``step``."""
    return uniforms(keys, Stream.BUDGET, step)
