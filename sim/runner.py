"""Running one simulated day: session assignment, parallel workers, progress.

Day ``d`` of a run with seed ``S`` consists of global sessions ``0..episodes-1``; session ``g``
has key ``session_keys(S, d, g)``, which fixes its user, interest, first track and the user's
listen decisions. A run may play a part of a day, sessions ``first_session`` to
``first_session + episodes - 1``: parts played one after the other give the same sessions,
in the same order per user, as the whole day in one run. Worker ``w`` of ``K`` runs the
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
    """What to simulate each day."""

    agent: str
    episodes: int
    seed: int = 0
    workers: int = 1
    url: str = DEFAULT_URL
    max_tracks: int = MAX_SESSION_TRACKS
    first_session: int = 0

    @property
    def sessions(self) -> np.ndarray:
        """Global ids of the day's sessions this run plays."""
        return np.arange(self.first_session, self.first_session + self.episodes)


def worker_sessions(world: World, settings: RunSettings, day: int, worker: int) -> np.ndarray:
    """Global session ids of one day that worker ``worker`` runs (its users, in order)."""
    sessions = settings.sessions
    users = plan_users(world.users, session_keys(settings.seed, day, sessions))
    return sessions[users % settings.workers == worker]


def _step_agent(world: World, settings: RunSettings) -> StepAgent:
    if settings.agent == "remote":
        return RemoteAgent(settings.url)
    return ConsoleAgent(world.catalog)


def _run_in_process(
    world: World, settings: RunSettings, day: int, sessions: np.ndarray, progress: Callable
) -> dict[str, np.ndarray]:
    keys = session_keys(settings.seed, day, sessions)
    users = plan_users(world.users, keys)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in SESSION_COLUMNS}
    for start in range(0, len(sessions), _BATCH):
        part = slice(start, start + _BATCH)
        plan = plan_sessions(world, keys[part], users[part])
        policy = POLICIES[settings.agent](world)
        result = run_batch(world, plan, policy, settings.max_tracks, progress)
        columns["user"].append(plan.users)
        columns["first_track"].append(plan.first_tracks)
        columns["tracks"].append(result.tracks)
        columns["time"].append(result.time)
        columns["truncated"].append(result.truncated)
    joined = {name: np.concatenate(parts) for name, parts in columns.items() if parts}
    joined["requests"] = np.zeros(len(sessions), dtype=np.int64)
    return joined


def _run_stepwise(
    world: World, settings: RunSettings, day: int, sessions: np.ndarray, progress: Callable
) -> dict[str, np.ndarray]:
    env = ListeningSessionEnv(world, settings.max_tracks)
    agent = _step_agent(world, settings)
    outcomes = []
    # One session's numpy work is tiny; BLAS helper threads would only spin between steps
    # and take the cores the service under test needs (it halved remote throughput).
    with threadpool_limits(limits=1):
        for key in session_keys(settings.seed, day, sessions):
            outcomes.append(run_session(env, agent, int(key)))
            progress(1)
    fields = ("user", "first_track", "tracks", "time", "requests", "truncated")
    return {name: np.array([getattr(o, name) for o in outcomes]) for name in fields}


def run_worker(
    world: World,
    settings: RunSettings,
    day: int,
    worker: int,
    progress: Callable[[int], None] = lambda n: None,
) -> pd.DataFrame:
    """The per-session stats of one worker's share of one day."""
    sessions = worker_sessions(world, settings, day, worker)
    run = _run_stepwise if settings.agent in STEPWISE_AGENTS else _run_in_process
    columns = run(world, settings, day, sessions, progress) if len(sessions) else {}
    frame = pd.DataFrame({"day": day, "session": sessions} | columns)
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
    worker: int,
    connection: Connection,
    counter: Synchronized,
) -> None:
    def progress(n: int) -> None:
        with counter.get_lock():
            counter.value += n

    try:
        connection.send_bytes(b"\0" + _encode(run_worker(world, settings, day, worker, progress)))
    except Exception as error:  # the parent raises it with the worker's number
        connection.send_bytes(b"\1" + f"worker {worker}: {error!r}".encode())
    finally:
        connection.close()


def _run_parallel(world: World, settings: RunSettings, day: int, bar) -> pd.DataFrame:
    # fork: workers inherit the loaded world instead of receiving it serialised.
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    pipes, processes = [], []
    for worker in range(settings.workers):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker_process, args=(world, settings, day, worker, send, counter)
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


def _warm_first_track_candidates(world: World, settings: RunSettings, day: int) -> None:
    # Done once in the parent so that forked workers inherit the memoised nearest tracks.
    keys = session_keys(settings.seed, day, settings.sessions)
    plan_sessions(world, keys, plan_users(world.users, keys))


def run_day(
    world: World, settings: RunSettings, day: int, show_progress: bool = True
) -> pd.DataFrame:
    """Per-session stats of one day, ordered by global session id."""
    if settings.workers > 1:
        _warm_first_track_candidates(world, settings, day)
    with day_progress(settings.episodes, f"day {day}", show_progress) as bar:
        if settings.workers == 1:
            frame = run_worker(world, settings, day, 0, bar.update)
        else:
            frame = _run_parallel(world, settings, day, bar)
    return frame.sort_values("session", kind="stable").reset_index(drop=True)
