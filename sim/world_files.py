"""Reading and writing a world directory.

Public: ``tracks.jsonl`` (the catalog the service loads). Hidden from botify: ``embeddings.npy``,
``users.jsonl``. ``world.json`` records the generation parameters and seed. Output is
byte-identical for the same parameters.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from sim.world import PublicCatalog, Users, World, WorldParams

TRACKS_FILE = "tracks.jsonl"
EMBEDDINGS_FILE = "embeddings.npy"
USERS_FILE = "users.jsonl"
PARAMS_FILE = "world.json"


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)


def track_rows(catalog: PublicCatalog) -> list[dict]:
    """The catalog as ``tracks.jsonl`` rows, ids in file order."""
    return [
        {
            "track": track,
            "artist": catalog.artist_names[artist],
            "title": title,
            "genre": catalog.genre_names[genre],
            "popularity": int(popularity),
        }
        for track, (title, artist, genre, popularity) in enumerate(
            zip(
                catalog.titles,
                catalog.track_artist.tolist(),
                catalog.track_genre.tolist(),
                catalog.popularity.tolist(),
                strict=True,
            )
        )
    ]


def user_rows(users: Users) -> list[dict]:
    """The users as ``users.jsonl`` rows."""
    return [
        {
            "user": user,
            "interests": users.interests(user).tolist(),
            "consume_bias": float(users.consume_bias[user]),
            "consume_sharpness": float(users.consume_sharpness[user]),
            "session_budget": int(users.session_budget[user]),
            "artist_discount_gamma": float(users.artist_discount_gamma[user]),
            "interest_neighbours": int(users.interest_neighbours[user]),
        }
        for user in range(users.n_users)
    ]


def write_world(world: World, out: Path) -> None:
    """Write the world's four files into ``out`` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / TRACKS_FILE).write_text(_jsonl(track_rows(world.catalog)), encoding="utf-8")
    (out / USERS_FILE).write_text(_jsonl(user_rows(world.users)), encoding="utf-8")
    np.save(out / EMBEDDINGS_FILE, world.embeddings, allow_pickle=False)
    summary = dataclasses.asdict(world.params) | {
        "n_artists": len(world.catalog.artist_names),
        "files": {"public": [TRACKS_FILE], "hidden": [EMBEDDINGS_FILE, USERS_FILE]},
    }
    (out / PARAMS_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def _codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, len(values))
    return codes, list(index)


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _load_catalog(path: Path) -> PublicCatalog:
    rows = _read_jsonl(path)
    if [row["track"] for row in rows] != list(range(len(rows))):
        raise ValueError(f"{path}: track ids must be 0..n-1 in file order")
    track_artist, artists = _codes([row["artist"] for row in rows])
    track_genre, genres = _codes([row["genre"] for row in rows])
    return PublicCatalog(
        titles=[row["title"] for row in rows],
        artist_names=artists,
        genre_names=genres,
        track_artist=track_artist,
        track_genre=track_genre,
        popularity=np.array([row["popularity"] for row in rows], dtype=np.int64),
    )


def _load_users(path: Path, params: WorldParams) -> Users:
    rows = _read_jsonl(path)
    if [row["user"] for row in rows] != list(range(len(rows))):
        raise ValueError(f"{path}: user ids must be 0..m-1 in file order")
    counts = [len(row["interests"]) for row in rows]
    if min(counts) < 1:
        raise ValueError(f"{path}: every user needs at least one interest")

    def column(name: str, default: float | None, dtype: type) -> np.ndarray:
        # default None: a required field, so a missing one raises KeyError naming it
        return np.array(
            [row[name] if default is None else row.get(name, default) for row in rows], dtype=dtype
        )

    return Users(
        interest_offsets=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        interest_tracks=np.array([t for row in rows for t in row["interests"]], dtype=np.int64),
        consume_bias=column("consume_bias", None, np.float64),
        consume_sharpness=column("consume_sharpness", None, np.float64),
        session_budget=column("session_budget", params.session_budget, np.int64),
        artist_discount_gamma=column("artist_discount_gamma", params.artist_discount_gamma, float),
        interest_neighbours=column("interest_neighbours", params.interest_neighbours, np.int64),
    )


def load_world(directory: Path) -> World:
    """Load a world directory written by :func:`write_world`."""
    saved = json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8"))
    names = {field.name for field in dataclasses.fields(WorldParams)}
    params = WorldParams(**{k: v for k, v in saved.items() if k in names})
    catalog = _load_catalog(directory / TRACKS_FILE)
    embeddings = np.load(directory / EMBEDDINGS_FILE, allow_pickle=False)
    if embeddings.shape[0] != catalog.n_tracks:
        raise ValueError(
            f"{directory}: {embeddings.shape[0]} embeddings for {catalog.n_tracks} tracks"
        )
    return World(params, catalog, embeddings, _load_users(directory / USERS_FILE, params))
