"""Synthetic world generation: genre → artist → track structure in a hidden embedding space.

Every track embedding is the L2-normalised sum of a direction shared by the whole catalog (so a
random track is sometimes liked), its genre centre, an artist offset and a track offset. Artists
get a power-law number of tracks and a power-law popularity; users get 1–6 interest tracks drawn
by popularity, each next interest hopping with some probability to an artist similar to the
previous one. Everything is drawn from one ``numpy`` generator seeded by ``WorldParams.seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.names import GENRES, artist_names, track_titles
from sim.neighbours import NearestTracks, nearest_rows


@dataclass(frozen=True)
class WorldParams:
    """Generation parameters; saved to ``world.json`` next to the generated files."""

    seed: int = 42
    n_tracks: int = 50_000
    n_users: int = 10_000
    dim: int = 32
    n_genres: int = 20
    shared_weight: float = 0.2
    artist_spread: float = 0.7
    track_spread: float = 0.3
    tracks_per_artist_shape: float = 0.6
    max_tracks_per_artist: int = 60
    artist_popularity_shape: float = 1.1
    popularity_noise: float = 0.3
    max_interests: int = 6
    hop_probability: float = 0.5
    similar_artists: int = 10
    session_budget: int = 5
    artist_discount_gamma: float = 0.8
    interest_neighbours: int = 10
    consume_bias_low: float = 0.1
    consume_bias_high: float = 0.6
    consume_sharpness_low: float = 4.0
    consume_sharpness_high: float = 15.0
    genre_label_noise: float = 0.0
    # The population across days (``sim.population``); False: each session's user is drawn
    # uniformly and nothing carries over between days.
    population: bool = True
    activity_sigma: float = 1.5
    return_sensitivity: float = 0.5
    memory_decay: float = 0.6
    satisfaction_reference: float = 1.5
    churn_rate: float = 0.02
    churn_sensitivity: float = 1.0


@dataclass(frozen=True)
class PublicCatalog:
    """Public track data; ``track_artist`` and ``track_genre`` index the name lists."""

    titles: list[str]
    artist_names: list[str]
    genre_names: list[str]
    track_artist: np.ndarray
    track_genre: np.ndarray
    popularity: np.ndarray

    @property
    def n_tracks(self) -> int:
        """Number of tracks in the catalog."""
        return len(self.titles)


@dataclass(frozen=True)
class Users:
    """Hidden user parameters, one entry per user; interests in CSR form (see ``interests``)."""

    interest_offsets: np.ndarray
    interest_tracks: np.ndarray
    consume_bias: np.ndarray
    consume_sharpness: np.ndarray
    session_budget: np.ndarray
    artist_discount_gamma: np.ndarray
    interest_neighbours: np.ndarray

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.consume_bias)

    def interests(self, user: int) -> np.ndarray:
        """The interest track ids of one user."""
        return self.interest_tracks[self.interest_offsets[user] : self.interest_offsets[user + 1]]


@dataclass(frozen=True)
class World:
    """A generated or loaded world: catalog, hidden embeddings and users."""

    params: WorldParams
    catalog: PublicCatalog
    embeddings: np.ndarray
    users: Users

    @cached_property
    def first_track_candidates(self) -> NearestTracks:
        """Each interest track's nearest tracks, as many as the most demanding user needs."""
        return NearestTracks(self.embeddings, int(self.users.interest_neighbours.max()))


