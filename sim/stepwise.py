"""Running sessions one at a time through :class:`sim.env.ListeningSessionEnv` with an agent
that answers request by request (the remote service or a person at the console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sim.env import ListeningSessionEnv


class StepAgent(Protocol):
    """The service's session protocol: ``/next`` per listened track, ``/last`` to end."""

    def next_track(self, user: int, track: int, time: float, at: int | None = None) -> int:
        """Report ``track`` listened for ``time`` at timestamp ``at`` (ms; None: now);
        answer the next recommended track."""

    def last_track(self, user: int, track: int, time: float, at: int | None = None) -> None:
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


def run_session(
    env: ListeningSessionEnv,
    agent: StepAgent,
    key: int,
    user: int | None = None,
    start: int | None = None,
) -> SessionOutcome:
    """Play session ``key`` of ``user`` (None: the key's uniformly drawn user):
    ``/next(first, 1.0)``, then ``/next`` per listened recommendation, and ``/last`` with
    the final one, so a session of L recommended tracks makes L+1 requests.

    With a ``start`` timestamp (ms) request ``i`` is sent as happening at ``start + i``: the
    simulated clock dates a session by its start, and a millisecond per request keeps the
    service's log in the session's order (a day's visits of a user start seconds apart)."""
    options = None if user is None else {"user": user}
    observation, info = env.reset(seed=key, options=options)
    user, first = info["user"], info["first_track"]

    def at(request: int) -> int | None:
        return None if start is None else start + request

    recommended = agent.next_track(user, first, 1.0, at(0))
    requests, tracks, session_time = 1, 0, 0.0
    while True:
        _, time, terminated, truncated, _ = env.step(recommended)
        tracks += 1
        session_time += time
        if terminated or truncated:
            agent.last_track(user, recommended, time, at(requests))
            requests += 1
            return SessionOutcome(user, first, tracks, session_time, requests, truncated)
        recommended = agent.next_track(user, recommended, time, at(requests))
        requests += 1
