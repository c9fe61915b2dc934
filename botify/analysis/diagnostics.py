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

import pandas as pd

from botify.analysis.assignment import register_treatments
from botify.config import Config
from botify.data.catalog import read_catalog
from botify.logs.reader import EventLog

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


def _register_artists(log: EventLog, track_artists: pd.Series) -> str:
    frame = pd.DataFrame(
        {
            "track": track_artists.index.to_numpy(dtype="int64"),
            "artist": track_artists.to_numpy(str),
        }
    )
    log.con.register("track_artist", frame)
    return "track_artist"


def listened_flags(
    log: EventLog, table: str, treatments: pd.Series, track_artists: pd.Series | None
) -> str:
    """SQL of one row per listened recommended track of a closed session of sessionized
    ``table`` (``botify.logs.sessions``), with ``user``, ``session``, ``position``,
    ``treatment``, ``time`` and the flags ``repeat``, ``same_artist`` and ``artist_repeat``
    (the two artist flags NULL without a catalog)."""
    session = 'PARTITION BY "user", session'
    if track_artists is None:
        artist_join, artist_flags = "", "NULL AS same_artist, NULL AS artist_repeat"
    else:
        artist_join = f"LEFT JOIN {_register_artists(log, track_artists)} USING (track)"
        artist_flags = f"""
            coalesce(artist = lag(artist) OVER ({session} ORDER BY position), false)
                AS same_artist,
            artist IS NOT NULL
                AND row_number() OVER ({session}, artist ORDER BY position) > 1
                AS artist_repeat"""
    return f"""
        SELECT * FROM (
            SELECT "user", session, position, treatment, time,
                row_number() OVER ({session}, track ORDER BY position) > 1 AS repeat,
                {artist_flags}
            FROM {table}
            LEFT JOIN {register_treatments(log, treatments)} USING ("user")
            {artist_join}
            WHERE closed
        ) WHERE position > 0
    """


def _rate(flag: str) -> str:
    return f"count(*) FILTER ({flag}) / count({flag})"


def _mean(column: str, where: str = "TRUE") -> str:
    # Summed in a fixed order: the same figures under any number of threads.
    order = '"user", session, position'
    return f"fsum({column} ORDER BY {order}) FILTER ({where}) / count({column}) FILTER ({where})"


def treatment_diagnostics(
    log: EventLog,
    table: str,
    sessions: pd.DataFrame,
    treatments: pd.Series,
    treatment_names: list[str],
    track_artists: pd.Series | None,
    good_time: float = Config.good_time,
) -> pd.DataFrame:
    """Diagnostics per treatment (index: ``treatment_names``; columns: ``DIAGNOSTIC_COLUMNS``)
    of sessionized ``table`` and its ``sessions`` (``botify.logs.sessions``)."""
    index = pd.Index(treatment_names, name="treatment")
    listened = log.query(
        f"""
        SELECT treatment, count(*) AS recommendations,
            {_rate("repeat")} AS repeat_rate,
            {_rate("same_artist")} AS same_artist_rate,
            {_rate("artist_repeat")} AS artist_repeat_rate,
            count(*) FILTER (time < ?) / count(*) AS skip_rate,
            {_mean("time", "repeat")} AS repeat_listen_time,
            {_mean("time", "NOT repeat")} AS fresh_listen_time
        FROM ({listened_flags(log, table, treatments, track_artists)})
        WHERE treatment IS NOT NULL GROUP BY treatment
        """,
        [good_time],
    ).set_index("treatment")
    labelled = f'{table} JOIN {register_treatments(log, treatments)} USING ("user")'
    answered = log.query(
        f"""
        SELECT treatment, count(DISTINCT recommendation) AS recommended,
            {_mean("candidates")} AS mean_candidates
        FROM {labelled} WHERE recommendation IS NOT NULL GROUP BY treatment
        """
    ).set_index("treatment")
    if track_artists is not None:
        catalog_size = len(track_artists)
    else:
        catalog_size = log.row(
            f"SELECT count(DISTINCT track) FROM (SELECT track FROM {table} UNION ALL "
            f"SELECT recommendation FROM {table} WHERE recommendation IS NOT NULL)"
        )[0]
    per_session = sessions.join(treatments.rename("treatment"), on="user").groupby("treatment")
    table = pd.DataFrame(
        {
            "recommender": recommender_per_treatment(log, table, treatments),
            "users": treatments.value_counts(),
            "closed_sessions": per_session["closed"].sum(),
            "open_sessions": per_session.size() - per_session["closed"].sum(),
            **{column: listened[column] for column in listened.columns},
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
    log: EventLog, table: str, treatments: pd.Series, treatment_names: list[str]
) -> pd.DataFrame:
    """Share of answered requests per ``served_by`` (columns) and treatment (rows) of
    sessionized ``table``."""
    counts = log.query(
        f"""
        SELECT treatment, served_by, count(*) AS answers
        FROM {table} JOIN {register_treatments(log, treatments)} USING ("user")
        WHERE recommendation IS NOT NULL AND served_by IS NOT NULL GROUP BY ALL
        """
    )
    shares = counts.pivot(index="treatment", columns="served_by", values="answers")
    shares = shares.fillna(0).div(shares.sum(axis=1), axis=0)
    return shares.sort_index(axis=1).reindex(pd.Index(treatment_names, name="treatment"))


def recommender_per_treatment(log: EventLog, table: str, treatments: pd.Series) -> pd.Series:
    """The most common recommender of each treatment's events in ``table`` (ties: the first
    by name); index: treatment."""
    counts = log.query(
        f"SELECT treatment, recommender, count(*) AS n "
        f'FROM {table} JOIN {register_treatments(log, treatments)} USING ("user") '
        "WHERE recommender IS NOT NULL GROUP BY ALL ORDER BY treatment, n DESC, recommender"
    )
    return counts.drop_duplicates("treatment").set_index("treatment")["recommender"].astype(str)
