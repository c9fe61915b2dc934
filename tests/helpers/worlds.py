"""Test data written on the fly: a tiny catalog and helpers shared by the service's tests.

(A module of its own, not conftest.py: several test folders have a conftest, and only a
uniquely named module can be imported from all of them.)
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from botify.config import Config

ARTISTS = 20
TRACKS_PER_ARTIST = 10


def tiny_tracks(artists: int = ARTISTS) -> list[dict]:
    """``10 * artists`` tracks: artist ``a`` owns tracks ``10a..10a+9``; popularity rises
    with the id."""
    return [
        {
            "track": t,
            "artist": f"Artist {t // TRACKS_PER_ARTIST}",
            "title": f"Song {t}",
            "genre": f"genre{t // 50}",
            "popularity": t,
        }
        for t in range(artists * TRACKS_PER_ARTIST)
    ]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write records as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# What the reader requires of an event that a test about something else need not spell out:
# a /next of track 0 listened whole.
EVENT_DEFAULTS = {"message": "next", "track": 0, "time": 1.0}


def write_events(log_dir: Path, events: list[dict]) -> Path:
    """Write ``events`` (``botify.logs.schema.Event`` fields; ``EVENT_DEFAULTS`` for those
    missing) as one process's event-log segment under ``log_dir``, in the order given."""
    return write_jsonl(
        Path(log_dir) / "events-h-1-0-00000.jsonl", [EVENT_DEFAULTS | e for e in events]
    )


def with_experiment(config: Config, recommender: str) -> Config:
    """``config`` whose only experiment serves every user with ``recommender``."""
    return replace(config, experiments={"ONE": {"C": recommender}}, experiment="ONE")
