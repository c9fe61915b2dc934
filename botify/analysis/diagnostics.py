"""Diagnostics that explain an effect, per treatment (docs/statistics.md).

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

from botify.analysis.assignment import register_treatments
from botify.config import Config
from botify.data.catalog import read_catalog
from botify.logs.reader import EventDatabase
from botify.logs.sessions import EXACT, exact_sum, selected_events

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


def _register_artists(log: EventDatabase, track_artists: pd.Series) -> str:
    # Artists as integer codes: joining and grouping 25 million events by a name cost more.
    frame = pd.DataFrame(
        {
            "track": track_artists.index.to_numpy(dtype="int64"),
            "artist": pd.factorize(track_artists)[0].astype("int64"),
        }
    )
    return log.register("track_artist", frame)


def _listened(log: EventDatabase, table: str, labels: str, good_time: float) -> pd.DataFrame:
    # Per treatment: listened tracks, skips, and the repeats and fresh tracks with their
    # total listen time. A track's repeats are its plays after its first in the session
    # (the session's first track counts as played): per (session, track), all plays but the
    # one at the smallest position. Hash aggregates, not windows over each session's tracks,
    # and per user before per treatment, so the join with the treatments is on users, not
    # events (exact sums: the same figures either way).
    return log.query(
        f"""
        WITH per_track AS (
            SELECT "user", min(position) AS first, count(*) AS plays,
                count(*) FILTER (position > 0) AS listened,
                count(*) FILTER (position > 0 AND time < ?) AS skips,
                arg_min(time, position)::{EXACT} AS first_time,
                sum(time::{EXACT}) - arg_min(time, position)::{EXACT} AS repeat_time
            FROM {table} WHERE closed GROUP BY "user", session, track
        ), per_user AS (
            SELECT "user", sum(listened) AS recommendations, sum(skips) AS skips,
                sum(plays - 1) AS repeats, sum(repeat_time) AS repeat_time,
                count(*) FILTER (first > 0) AS fresh,
                sum(first_time) FILTER (first > 0) AS fresh_time
            FROM per_track GROUP BY "user"
        )
        SELECT treatment, sum(recommendations) AS recommendations, sum(skips) AS skips,
            sum(repeats) AS repeats, sum(repeat_time)::DOUBLE AS repeat_time,
            sum(fresh) AS fresh, sum(fresh_time)::DOUBLE AS fresh_time
        FROM per_user JOIN {labels} USING ("user") GROUP BY treatment
        """,
        [good_time],
    ).set_index("treatment")


def _artist_counts(
    log: EventDatabase, table: str, labels: str, track_artists: pd.Series
) -> pd.DataFrame:
    # Per treatment: listened tracks by the artist of the track before (within the session,
    # since the session's first event is no listened track), and plays of an artist after
    # its first in the session (like a track's repeats, for tracks in the catalog).
    artists = _register_artists(log, track_artists)
    return log.query(
        f"""
        WITH played AS (
            SELECT "user", session, position, artist.artist AS artist,
                previous.artist AS previous_artist
            FROM {table}
            LEFT JOIN {artists} artist ON artist.track = {table}.track
            LEFT JOIN {artists} previous ON previous.track = {table}.previous_track
            WHERE closed
        ), per_user AS (
            SELECT "user", count(*) FILTER (position > 0 AND artist = previous_artist)
                AS same_artist
            FROM played GROUP BY "user"
        ), per_artist AS (
            SELECT "user", count(*) - 1 AS artist_repeats FROM played
            WHERE artist IS NOT NULL GROUP BY "user", session, artist
        ), repeats AS (
            SELECT "user", sum(artist_repeats) AS artist_repeats FROM per_artist GROUP BY "user"
        )
        SELECT treatment, sum(same_artist) AS same_artist, sum(artist_repeats) AS artist_repeats
        FROM per_user LEFT JOIN repeats USING ("user") JOIN {labels} USING ("user")
        GROUP BY treatment
        """
    ).set_index("treatment")


def treatment_diagnostics(
    log: EventDatabase,
    table: str,
    sessions: pd.DataFrame,
    treatments: pd.Series,
    treatment_names: list[str],
    track_artists: pd.Series | None,
    good_time: float = Config.good_time,
) -> pd.DataFrame:
    """Diagnostics per treatment (index: ``treatment_names``; columns: ``DIAGNOSTIC_COLUMNS``)
    of the events sessionized in ``table`` and their ``sessions`` (``botify.logs.sessions``)."""
    index = pd.Index(treatment_names, name="treatment")
    labels = register_treatments(log, treatments)
    listened = _listened(log, table, labels, good_time)
    recommendations = listened["recommendations"]
    if track_artists is None:
        same_artist = artist_repeat = pd.Series(np.nan, index=listened.index)
    else:
        artist_counts = _artist_counts(log, table, labels, track_artists)
        same_artist = artist_counts["same_artist"] / recommendations
        artist_repeat = artist_counts["artist_repeats"].fillna(0) / recommendations
    events = f'{selected_events(table)} JOIN {labels} USING ("user")'
    answered = log.query(
        f"""
        SELECT treatment, count(DISTINCT recommendation) AS recommended,
            {exact_sum("candidates")} / count(candidates) AS mean_candidates
        FROM {events} WHERE recommendation IS NOT NULL GROUP BY treatment
        """
    ).set_index("treatment")
    if track_artists is not None:
        catalog_size = len(track_artists)
    else:
        selected = selected_events(table)
        catalog_size = log.row(
            f"SELECT count(DISTINCT track) FROM (SELECT track FROM {selected} UNION ALL "
            f"SELECT recommendation FROM {selected} WHERE recommendation IS NOT NULL)"
        )[0]
    per_session = sessions.join(treatments.rename("treatment"), on="user").groupby("treatment")
    table = pd.DataFrame(
        {
            "recommender": recommender_per_treatment(log, table, treatments),
            "users": treatments.value_counts(),
            "closed_sessions": per_session["closed"].sum(),
            "open_sessions": per_session.size() - per_session["closed"].sum(),
            "recommendations": recommendations,
            "repeat_rate": listened["repeats"] / recommendations,
            "same_artist_rate": same_artist,
            "artist_repeat_rate": artist_repeat,
            "skip_rate": listened["skips"] / recommendations,
            "repeat_listen_time": listened["repeat_time"] / listened["repeats"],
            "fresh_listen_time": listened["fresh_time"] / listened["fresh"],
            "coverage": answered["recommended"] / catalog_size,
            "mean_candidates": answered["mean_candidates"],
        }
    ).reindex(index)
    counts = ["users", "closed_sessions", "open_sessions", "recommendations"]
    table[counts] = table[counts].fillna(0).astype("int64")
    rates = [column for column in DIAGNOSTIC_COLUMNS if column not in ("recommender", *counts)]
    table[rates] = table[rates].astype("float64")
    return table[list(DIAGNOSTIC_COLUMNS)]


def served_by_shares(
    log: EventDatabase, table: str, treatments: pd.Series, treatment_names: list[str]
) -> pd.DataFrame:
    """Share of answered requests per ``served_by`` (columns) and treatment (rows) among the
    events sessionized in ``table``."""
    counts = log.query(
        f"""
        SELECT treatment, served_by, count(*) AS answers
        FROM {selected_events(table)} JOIN {register_treatments(log, treatments)} USING ("user")
        WHERE recommendation IS NOT NULL AND served_by IS NOT NULL GROUP BY ALL
        """
    )
    shares = counts.pivot(index="treatment", columns="served_by", values="answers")
    shares = shares.fillna(0).div(shares.sum(axis=1), axis=0)
    return shares.sort_index(axis=1).reindex(pd.Index(treatment_names, name="treatment"))


def recommender_per_treatment(log: EventDatabase, table: str, treatments: pd.Series) -> pd.Series:
    """The most common recommender of each treatment's events sessionized in ``table`` (ties:
    the first by name); index: treatment."""
    counts = log.query(
        f"SELECT treatment, recommender, count(*) AS n "
        f'FROM {selected_events(table)} JOIN {register_treatments(log, treatments)} USING ("user") '
        "WHERE recommender IS NOT NULL GROUP BY ALL ORDER BY treatment, n DESC, recommender"
    )
    return counts.drop_duplicates("treatment").set_index("treatment")["recommender"].astype(str)
