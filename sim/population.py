"""The population: users who live across days, come back when they were satisfied, and leave.

- **Activity.** User ``u`` has a persistent relative rate of visits ``w_u``, lognormal with
  ``activity_sigma`` and mean 1, drawn from the world's seed: heavy users stay heavy, day
  after day, which is what makes pre-experiment activity predict in-experiment activity.
- **Visits.** On day ``d`` a user who has not churned makes ``Poisson(μ_u)`` visits with
  ``μ_u = E · w_u / Σw · exp(β m_u)``: ``E`` is the day's expected visits at neutral
  satisfaction (``sim run --episodes``), ``β`` is ``return_sensitivity`` and ``m_u`` the
  user's memory of recent satisfaction (0 = neutral). Each user's draw is their own, so a
  satisfied treatment user adds visits without taking any from a control user.
- **Satisfaction and memory.** A session of listen time ``t`` satisfies
  ``s = tanh(log((1 + t) / (1 + satisfaction_reference)))``, in (-1, 1): a much better
  session pleases more, but no session makes a user come back without bound. After a
  day, a user's memory becomes ``δ m + (1 - δ) mean(s)`` over the day's sessions
  (``δ`` = ``memory_decay``), or ``δ m`` without a session: recent sessions count most
  and old ones fade toward neutral.
- **Churn.** After each day, a user still there leaves for good with probability
  ``churn_rate · exp(-churn_sensitivity · m_u)``.
- **Time of day.** A visit starts at a uniform second of its day (day ``d`` starts at
  ``DAY_ZERO_MS + (d - 1)`` days); a user's visits of one day start at distinct seconds.

Every draw is counter-based (``sim.streams``) on (seed, day, user, visit), so the same seed
and the same answers give the same visits, however the day is split into workers or parts.
The state between days (``PopulationState``) is saved as a ``.npz`` of plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.special import ndtri

from sim.streams import Stream, uniforms, user_keys, visit_keys
from sim.world import WorldParams

# Day 1 starts at 2026-01-01T00:00:00Z: simulated time, the same on every run.
DAY_ZERO_MS = 1_767_225_600_000
DAY_MS = 86_400_000
# One user's visits of one day at most: keeps a user's start seconds inside the day.
MAX_VISITS_PER_DAY = 100
STATE_FILE = "population.npz"


def day_start_ms(day: int) -> int:
    """Timestamp (ms) at which simulated day ``day`` starts."""
    return DAY_ZERO_MS + (day - 1) * DAY_MS


def activity(params: WorldParams) -> np.ndarray:
    """Each user's persistent relative visit rate: lognormal, mean 1 (from the world seed)."""
    users = np.arange(params.n_users)
    draws = uniforms(user_keys(params.seed, 0, users), Stream.ACTIVITY, 0)
    normal = ndtri(np.clip(draws, 1e-12, 1))
    sigma = params.activity_sigma
    return np.exp(sigma * normal - sigma**2 / 2)


