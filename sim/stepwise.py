"""Running sessions one at a time through :class:`sim.env.ListeningSessionEnv` with an agent
that answers request by request (the remote service or a person at the console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sim.env import ListeningSessionEnv


class StepAgent(Protocol):
    """The service's session protocol: ``/next`` per listened track, ``/last`` to end."""

    def next_track(self, user: int, track: int, time: float) -> int:
        """Report ``track`` listened for ``time``; answer the next recommended track."""

    def last_track(self, user: int, track: int, time: float) -> None:
        """Report the session's final track; the session ends."""


@dataclass(frozen=True)
class SessionOutcome:
    """One finished session: user, first track, recommended tracks, session time, requests."""

    user: int
    first_track: int
    tracks: int
    time: float
    requests: int
    truncated: bool


def run_session(env: ListeningSessionEnv, agent: StepAgent, key: int) -> SessionOutcome:
    """Play session ``key``: ``/next(first, 1.0)``, then ``/next`` per listened recommendation,
    and ``/last`` with the final one, so a session of L recommended tracks makes L+1 requests."""
    observation, info = env.reset(seed=key)
    user, first = info["user"], info["first_track"]
    recommended = agent.next_track(user, first, 1.0)
    requests, tracks, session_time = 1, 0, 0.0
    while True:
        _, time, terminated, truncated, _ = env.step(recommended)
        tracks += 1
        session_time += time
        requests += 1
        if terminated or truncated:
            agent.last_track(user, recommended, time)
            return SessionOutcome(user, first, tracks, session_time, requests, truncated)
        recommended = agent.next_track(user, recommended, time)
