"""A small synthetic A/B event log, written as ``Event`` records, with known injected effects.

Users are split into treatments with the service's assignment function. Each session follows
the shape of docs/statistics.md (first ``/next`` with the user's own track and time 1.0, recommended
tracks, a closing ``/last``); a user leaves a session as the simulator's users do, when a
budget that drops with short listens runs out, so a higher listen time makes longer
sessions. Per treatment one can inject a listen-time lift, repeats (a repeated track is
listened 0, as in the simulator) and same-artist picks.

The writer spreads events over several processes' files (events of one user land in
different files, like behind a load balancer), rotates segments, nests them in per-replica
directories and can tear the last line of a file, so readers meet the real-world mess.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from botify.logs.schema import Event
from botify.rollout.experiments import treatment_index


@dataclass(frozen=True)
class SyntheticExperiment:
    """What to generate; the effects are per treatment name."""

    users: int = 600
    mean_sessions_per_user: float = 3.0
    tracks: int = 400
    artists: int = 80
    experiment: str = "EXP"
    arms: dict[str, str] = field(default_factory=lambda: {"C": "contextual", "T1": "anchor"})
    time_lift: dict[str, float] = field(default_factory=dict)
    repeat_prob: dict[str, float] = field(default_factory=dict)
    same_artist_prob: dict[str, float] = field(default_factory=dict)
    open_sessions: int = 10
    fallback_prob: float = 0.1
    seed: int = 0
    # Milliseconds added to every timestamp: a later experiment's logs start after an earlier's.
    start: int = 0
    # With a seed, each user's session rate is scaled by a factor drawn from it (the same in
    # every experiment generated with that seed): a persistent trait a pre-period can see.
    user_activity_seed: int | None = None


@dataclass(frozen=True)
class SyntheticSession:
    """Ground truth of one generated session."""

    user: int
    treatment: str
    time: float
    tracks: int
    closed: bool


@dataclass(frozen=True)
class SyntheticLog:
    """The generated events (in generation order) and their ground truth."""

    events: list[dict]
    sessions: list[SyntheticSession]
    treatments: dict[int, str]


def artist_of(track: int, artists: int) -> str:
    """The synthetic catalog's artist of a track."""
    return f"Artist {track % artists}"


def generate(config: SyntheticExperiment) -> SyntheticLog:
    """Generate every user's sessions as events, with the configured effects."""
    rng = np.random.default_rng(config.seed)
    arms = list(config.arms)
    events: list[dict] = []
    sessions: list[SyntheticSession] = []
    treatments: dict[int, str] = {}
    open_users = set(rng.choice(config.users, size=config.open_sessions, replace=False).tolist())
    activity = np.ones(config.users)
    if config.user_activity_seed is not None:
        activity = np.random.default_rng(config.user_activity_seed).gamma(2.0, 0.5, config.users)
    for user in range(config.users):
        treatment = arms[treatment_index(user, config.experiment, len(arms))]
        treatments[user] = treatment
        clock = config.start + int(rng.integers(0, 3_600_000))
        request = 0
        n_sessions = 1 + int(rng.poisson((config.mean_sessions_per_user - 1) * activity[user]))
        for session in range(n_sessions):
            is_open = user in open_users and session == n_sessions - 1
            session_events = _session_events(rng, config, treatment, is_open)
            for event in session_events:
                request += 1
                clock += int(rng.choice([0, rng.integers(1, 4000)], p=[0.05, 0.95]))
                record = Event(
                    **event,
                    timestamp=clock,
                    user=user,
                    request=request,
                    session=session,
                    recommender=config.arms[treatment],
                    experiment=config.experiment,
                    experiments={config.experiment: treatment},
                    degraded=False,
                )
                events.append(asdict(record))
            clock += int(rng.integers(60_000, 600_000))
            listened = [e["time"] for e in session_events[1:]]
            sessions.append(
                SyntheticSession(user, treatment, float(sum(listened)), len(listened), not is_open)
            )
    return SyntheticLog(events=events, sessions=sessions, treatments=treatments)


