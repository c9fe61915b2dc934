"""A tiny latent music world and simulated sessions, written as botify event logs (docs/events.md).

Tracks sit in clusters on the unit sphere (think artists); a session has a hidden interest
vector ``s`` (a track of one of the user's favourite clusters) and the user listens long to
tracks close to ``s``, as in the simulator's user model (docs/simulator.md). Recommendations
come from a ``random`` and a ``sticky_cluster`` recommender, like day-1 logs of the demo.
Nothing here is read by the code under test except the event files.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from botify.logs.schema import Event

DAY_MS = 86_400_000
Session = list[tuple[int, float, str]]
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class World:
    """Hidden track embeddings (unit rows) and each track's cluster."""

    embeddings: np.ndarray
    cluster: np.ndarray

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return int(self.cluster.max()) + 1


def make_world(n_clusters: int, tracks_per_cluster: int, seed: int, dim: int = 16) -> World:
    """Clustered unit embeddings: track ``i`` belongs to cluster ``i // tracks_per_cluster``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    cluster = np.repeat(np.arange(n_clusters), tracks_per_cluster)
    points = centres[cluster] + rng.normal(scale=0.25, size=(cluster.size, dim))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return World(embeddings=points.astype(np.float32), cluster=cluster)


TRACKS_PER_ARTIST = 4


def write_catalog(path: Path, world: World) -> Path:
    """The world's public ``tracks.jsonl``: a cluster is a genre, and every
    ``TRACKS_PER_ARTIST`` consecutive tracks of a cluster are one artist. Returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "track": track,
            "artist": f"artist-{track // TRACKS_PER_ARTIST}",
            "title": f"t{track}",
            "genre": f"genre-{world.cluster[track]}",
            "popularity": 1 + track % 7,
        }
        for track in range(world.cluster.size)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _listen_time(world: World, track: int, interest: np.ndarray) -> float:
    # Same shape as the simulator's user model: expit of the shifted, scaled similarity.
    score = float(world.embeddings[track] @ interest)
    return round(1.0 / (1.0 + np.exp(-(score - 0.7) * 12.0)), 2)


def simulate_sessions(
    world: World,
    n_sessions: int,
    n_users: int,
    seed: int,
    sticky_share: float = 0.5,
    max_tracks: int = 30,
) -> list[tuple[int, Session]]:
    """``(user, session)`` pairs; a session lists ``(track, time, recommender)``.

    The first entry is the user's own pick (time 1.0).

    The recommender of entry ``i`` is the one that recommended track ``i`` (empty for the first).
    """
    rng = np.random.default_rng(seed)
    n_tracks = world.cluster.size
    per_cluster = n_tracks // world.n_clusters
    favourites = rng.integers(0, world.n_clusters, size=(n_users, 2))
    users = rng.integers(0, n_users, size=n_sessions)
    sessions = []
    for user in users:
        home = int(rng.choice(favourites[user]))
        members = np.arange(home * per_cluster, (home + 1) * per_cluster)
        interest = world.embeddings[rng.choice(members)]
        nearest = members[np.argsort(-(world.embeddings[members] @ interest))[:10]]
        track = int(rng.choice(nearest))
        played = {track}
        session = [(track, 1.0, "")]
        budget = 5
        while budget > 0 and len(session) < max_tracks:
            if rng.random() < sticky_share:
                cluster = world.cluster[track]
                track = int(rng.integers(cluster * per_cluster, (cluster + 1) * per_cluster))
                recommender = "sticky_cluster"
            else:
                track = int(rng.integers(0, n_tracks))
                recommender = "random"
            time = 0.0 if track in played else _listen_time(world, track, interest)
            played.add(track)
            session.append((track, time, recommender))
            if rng.random() < 1.0 - time:
                budget -= 1
        sessions.append((int(user), session))
    return sessions


def session_events(
    user: int, session_no: int, session: Session, first_request: int, start_ms: int
) -> list[Event]:
    """The ``next``/``last`` events the service would log for one session (served under no
    experiment)."""
    events = []
    for i, (track, time, _) in enumerate(session):
        is_last = i == len(session) - 1
        events.append(
            Event(
                message="last" if is_last else "next",
                timestamp=start_ms + 1000 * i,
                user=user,
                track=track,
                time=time,
                latency=0.001,
                recommendation=None if is_last else session[i + 1][0],
                recommender="random" if is_last else session[i + 1][2],
                served_by="random" if is_last else session[i + 1][2],
                model_version=None,
                experiment=None,
                experiments={},
                request=first_request + i,
                session=session_no,
                candidates=0,
                degraded=False,
            )
        )
    return events


def write_synthetic_logs(
    log_dir: Path,
    world: World,
    n_sessions: int,
    seed: int,
    days: float = 2.0,
    n_users: int | None = None,
    n_files: int = 3,
) -> Path:
    """Simulate ``n_sessions`` sessions spread over ``days`` and write them as event files.

    Events go round-robin by user into ``n_files`` segments in nested folders, as several
    service processes would write them. Returns ``log_dir``.
    """
    n_users = n_users or max(1, n_sessions // 5)
    sessions = simulate_sessions(world, n_sessions, n_users, seed)
    log_dir = Path(log_dir)
    spacing = days * DAY_MS / n_sessions
    next_free_ms: dict[int, int] = {}
    requests: dict[int, int] = {}
    session_counts: dict[int, int] = {}
    with ExitStack() as stack:
        handles = []
        for f in range(n_files):
            folder = log_dir / f"replica-{f}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"events-host{f}-{100 + f}-0-00000.jsonl"
            handles.append(stack.enter_context(open(path, "w")))
        for i, (user, session) in enumerate(sessions):
            start = max(int(START_MS + i * spacing), next_free_ms.get(user, 0))
            events = session_events(
                user, session_counts.get(user, 0), session, requests.get(user, 0), start
            )
            next_free_ms[user] = start + 1000 * len(session)
            requests[user] = requests.get(user, 0) + len(session)
            session_counts[user] = session_counts.get(user, 0) + 1
            handles[user % n_files].writelines(event.to_json() + "\n" for event in events)
    return log_dir
