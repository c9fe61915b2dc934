"""The user model (docs/simulator.md) as a Gymnasium environment: one episode, one session.

Observation: the track just played, the fraction listened and the remaining budget. Action: the
recommended track id. Reward: the listen time of that track. ``reset(seed=k)`` makes ``k`` the
session key, so the episode equals session ``k`` of the vectorised engine.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim.user_model import (
    MAX_SESSION_TRACKS,
    budget_draws,
    budget_drops,
    interest_dots,
    listen_time,
    plan_sessions,
    plan_users,
)
from sim.world import World


class ListeningSessionEnv(gym.Env):
    """One simulated user session per episode; terminates when the budget reaches 0."""

    metadata = {"render_modes": []}

    def __init__(self, world: World, max_tracks: int = MAX_SESSION_TRACKS) -> None:
        self.world = world
        self.max_tracks = max_tracks
        n_tracks = world.catalog.n_tracks
        max_budget = int(world.users.session_budget.max())
        self.action_space = spaces.Discrete(n_tracks)
        self.observation_space = spaces.Dict(
            {
                "track": spaces.Discrete(n_tracks),
                "time": spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32),
                "budget": spaces.Discrete(max_budget + 1),
            }
        )

    def _observation(self, track: int, time: float) -> dict[str, Any]:
        return {
            "track": track,
            "time": np.array([time], dtype=np.float32),
            "budget": self._budget,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a session; ``seed`` is the session key (random from ``np_random`` if None);
        ``options={"user": u}`` plays it as user ``u`` (a population's visit), else the
        key's uniformly drawn user."""
        super().reset(seed=seed)
        key = seed if seed is not None else int(self.np_random.integers(0, 2**63))
        self._key = np.array([key], dtype=np.uint64)
        if options is not None and "user" in options:
            user = np.array([int(options["user"])], dtype=np.int64)
        else:
            user = plan_users(self.world.users, self._key)
        plan = plan_sessions(self.world, self._key, user)
        self.user = int(user[0])
        self.interest_track = int(plan.interest_tracks[0])
        first = int(plan.first_tracks[0])
        self._played = {first}
        self._artist_plays = {int(self.world.catalog.track_artist[first]): 1}
        self._budget = int(self.world.users.session_budget[self.user])
        self._step = 0
        info = {"user": self.user, "interest_track": self.interest_track, "first_track": first}
        return self._observation(first, 1.0), info

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """The user listens to recommended track ``action``."""
        track = int(action)
        if not self.action_space.contains(track):
            raise ValueError(f"track {action!r} is not in the catalog")
        users, artist = self.world.users, int(self.world.catalog.track_artist[track])
        dot = interest_dots(
            self.world.embeddings, np.array([track]), np.array([self.interest_track])
        )
        time = float(
            listen_time(
                dot[0],
                users.consume_bias[self.user],
                users.consume_sharpness[self.user],
                users.artist_discount_gamma[self.user],
                self._artist_plays.get(artist, 0),
                track in self._played,
            )
        )
        self._budget -= int(budget_drops(time, budget_draws(self._key, self._step))[0])
        self._played.add(track)
        self._artist_plays[artist] = self._artist_plays.get(artist, 0) + 1
        self._step += 1
        terminated = self._budget <= 0
        truncated = not terminated and self._step >= self.max_tracks
        return self._observation(track, time), time, terminated, truncated, {"time": time}