def group_offsets(groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR index of items by group: ``(offsets, items)`` with group g's items in
    ``items[offsets[g]:offsets[g+1]]``, ascending item id within a group."""
    items = np.argsort(groups, kind="stable")
    counts = np.bincount(groups, minlength=n_groups)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return offsets, items


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _tracks_per_artist(params: WorldParams, rng: np.random.Generator) -> np.ndarray:
    # Draw more artists than needed, then cut the list where the track total reaches n_tracks.
    sizes = 1 + np.floor(rng.pareto(params.tracks_per_artist_shape, params.n_tracks)).astype(int)
    sizes = np.minimum(sizes, params.max_tracks_per_artist)
    n_artists = int(np.searchsorted(np.cumsum(sizes), params.n_tracks)) + 1
    sizes = sizes[:n_artists]
    sizes[-1] -= int(sizes.sum()) - params.n_tracks
    return sizes


def _embeddings(
    params: WorldParams,
    rng: np.random.Generator,
    artist_genre: np.ndarray,
    track_artist: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    dim = params.dim
    shared = _normalise(rng.standard_normal((1, dim)))
    genre_centres = _normalise(rng.standard_normal((params.n_genres, dim)))
    artist_offsets = rng.standard_normal((len(artist_genre), dim)) / np.sqrt(dim)
    artist_centres = _normalise(genre_centres[artist_genre] + params.artist_spread * artist_offsets)
    track_offsets = rng.standard_normal((len(track_artist), dim)) / np.sqrt(dim)
    own = _normalise(artist_centres[track_artist] + params.track_spread * track_offsets)
    tracks = _normalise(params.shared_weight * shared + own).astype(np.float32)
    return tracks, artist_centres.astype(np.float32)


def _catalog_order(
    params: WorldParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Artist of each track (shuffled track order), genre of each artist, hidden popularity."""
    sizes = _tracks_per_artist(params, rng)
    n_artists = len(sizes)
    genre_weight = 1.0 / np.arange(1, params.n_genres + 1) ** 0.7
    artist_genre = rng.choice(params.n_genres, n_artists, p=genre_weight / genre_weight.sum())
    artist_popularity = 1.0 + rng.pareto(params.artist_popularity_shape, n_artists)
    track_artist = np.repeat(np.arange(n_artists), sizes)
    rank_in_artist = np.arange(params.n_tracks) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    track_popularity = (
        artist_popularity[track_artist]
        / (1.0 + rank_in_artist) ** 0.8
        * rng.lognormal(0.0, 0.5, params.n_tracks)
    )
    order = rng.permutation(params.n_tracks)
    return track_artist[order], artist_genre, track_popularity[order]


def _pick_by_weight(
    rng: np.random.Generator,
    offsets: np.ndarray,
    items: np.ndarray,
    weight: np.ndarray,
    groups: np.ndarray,
) -> np.ndarray:
    """One item per entry of ``groups``, drawn within the group proportionally to ``weight``."""
    cumulative = np.concatenate(([0.0], np.cumsum(weight[items])))
    low, high = cumulative[offsets[groups]], cumulative[offsets[groups + 1]]
    position = np.searchsorted(cumulative, low + rng.random(len(groups)) * (high - low), "right")
    return items[np.clip(position - 1, offsets[groups], offsets[groups + 1] - 1)]


def _users(
    params: WorldParams,
    rng: np.random.Generator,
    track_artist: np.ndarray,
    track_popularity: np.ndarray,
    artist_centres: np.ndarray,
) -> Users:
    n_users, n_artists = params.n_users, len(artist_centres)
    counts = rng.integers(1, params.max_interests + 1, n_users)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    artist_offsets, artist_tracks = group_offsets(track_artist, n_artists)
    whole_catalog = np.array([0, len(track_artist)])
    interests = np.empty(offsets[-1], dtype=np.int64)
    interests[offsets[:-1]] = _pick_by_weight(
        rng, whole_catalog, np.arange(len(track_artist)), track_popularity, np.zeros(n_users, int)
    )
    similar = nearest_rows(artist_centres, artist_centres, params.similar_artists + 1)[:, 1:]
    for position in range(1, params.max_interests):
        users = np.flatnonzero(counts > position)
        slots = offsets[users] + position
        previous_artist = track_artist[interests[slots - 1]]
        hop = rng.random(len(users)) < params.hop_probability
        hop_artist = similar[previous_artist, rng.integers(0, params.similar_artists, len(users))]
        popular = _pick_by_weight(
            rng, whole_catalog, np.arange(len(track_artist)), track_popularity,
            np.zeros(len(users), int),
        )  # fmt: skip
        hopped = _pick_by_weight(rng, artist_offsets, artist_tracks, track_popularity, hop_artist)
        interests[slots] = np.where(hop, hopped, popular)
    return Users(
        interest_offsets=offsets,
        interest_tracks=interests,
        consume_bias=np.round(
            rng.uniform(params.consume_bias_low, params.consume_bias_high, n_users), 4
        ),
        consume_sharpness=np.round(
            rng.uniform(params.consume_sharpness_low, params.consume_sharpness_high, n_users), 4
        ),
        session_budget=np.full(n_users, params.session_budget, dtype=np.int64),
        artist_discount_gamma=np.full(n_users, params.artist_discount_gamma),
        interest_neighbours=np.full(n_users, params.interest_neighbours, dtype=np.int64),
    )


class WorldParamError(ValueError):
    """A parameter a world cannot be generated with; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _genre_labels(params: WorldParams, artist_genre: np.ndarray) -> np.ndarray:
    """The genre each artist is listed under in the public catalog: its true genre, except
    for a ``genre_label_noise`` share of artists listed under a random one (a catalog whose
    metadata says less about taste). A generator of its own, so that the rest of the world
    does not change with the noise."""
    if params.genre_label_noise == 0.0:
        return artist_genre
    rng = np.random.default_rng([params.seed, 1])
    relabel = rng.random(artist_genre.size) < params.genre_label_noise
    return np.where(relabel, rng.integers(0, params.n_genres, artist_genre.size), artist_genre)


# Upper bounds of the sizes: a typo (users = 10**12) is refused at once instead of
# exhausting memory; each is far beyond the scale the README measures.
MAX_TRACKS = 5_000_000
MAX_USERS = 5_000_000
MAX_DIM = 512
MAX_BUDGET = 1_000
MAX_INTERESTS = 1_000


def check_params(params: WorldParams) -> None:
    """Raise ``WorldParamError`` for the first parameter a world cannot be generated with."""
    rules = [
        ("n_tracks", 2 <= params.n_tracks <= MAX_TRACKS, f"between 2 and {MAX_TRACKS:,}"),
        ("n_users", 1 <= params.n_users <= MAX_USERS, f"between 1 and {MAX_USERS:,}"),
        ("dim", 2 <= params.dim <= MAX_DIM, f"between 2 and {MAX_DIM}"),
        ("n_genres", 1 <= params.n_genres <= len(GENRES), f"between 1 and {len(GENRES)}"),
        ("session_budget", 1 <= params.session_budget <= MAX_BUDGET, f"between 1 and {MAX_BUDGET}"),
        ("artist_discount_gamma", 0.0 < params.artist_discount_gamma <= 1.0, "in (0, 1]"),
        (
            "interest_neighbours",
            1 <= params.interest_neighbours <= params.n_tracks,
            "between 1 and the number of tracks",
        ),
        (
            "max_interests",
            1 <= params.max_interests <= MAX_INTERESTS,
            f"between 1 and {MAX_INTERESTS}",
        ),
        ("hop_probability", 0.0 <= params.hop_probability <= 1.0, "in [0, 1]"),
        ("genre_label_noise", 0.0 <= params.genre_label_noise <= 1.0, "in [0, 1]"),
        ("activity_sigma", 0.0 <= params.activity_sigma <= 5.0, "in [0, 5]"),
        ("return_sensitivity", 0.0 <= params.return_sensitivity <= 10.0, "in [0, 10]"),
        ("memory_decay", 0.0 <= params.memory_decay < 1.0, "in [0, 1)"),
        ("satisfaction_reference", params.satisfaction_reference >= 0.0, "at least 0"),
        ("churn_rate", 0.0 <= params.churn_rate <= 1.0, "in [0, 1]"),
        ("churn_sensitivity", 0.0 <= params.churn_sensitivity <= 10.0, "in [0, 10]"),
        ("consume_bias_low", params.consume_bias_low <= params.consume_bias_high, "<= high"),
        (
            "consume_sharpness_low",
            0.0 < params.consume_sharpness_low <= params.consume_sharpness_high,
            "> 0 and <= high",
        ),
    ]
    for name, holds, expected in rules:
        if not holds:
            raise WorldParamError(name, f"{name} must be {expected}, got {getattr(params, name)}")


def generate_world(params: WorldParams) -> World:
    """Generate a world deterministically from ``params`` (same params → identical arrays)."""
    check_params(params)
    rng = np.random.default_rng(params.seed)
    track_artist, artist_genre, track_popularity = _catalog_order(params, rng)
    embeddings, artist_centres = _embeddings(params, rng, artist_genre, track_artist)
    noise = rng.lognormal(0.0, params.popularity_noise, params.n_tracks)
    catalog = PublicCatalog(
        titles=track_titles(rng, params.n_tracks),
        artist_names=artist_names(rng, len(artist_genre)),
        genre_names=list(GENRES[: params.n_genres]),
        track_artist=track_artist,
        track_genre=_genre_labels(params, artist_genre)[track_artist],
        popularity=np.round(100.0 * track_popularity * noise).astype(np.int64),
    )
    users = _users(params, rng, track_artist, track_popularity, artist_centres)
    return World(params=params, catalog=catalog, embeddings=embeddings, users=users)
