"""The track catalog: the world's public ``tracks.jsonl``, held in memory.

Loaded once at start-up (before gunicorn forks, so workers share it) and read-only
afterwards. The service never reads the simulator's hidden files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

TRACKS_FILE = "tracks.jsonl"


class CatalogError(ValueError):
    """The catalog file is missing or malformed."""


@dataclass(frozen=True)
class Catalog:
    """Tracks ``0..n-1`` with their artist, title, genre and public popularity."""

    artists: tuple[str, ...]
    titles: tuple[str, ...]
    genres: tuple[str, ...]
    popularity: np.ndarray
    artist_tracks: dict[str, np.ndarray]
    by_popularity: np.ndarray

    @property
    def size(self) -> int:
        """Number of tracks."""
        return len(self.artists)

    def __contains__(self, track: object) -> bool:
        return isinstance(track, int) and 0 <= track < len(self.artists)

    def artist_of(self, track: int) -> str:
        """The artist name of ``track``."""
        return self.artists[track]

    def tracks_of(self, artist: str) -> np.ndarray:
        """All track ids of ``artist`` (empty for an unknown artist)."""
        return self.artist_tracks.get(artist, _EMPTY)

    def describe(self, track: int) -> dict:
        """The public record of ``track`` as the API shows it."""
        return {
            "track": track,
            "artist": self.artists[track],
            "title": self.titles[track],
            "genre": self.genres[track],
            "popularity": int(self.popularity[track]),
        }

    def top_popular(self, n: int) -> np.ndarray:
        """The ``n`` most popular track ids, most popular first."""
        return self.by_popularity[:n]

    @cached_property
    def track_artist(self) -> np.ndarray:
        """Each track's artist as an integer code (artists numbered in name order)."""
        return np.unique(np.array(self.artists), return_inverse=True)[1].astype(np.int64)

    @cached_property
    def artist_genre(self) -> np.ndarray:
        """Each artist code's genre as an integer code (genres numbered in name order).

        An artist's genre is the genre of its first track.
        """
        genre = np.unique(np.array(self.genres), return_inverse=True)[1].astype(np.int64)
        artist = self.track_artist
        first = np.unique(artist, return_index=True)[1]
        return genre[first]


_EMPTY = np.empty(0, dtype=np.int64)


def build_catalog(records: list[dict]) -> Catalog:
    """Build a catalog from track records whose ids are ``0..n-1`` in order."""
    if not records:
        raise CatalogError("the catalog has no tracks")
    for expected, record in enumerate(records):
        if record.get("track") != expected:
            raise CatalogError(
                f"track ids must be 0..n-1 in file order: line {expected + 1} has "
                f"track={record.get('track')!r}"
            )
    artists = tuple(str(r["artist"]) for r in records)
    popularity = np.array([float(r.get("popularity", 0)) for r in records])
    grouped: dict[str, list[int]] = {}
    for track, artist in enumerate(artists):
        grouped.setdefault(artist, []).append(track)
    # Stable sort: equal popularity keeps id order, so the ranking is deterministic.
    by_popularity = np.argsort(-popularity, kind="stable")
    return Catalog(
        artists=artists,
        titles=tuple(str(r.get("title", "")) for r in records),
        genres=tuple(str(r.get("genre", "")) for r in records),
        popularity=popularity,
        artist_tracks={a: np.array(ts, dtype=np.int64) for a, ts in grouped.items()},
        by_popularity=by_popularity,
    )


def load_catalog(data_dir: Path) -> Catalog:
    """Load ``tracks.jsonl`` from ``data_dir``."""
    path = Path(data_dir) / TRACKS_FILE
    if not path.is_file():
        raise CatalogError(
            f"no catalog at {path}: generate a world with `sim world --out {data_dir}` "
            "or point BOTIFY_DATA_DIR at one"
        )
    return read_catalog(path)


def read_catalog(path: Path) -> Catalog:
    """Load a catalog file (``tracks.jsonl`` format) wherever it is."""
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as e:
                raise CatalogError(f"{path}:{number}: not JSON ({e})") from None
    return build_catalog(records)
