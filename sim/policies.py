"""In-process agents for the vectorised engine: random, sticky_artist and oracle."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from sim.engine import ActiveSessions
from sim.neighbours import nearest_rows
from sim.streams import Stream, choices
from sim.user_model import SessionPlan
from sim.world import World, group_offsets


class RandomPolicy:
    """A uniformly random catalog track (the service's ``random`` baseline)."""

    def __init__(self, world: World) -> None:
        self._n_tracks = world.catalog.n_tracks

    def start(self, plan: SessionPlan) -> None:
        """Nothing to prepare."""

    def recommend(self, active: ActiveSessions) -> np.ndarray:
        """A random track per session."""
        return choices(active.keys, Stream.AGENT, active.step, self._n_tracks)


class StickyArtistPolicy:
    """A random track of the previous track's artist (the reference in-process baseline)."""

    def __init__(self, world: World) -> None:
        catalog = world.catalog
        self._track_artist = catalog.track_artist
        self._offsets, self._tracks = group_offsets(catalog.track_artist, len(catalog.artist_names))

    def start(self, plan: SessionPlan) -> None:
        """Nothing to prepare."""

    def recommend(self, active: ActiveSessions) -> np.ndarray:
        """A random track of each session's previous artist (possibly one already played)."""
        artists = self._track_artist[active.previous_tracks]
        start, end = self._offsets[artists], self._offsets[artists + 1]
        return self._tracks[start + choices(active.keys, Stream.AGENT, active.step, end - start)]


class OraclePolicy:
    """Knows each session's interest ``s``: recommends the unplayed track with the highest
    expected listen time, artist discount included, among the ``candidates`` tracks nearest to
    ``s``. A reference for benchmarks; needs ``candidates`` > the session length cap. The pool
    must hold many artists, or the artist discount exhausts it and the bound is no bound: the
    default is the smallest pool past which more candidates stop lengthening the sessions of
    the demo world (the README's benchmarks give the figures)."""

    def __init__(self, world: World, candidates: int = 2048) -> None:
        self._world = world
        # A small world has fewer tracks than the pool.
        self._candidates = min(candidates, world.catalog.n_tracks)

    def start(self, plan: SessionPlan) -> None:
        """Rank the candidates of every session once: ``s`` is fixed for a session."""
        world, users = self._world, self._world.users
        unique, inverse = np.unique(plan.interest_tracks, return_inverse=True)
        embeddings = world.embeddings
        self._tracks = nearest_rows(embeddings, embeddings[unique], self._candidates)[inverse]
        dots = np.einsum("bkd,bd->bk", embeddings[self._tracks], embeddings[plan.interest_tracks])
        bias = users.consume_bias[plan.users][:, None]
        sharpness = users.consume_sharpness[plan.users][:, None]
        self._liking = expit((dots.astype(np.float64) - bias) * sharpness)
        self._artists = world.catalog.track_artist[self._tracks]
        self._gamma = users.artist_discount_gamma[plan.users][:, None]
        self._artist_plays = np.zeros(self._tracks.shape, dtype=np.int64)
        self._played = np.zeros(self._tracks.shape, dtype=bool)

    def recommend(self, active: ActiveSessions) -> np.ndarray:
        """The best unplayed candidate of each active session."""
        rows, previous = active.rows, active.previous_tracks
        artist = self._world.catalog.track_artist[previous]
        self._played[rows] |= self._tracks[rows] == previous[:, None]
        self._artist_plays[rows] += self._artists[rows] == artist[:, None]
        value = self._liking[rows] * self._gamma[rows] ** self._artist_plays[rows]
        value[self._played[rows]] = -1.0
        return self._tracks[rows, np.argmax(value, axis=1)]


POLICIES = {"random": RandomPolicy, "sticky_artist": StickyArtistPolicy, "oracle": OraclePolicy}
