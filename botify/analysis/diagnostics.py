"""Diagnostics that explain an effect, per treatment (SPEC §7).

They are computed over the listened recommended tracks of closed sessions (every event but
a session's first: its ``track`` is the previous event's recommendation and its ``time`` the
outcome), the same population as the session metrics:

- repeat rate: the track was already played in the session (the first track counts);
- same-artist rate: its artist is the artist of the track just listened;
- artist-repeat rate: its artist was already played in the session;
- skip rate: ``time < good_time``;
- listen time of repeats and of fresh (not yet played) tracks: a mechanism that loses time
  through repeats leaves the fresh tracks' listen time intact;
- catalog coverage: distinct recommended tracks / catalog size (or / distinct tracks seen
  in the logs when there is no catalog);
- ``served_by``: which recommender or fallback produced the answers, as shares of requests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from botify.config import Config
from botify.data.catalog import read_catalog

DIAGNOSTIC_COLUMNS = (
    "recommender",
    "users",
    "closed_sessions",
    "open_sessions",
    "recommendations",
    "repeat_rate",
    "same_artist_rate",
    "artist_repeat_rate",
    "skip_rate",
    "repeat_listen_time",
    "fresh_listen_time",
    "coverage",
    "mean_candidates",
)


def load_track_artists(tracks_path: Path) -> pd.Series:
    """Map track id → artist name from a catalog ``tracks.jsonl``."""
    catalog = read_catalog(tracks_path)
    return pd.Series(catalog.artists, name="artist", dtype="object")


def listened_recommendations(
    sessionized: pd.DataFrame,
    track_artists: pd.Series | None,
    good_time: float = Config.good_time,
) -> pd.DataFrame:
    """One row per listened recommended track of a closed session, with its flags.

    Columns: ``user``, ``track``, ``time``, ``repeat``, ``skip``, ``same_artist`` and
    ``artist_repeat`` (the two artist flags are NaN without a catalog).
    """
    closed = sessionized[sessionized["closed"]]
    repeat = closed.duplicated(["session_id", "track"]).to_numpy()
    listened = (closed["position"] > 0).to_numpy()
    flags = pd.DataFrame(
        {
            "user": closed["user"].to_numpy(),
            "track": closed["track"].to_numpy(),
            "time": closed["time"].to_numpy(),
            "repeat": repeat,
            "skip": closed["time"].to_numpy() < good_time,
        }
    )
    if track_artists is None:
        flags["same_artist"] = np.nan
        flags["artist_repeat"] = np.nan
    else:
        codes = pd.Series(pd.factorize(track_artists)[0], index=track_artists.index)
        artist = closed["track"].map(codes).fillna(-1).astype("int64").to_numpy()
        previous = np.roll(artist, 1)
        known = artist >= 0
        flags["same_artist"] = (known & (artist == previous)).astype("float64")
        seen = pd.DataFrame({"session": closed["session_id"].to_numpy(), "artist": artist})
        flags["artist_repeat"] = (known & seen.duplicated().to_numpy()).astype("float64")
    return flags[listened].reset_index(drop=True)


def treatment_diagnostics(
    sessionized: pd.DataFrame,
    treatments: pd.Series,
    treatment_names: list[str],
    track_artists: pd.Series | None,
    good_time: float = Config.good_time,
) -> pd.DataFrame:
    """Diagnostics per treatment (index: ``treatment_names``; columns: ``DIAGNOSTIC_COLUMNS``)."""
    index = pd.Index(treatment_names, name="treatment")
    listened = listened_recommendations(sessionized, track_artists, good_time).join(
        treatments.rename("treatment"), on="user"
    )
    by_treatment = listened.groupby("treatment")
    events = sessionized.join(treatments.rename("treatment"), on="user")
    answered = events[events["recommendation"].notna()]
    per_session = events.drop_duplicates("session_id").groupby("treatment")["closed"]
    if track_artists is not None:
        catalog_size = len(track_artists)
    else:
        seen = pd.concat([sessionized["track"], answered["recommendation"].astype("int64")])
        catalog_size = seen.nunique()
    listen_time = listened.groupby(["treatment", "repeat"])["time"].mean().unstack("repeat")
    listen_time = listen_time.reindex(columns=[False, True])
    table = pd.DataFrame(
        {
            "recommender": events.groupby("treatment")["recommender"].agg(_most_common),
            "users": treatments.value_counts(),
            "closed_sessions": per_session.sum(),
            "open_sessions": per_session.size() - per_session.sum(),
            "recommendations": by_treatment.size(),
            "repeat_rate": by_treatment["repeat"].mean(),
            "same_artist_rate": by_treatment["same_artist"].mean(),
            "artist_repeat_rate": by_treatment["artist_repeat"].mean(),
            "skip_rate": by_treatment["skip"].mean(),
            "repeat_listen_time": listen_time[True],
            "fresh_listen_time": listen_time[False],
            "coverage": answered.groupby("treatment")["recommendation"].nunique() / catalog_size,
            "mean_candidates": answered.groupby("treatment")["candidates"].mean(),
        }
    ).reindex(index)
    counts = ["users", "closed_sessions", "open_sessions", "recommendations"]
    table[counts] = table[counts].fillna(0).astype("int64")
    return table[list(DIAGNOSTIC_COLUMNS)]


def served_by_shares(
    sessionized: pd.DataFrame, treatments: pd.Series, treatment_names: list[str]
) -> pd.DataFrame:
    """Share of answered requests per ``served_by`` (columns) and treatment (rows)."""
    answered = sessionized[sessionized["recommendation"].notna()].join(
        treatments.rename("treatment"), on="user"
    )
    shares = pd.crosstab(answered["treatment"], answered["served_by"], normalize="index")
    return shares.reindex(pd.Index(treatment_names, name="treatment"))


def _most_common(values: pd.Series) -> str:
    counts = values.value_counts()
    return str(counts.index[0]) if len(counts) else ""
