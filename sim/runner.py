"""Running one simulated day: session assignment, parallel workers, progress.

On a population world (the default, ``sim.population``) day ``d``'s sessions are the users'
visits in time order; visit ``v`` of user ``u`` has key ``visit_keys(user_keys(S, d, u), v)``,
which fixes its interest, first track and the user's listen decisions. Without a population,
day ``d`` of a run with seed ``S`` consists of global sessions ``0..episodes-1``; session
``g`` has key ``session_keys(S, d, g)``, which also fixes its (uniformly drawn) user. A run
may play a part of a day, from session ``first_session`` on: parts played one after the
other give the same sessions, in the same order per user, as the whole day in one run.
Worker ``w`` of ``K`` runs the
sessions whose user id is ``w`` modulo ``K``, in global order, so one user is never simulated
by two workers at once and the outcome does not depend on scheduling or on ``K``.
"""

from __future__ import annotations

import io
import multiprocessing
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from sim.console import ConsoleAgent
from sim.engine import run_batch
from sim.env import ListeningSessionEnv
from sim.policies import POLICIES
from sim.population import (
    DayVisits,
    PopulationState,
    activity,
    day_visits,
    record_sessions,
    state_for_day,
)
from sim.progress import day_progress
from sim.remote import DEFAULT_URL, RemoteAgent
from sim.stats import SESSION_COLUMNS
from sim.stepwise import StepAgent, run_session
from sim.streams import session_keys
from sim.user_model import MAX_SESSION_TRACKS, plan_sessions, plan_users
from sim.world import World

STEPWISE_AGENTS = ("remote", "console")
AGENTS = (*POLICIES, *STEPWISE_AGENTS)
_BATCH = 20_000


@dataclass(frozen=True)
class RunSettings:
    """What to simulate each day. Without a population, ``episodes`` is the number of
    sessions, ``first_session..first_session+episodes-1`` (with a ``part``: the day's size,
    of which the run plays ``part`` sessions from ``first_session``); with one, the day's
    expected visits at neutral satisfaction, of which the run plays ``part`` (None: all)
    from ``first_session`` on."""

    agent: str
    episodes: int
    seed: int = 0
    workers: int = 1
    url: str = DEFAULT_URL
    max_tracks: int = MAX_SESSION_TRACKS
    first_session: int = 0
    part: int | None = None

    @property
    def sessions(self) -> np.ndarray:
        """Global ids of the day's sessions this run plays (without a population)."""
        return np.arange(self.first_session, self.first_session + self.episodes)


@dataclass(frozen=True)
class DayPlan:
    """The sessions a run plays of one day, in global order: their ids, keys, users and
    start timestamps (ms; 0 where the world has no simulated clock)."""

    sessions: np.ndarray
    keys: np.ndarray
    users: np.ndarray
    starts: np.ndarray

    def share(self, workers: int, worker: int) -> DayPlan:
        """The sessions worker ``worker`` of ``workers`` plays: those of its users."""
        mine = self.users % workers == worker
        return DayPlan(self.sessions[mine], self.keys[mine], self.users[mine], self.starts[mine])


def uniform_plan(world: World, settings: RunSettings, day: int) -> DayPlan:
    """Sessions ``settings.sessions``, each of a user drawn uniformly (no population); with
    a ``part``, ``episodes`` is the day's size and the run plays ``part`` of them."""
    sessions = settings.sessions
    if settings.part is not None:
        sessions = sessions[: settings.part][sessions[: settings.part] < settings.episodes]
    keys = session_keys(settings.seed, day, sessions)
    users = plan_users(world.users, keys)
    return DayPlan(sessions, keys, users, np.zeros(len(sessions), dtype=np.int64))


def visits_plan(visits: DayVisits, settings: RunSettings) -> DayPlan:
    """The part of a population's day (``sim.population.day_visits``) that ``settings`` plays."""
    total = len(visits.users)
    stop = total if settings.part is None else min(total, settings.first_session + settings.part)
    played = slice(min(settings.first_session, total), stop)
    return DayPlan(
        np.arange(total)[played], visits.keys[played], visits.users[played], visits.starts[played]
    )


def _step_agent(world: World, settings: RunSettings) -> StepAgent:
    if settings.agent == "remote":
        return RemoteAgent(settings.url)
    return ConsoleAgent(world.catalog)


def _run_in_process(
    world: World, settings: RunSettings, plan: DayPlan, progress: Callable
) -> dict[str, np.ndarray]:
    columns: dict[str, list[np.ndarray]] = {name: [] for name in SESSION_COLUMNS}
    for start in range(0, len(plan.keys), _BATCH):
        part = slice(start, start + _BATCH)
        sessions = plan_sessions(world, plan.keys[part], plan.users[part])
        policy = POLICIES[settings.agent](world)
        result = run_batch(world, sessions, policy, settings.max_tracks, progress)
        columns["user"].append(sessions.users)
        columns["first_track"].append(sessions.first_tracks)
        columns["tracks"].append(result.tracks)
        columns["time"].append(result.time)
        columns["truncated"].append(result.truncated)
    joined = {name: np.concatenate(parts) for name, parts in columns.items() if parts}
    joined["requests"] = np.zeros(len(plan.keys), dtype=np.int64)
    joined["start"] = plan.starts
    return joined