@dataclass(frozen=True)
class PopulationState:
    """The population at the start of ``day`` (days before it are over), and the sessions of
    ``day`` played so far (a day played in parts): their count and summed satisfaction."""

    seed: int
    day: int
    memory: np.ndarray
    churned: np.ndarray
    day_sessions: np.ndarray
    day_satisfaction: np.ndarray

    def save(self, path: Path) -> None:
        """Write the state as a ``.npz`` of plain numeric arrays."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as file:
            np.savez(
                file,
                seed=np.int64(self.seed),
                day=np.int64(self.day),
                memory=self.memory,
                churned=self.churned,
                day_sessions=self.day_sessions,
                day_satisfaction=self.day_satisfaction,
            )


def fresh_state(n_users: int, seed: int, day: int) -> PopulationState:
    """Every user neutral and present, at the start of ``day``."""
    return PopulationState(
        seed=seed,
        day=day,
        memory=np.zeros(n_users),
        churned=np.zeros(n_users, dtype=bool),
        day_sessions=np.zeros(n_users, dtype=np.int64),
        day_satisfaction=np.zeros(n_users),
    )


def load_state(path: Path) -> PopulationState:
    """Read a state written by ``PopulationState.save``."""
    with np.load(path, allow_pickle=False) as saved:
        return PopulationState(
            seed=int(saved["seed"]),
            day=int(saved["day"]),
            memory=saved["memory"],
            churned=saved["churned"],
            day_sessions=saved["day_sessions"],
            day_satisfaction=saved["day_satisfaction"],
        )


class PopulationError(ValueError):
    """A saved state that cannot continue into the day asked for."""


def satisfaction(params: WorldParams, session_time: np.ndarray) -> np.ndarray:
    """How much a session of listen time ``session_time`` pleased its user, in (-1, 1)
    (0 = neutral)."""
    log_ratio = np.log1p(np.asarray(session_time, dtype=np.float64)) - np.log1p(
        params.satisfaction_reference
    )
    return np.tanh(log_ratio)


def end_day(params: WorldParams, state: PopulationState) -> PopulationState:
    """The state at the start of the next day: memories updated, churn drawn."""
    played = state.day_sessions > 0
    mean = np.divide(
        state.day_satisfaction,
        state.day_sessions,
        out=np.zeros_like(state.day_satisfaction),
        where=played,
    )
    decay = params.memory_decay
    memory = decay * state.memory + np.where(played, (1 - decay) * mean, 0.0)
    keys = user_keys(state.seed, state.day, np.arange(len(memory)))
    leave = params.churn_rate * np.exp(-params.churn_sensitivity * memory)
    churned = state.churned | (uniforms(keys, Stream.CHURN, 0) < leave)
    n = len(memory)
    return replace(
        state,
        day=state.day + 1,
        memory=memory,
        churned=churned,
        day_sessions=np.zeros(n, dtype=np.int64),
        day_satisfaction=np.zeros(n),
    )


def state_for_day(
    params: WorldParams, state: PopulationState | None, seed: int, day: int, resume: bool
) -> PopulationState:
    """The state to play ``day`` from. ``state`` is the saved one (None: a fresh population);
    ``resume`` continues a day played in parts, else the day starts over from its start.
    Days between the saved one and ``day`` pass without visits."""
    if state is None or day <= 1:
        return fresh_state(params.n_users, seed, day)
    if state.seed != seed:
        raise PopulationError(f"the saved population was played with seed {state.seed}, not {seed}")
    if state.memory.shape != (params.n_users,):
        raise PopulationError("the saved population has another number of users than the world")
    if state.day > day:
        raise PopulationError(
            f"the saved population is at day {state.day}; it cannot go back to day {day} "
            "(start again from day 1, or give another --state)"
        )
    if state.day == day and not resume:
        n = params.n_users
        return replace(
            state, day_sessions=np.zeros(n, dtype=np.int64), day_satisfaction=np.zeros(n)
        )
    while state.day < day:
        state = end_day(params, state)
    return state


@dataclass(frozen=True)
class DayVisits:
    """One day's visits in time order (index = the day's global session id): user, the user's
    visit number, session key and start timestamp (ms)."""

    users: np.ndarray
    visits: np.ndarray
    keys: np.ndarray
    starts: np.ndarray


def day_visits(
    params: WorldParams, state: PopulationState, episodes: float, rates: np.ndarray
) -> DayVisits:
    """The visits of ``state.day`` when ``episodes`` are expected at neutral satisfaction;
    ``rates`` is ``activity(params)``."""
    users = np.arange(params.n_users)
    keys = user_keys(state.seed, state.day, users)
    expected = episodes * rates / rates.sum() * np.exp(params.return_sensitivity * state.memory)
    expected = np.where(state.churned, 0.0, expected)
    drawn = stats.poisson.ppf(uniforms(keys, Stream.VISITS, 0), expected)
    counts = np.clip(np.nan_to_num(drawn), 0, MAX_VISITS_PER_DAY).astype(np.int64)
    visitor = np.repeat(users, counts)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    visit = np.arange(len(visitor)) - np.repeat(offsets, counts)
    second = np.floor(uniforms(keys[visitor], Stream.START, visit) * 86_400).astype(np.int64)
    # Sorted within each user, then pushed apart so that no two visits share a second.
    order = np.lexsort((second, visitor))
    visitor, second = visitor[order], second[order]
    rank = np.arange(len(visitor)) - np.repeat(offsets, counts)
    shifted = second - rank
    for position in range(1, int(counts.max(initial=0))):
        later = rank == position
        shifted[later] = np.maximum(shifted[later], shifted[np.flatnonzero(later) - 1])
    second = shifted + rank
    by_time = np.lexsort((rank, visitor, second))
    visitor, rank, second = visitor[by_time], rank[by_time], second[by_time]
    return DayVisits(
        users=visitor,
        visits=rank,
        keys=visit_keys(keys[visitor], rank),
        starts=day_start_ms(state.day) + 1000 * second,
    )


def record_sessions(
    params: WorldParams, state: PopulationState, users: np.ndarray, session_time: np.ndarray
) -> PopulationState:
    """``state`` with the played sessions of its day added (per user: count, satisfaction)."""
    n = params.n_users
    sessions = state.day_sessions + np.bincount(users, minlength=n)
    pleased = state.day_satisfaction + np.bincount(
        users, weights=satisfaction(params, session_time), minlength=n
    )
    return replace(state, day_sessions=sessions, day_satisfaction=pleased)