def _session_events(
    rng: np.random.Generator, config: SyntheticExperiment, treatment: str, is_open: bool
) -> list[dict]:
    """One session's events without user/clock fields (filled in by the caller)."""
    track, listen_time = int(rng.integers(config.tracks)), 1.0
    played = [track]
    budget = 3
    events = []
    while True:
        ending = budget <= 0
        if ending and not is_open:
            events.append(_event("last", track, listen_time, None, "", 0))
            return events
        recommendation, served_by, candidates = _recommend(rng, config, treatment, track, played)
        events.append(_event("next", track, listen_time, recommendation, served_by, candidates))
        if ending:
            return events
        track = recommendation
        if track in played:
            listen_time = 0.0
        else:
            base = rng.beta(2.0, 2.0) + config.time_lift.get(treatment, 0.0)
            listen_time = round(float(np.clip(base, 0.0, 1.0)), 2)
        played.append(track)
        if rng.random() > listen_time:
            budget -= 1


def _recommend(
    rng: np.random.Generator,
    config: SyntheticExperiment,
    treatment: str,
    track: int,
    played: list[int],
) -> tuple[int, str, int]:
    if rng.random() < config.repeat_prob.get(treatment, 0.0):
        return int(rng.choice(played)), config.arms[treatment], 20
    if rng.random() < config.same_artist_prob.get(treatment, 0.0):
        same = track % config.artists + config.artists * int(rng.integers(1, 4))
        return same % config.tracks, config.arms[treatment], 20
    if rng.random() < config.fallback_prob:
        return int(rng.integers(config.tracks)), "random_fallback", 0
    return int(rng.integers(config.tracks)), config.arms[treatment], 20


def _event(
    message: str,
    track: int,
    time: float,
    recommendation: int | None,
    served_by: str,
    candidates: int,
) -> dict:
    """The ``Event`` fields of one answer that do not depend on the user or the clock."""
    return {
        "message": message,
        "track": track,
        "time": time,
        "latency": 0.002,
        "recommendation": recommendation,
        "served_by": served_by,
        "model_version": "v1",
        "candidates": candidates,
    }


def write_logs(
    log: SyntheticLog,
    log_dir: Path,
    processes: int = 3,
    lines_per_segment: int = 700,
    torn_last_line: bool = True,
    seed: int = 0,
) -> list[Path]:
    """Write the events as several processes would, rotated and nested; return the files.

    Each event goes to a random process (a load balancer does not keep users on one
    worker). With ``torn_last_line`` the first process's last file ends with half a line,
    as after a crash mid-write; that line is not one of ``log.events``.
    """
    rng = np.random.default_rng(seed)
    owner = rng.integers(processes, size=len(log.events))
    latency = rng.gamma(2.0, 0.002, size=len(log.events)).round(6)
    paths: list[Path] = []
    for process in range(processes):
        mine = list(np.flatnonzero(owner == process))
        mine.sort(key=lambda i: log.events[i]["timestamp"])
        directory = Path(log_dir) / f"replica{process}"
        directory.mkdir(parents=True, exist_ok=True)
        for seq, start in enumerate(range(0, max(len(mine), 1), lines_per_segment)):
            path = (
                directory / f"events-host{process}-{1000 + process}-1700000000000-{seq:05d}.jsonl"
            )
            lines = [
                replace(Event(**log.events[i]), latency=float(latency[i])).to_json() + "\n"
                for i in mine[start : start + lines_per_segment]
            ]
            path.write_text("".join(lines), encoding="utf-8")
            paths.append(path)
    if torn_last_line:
        torn = Event(**log.events[0]).to_json()
        with open(paths[_last_of(paths, 0)], "a", encoding="utf-8") as f:
            f.write(torn[: len(torn) // 2])
    return paths


def _last_of(paths: list[Path], process: int) -> int:
    mine = [i for i, path in enumerate(paths) if path.parent.name == f"replica{process}"]
    return mine[-1]


def write_tracks(path: Path, tracks: int, artists: int) -> Path:
    """Write the synthetic catalog as ``tracks.jsonl``."""
    lines = [
        json.dumps(
            {
                "track": track,
                "artist": artist_of(track, artists),
                "title": f"Track {track}",
                "genre": "synthetic",
                "popularity": tracks - track,
            }
        )
        for track in range(tracks)
    ]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)