def _run_stepwise(
    world: World, settings: RunSettings, plan: DayPlan, progress: Callable
) -> dict[str, np.ndarray]:
    env = ListeningSessionEnv(world, settings.max_tracks)
    agent = _step_agent(world, settings)
    clock_on = world.params.population
    outcomes = []
    # One session's numpy work is tiny; BLAS helper threads would only spin between steps
    # and take the cores the service under test needs (it halved remote throughput).
    with threadpool_limits(limits=1):
        for key, user, start in zip(plan.keys, plan.users, plan.starts, strict=True):
            at = int(start) if clock_on else None
            outcomes.append(run_session(env, agent, int(key), int(user), at))
            progress(1)
    fields = ("user", "first_track", "tracks", "time", "requests", "truncated")
    columns = {name: np.array([getattr(o, name) for o in outcomes]) for name in fields}
    return columns | {"start": plan.starts}


def run_worker(
    world: World,
    settings: RunSettings,
    day: int,
    plan: DayPlan,
    worker: int,
    progress: Callable[[int], None] = lambda n: None,
) -> pd.DataFrame:
    """The per-session stats of one worker's share of one day's ``plan``."""
    mine = plan.share(settings.workers, worker)
    run = _run_stepwise if settings.agent in STEPWISE_AGENTS else _run_in_process
    columns = run(world, settings, mine, progress) if len(mine.keys) else {}
    frame = pd.DataFrame({"day": day, "session": mine.sessions} | columns)
    return frame.reindex(columns=list(SESSION_COLUMNS))


def _encode(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{name: frame[name].to_numpy() for name in SESSION_COLUMNS})
    return buffer.getvalue()


def _decode(payload: bytes) -> pd.DataFrame:
    with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
        return pd.DataFrame({name: arrays[name] for name in SESSION_COLUMNS})


def _worker_process(
    world: World,
    settings: RunSettings,
    day: int,
    plan: DayPlan,
    worker: int,
    connection: Connection,
    counter: Synchronized,
) -> None:
    def progress(n: int) -> None:
        with counter.get_lock():
            counter.value += n

    try:
        frame = run_worker(world, settings, day, plan, worker, progress)
        connection.send_bytes(b"\0" + _encode(frame))
    except Exception as error:  # the parent raises it with the worker's number
        connection.send_bytes(b"\1" + f"worker {worker}: {error!r}".encode())
    finally:
        connection.close()


def _run_parallel(
    world: World, settings: RunSettings, day: int, plan: DayPlan, bar
) -> pd.DataFrame:
    # fork: workers inherit the loaded world instead of receiving it serialised.
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    pipes, processes = [], []
    for worker in range(settings.workers):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker_process, args=(world, settings, day, plan, worker, send, counter)
        )
        process.start()
        send.close()
        pipes.append(receive)
        processes.append(process)
    payloads: dict[int, bytes] = {}
    while len(payloads) < len(pipes):
        for worker, pipe in enumerate(pipes):
            if worker not in payloads and pipe.poll(0.05):
                payloads[worker] = pipe.recv_bytes()
            elif worker not in payloads and not processes[worker].is_alive() and not pipe.poll():
                raise RuntimeError(f"worker {worker} exited with code {processes[worker].exitcode}")
        bar.update(counter.value - bar.n)
        clock.sleep(0.01)
    bar.update(counter.value - bar.n)
    for process in processes:
        process.join()
    errors = [p[1:].decode() for p in payloads.values() if p[:1] == b"\1"]
    if errors:
        raise RuntimeError("; ".join(errors))
    return pd.concat([_decode(payloads[w][1:]) for w in range(settings.workers)])


def run_day(
    world: World,
    settings: RunSettings,
    day: int,
    show_progress: bool = True,
    visits: DayVisits | None = None,
) -> pd.DataFrame:
    """Per-session stats of one day, ordered by global session id: the population's
    ``visits`` of the day when given (``sim.population.day_visits``), else uniform users."""
    plan = uniform_plan(world, settings, day) if visits is None else visits_plan(visits, settings)
    if settings.workers > 1:
        # Once in the parent, so that forked workers inherit the memoised nearest tracks.
        plan_sessions(world, plan.keys, plan.users)
    with day_progress(len(plan.keys), f"day {day}", show_progress) as bar:
        if settings.workers == 1:
            frame = run_worker(world, settings, day, plan, 0, bar.update)
        else:
            frame = _run_parallel(world, settings, day, plan, bar)
    return frame.sort_values("session", kind="stable").reset_index(drop=True)


def play_day(
    world: World,
    settings: RunSettings,
    day: int,
    state: PopulationState | None = None,
    show_progress: bool = True,
) -> tuple[pd.DataFrame, PopulationState | None]:
    """One day: on a population world, the visits of the users from ``state`` (None: a fresh
    population; ``settings.first_session > 0`` continues a day played in parts) and the
    state after them; else ``run_day``'s uniform sessions and None."""
    params = world.params
    if not params.population:
        return run_day(world, settings, day, show_progress), None
    state = state_for_day(params, state, settings.seed, day, resume=settings.first_session > 0)
    visits = day_visits(params, state, settings.episodes, activity(params))
    frame = run_day(world, settings, day, show_progress, visits)
    users, times = frame["user"].to_numpy(np.int64), frame["time"].to_numpy(np.float64)
    return frame, record_sessions(params, state, users, times)
