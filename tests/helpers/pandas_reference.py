"""The pre-DuckDB pipeline of commit 05b8c45, kept as the oracle of the SQL one.

Until 05b8c45 the analysis and training loaded every event into pandas frames and computed
sessions, metrics, assignment, the latency guardrail, diagnostics, ``served_by`` shares, the
pre-period and training's listens on them. This module keeps that code (only what the
equality tests need, its logic unchanged; helpers that did not change, such as
``compare_treatments`` or ``fill_covariates``, are botify's own) so that the tests can check
that the SQL pipeline gives the same figures on the same logs. Events are read line by line
with ``json`` (``read_frames``: the documented rules for what is an event and what a valid
one), not with the old DuckDB loader, so the oracle shares no reading code with what it checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from botify.analysis.assignment import UserTreatments, expected_treatments
from botify.analysis.checks import sample_ratio_mismatch
from botify.analysis.diagnostics import DIAGNOSTIC_COLUMNS
from botify.analysis.metrics import GUARDRAIL_METRICS, METRICS
from botify.analysis.pipeline import AbAnalysis
from botify.analysis.preperiod import PrePeriod, fill_covariates
from botify.analysis.stats import compare_treatments
from botify.config import Config
from botify.logs.reader import ReadStats, read_events
from botify.logs.schema import COLUMNS
from botify.training.listens import Listens

TEXT_COLUMNS = ("message", "recommender", "served_by", "experiment")


@dataclass(frozen=True)
class FrameLog:
    """The old ``EventLogFrame``: events in file order and their treatments, row by row."""

    events: pd.DataFrame
    experiments: pd.DataFrame  # one column per experiment name (sorted)
    read_stats: ReadStats
    invalid_events: int


def _is_int64(value) -> bool:
    return type(value) is int and -(2**63) <= value < 2**63


def _is_number(value) -> bool:
    return type(value) in (int, float)


def _number(value) -> float | None:
    if _is_number(value):
        return float(value)
    try:  # a numeric string is a number too
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return (
        json.dumps(value, separators=(",", ":"))
        if isinstance(value, dict | list)
        else (json.dumps(value))
    )


def _is_event(event: dict) -> bool:
    return any(event.get(name) is not None for name in (*COLUMNS, "experiments"))


def _is_valid(event: dict) -> bool:
    return (
        event.get("message") in ("next", "last")
        and all(_is_int64(event.get(name)) for name in ("timestamp", "user", "track"))
        and _is_number(event.get("time"))
        and 0 <= event["time"] <= 1
        and (event.get("request") is None or _is_int64(event["request"]))
    )


def read_frames(log_dir: Path) -> FrameLog:
    """Every valid event under ``log_dir``, read line by line with ``json``, as the old
    loader's frames (same columns and types)."""
    stats = ReadStats()
    kept, invalid = [], 0
    for event in read_events(log_dir, stats):
        if not _is_event(event):  # no field of an event: not an event line
            stats.events -= 1
            stats.skipped_lines += 1
        elif _is_valid(event):
            kept.append(event)
        else:
            invalid += 1
    events = pd.DataFrame(
        {
            "message": [e["message"] for e in kept],
            "timestamp": [e["timestamp"] for e in kept],
            "user": [e["user"] for e in kept],
            "track": [e["track"] for e in kept],
            "time": [float(e["time"]) for e in kept],
            "latency": [_number(e.get("latency")) for e in kept],
            "recommendation": [
                e.get("recommendation") if _is_int64(e.get("recommendation")) else None
                for e in kept
            ],
            "recommender": [_text(e.get("recommender")) for e in kept],
            "served_by": [_text(e.get("served_by")) for e in kept],
            "experiment": [_text(e.get("experiment")) for e in kept],
            "request": [_number(e.get("request")) for e in kept],
            "candidates": [_number(e.get("candidates")) for e in kept],
            "epoch": [_number(e.get("epoch")) for e in kept],
            "propensity": [_number(e.get("propensity")) for e in kept],
        }
    )
    events = events.astype(
        {
            "timestamp": "int64",
            "user": "int64",
            "track": "int64",
            "latency": "float64",
            "recommendation": "Int64",
            "request": "float64",
            "candidates": "float64",
            "epoch": "float64",
            "propensity": "float64",
        }
    ).astype({name: "category" for name in TEXT_COLUMNS})
    treatments = [
        {k: _text(v) for k, v in e["experiments"].items()}
        if isinstance(e.get("experiments"), dict)
        else {}
        for e in kept
    ]
    experiments = pd.DataFrame.from_records(treatments, index=events.index)
    experiments = experiments[sorted(experiments.columns)].astype("category")
    return FrameLog(events, experiments, stats, invalid)


# botify/logs/sessions.py


def sessionize(events: pd.DataFrame) -> pd.DataFrame:
    """Events sorted by ``(user, timestamp, epoch, request)`` with ``session_id`` (unique over
    the frame), ``position`` and ``closed``. Ties went by file order; since the SQL reader
    keeps no file order (it cost 15% of its reading time), they go by message, track and time
    here too, so the oracle checks that order."""
    order = ["user", "timestamp", "epoch", "request", "message", "track", "time"]
    ordered = events.sort_values(order, kind="stable").reset_index(drop=True)
    user = ordered["user"].to_numpy()
    is_last = ordered["message"].to_numpy() == "last"
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = (user[1:] != user[:-1]) | is_last[:-1]
    session_id = np.cumsum(starts) - 1
    first_row = np.flatnonzero(starts)
    ordered["session_id"] = session_id
    ordered["position"] = np.arange(len(ordered)) - first_row[session_id]
    ends = np.append(first_row[1:], len(ordered)) - 1 if len(ordered) else first_row
    ordered["closed"] = is_last[ends][session_id]
    return ordered


def session_table(sessionized: pd.DataFrame) -> pd.DataFrame:
    """One row per session: ``user``, ``closed``, ``time``, ``tracks`` and ``start``."""
    recommended = sessionized["position"] > 0
    grouped = sessionized.assign(
        listened_time=sessionized["time"].where(recommended, 0.0),
        listened=recommended.astype("int64"),
    ).groupby("session_id", sort=True)
    return pd.DataFrame(
        {
            "user": grouped["user"].first(),
            "closed": grouped["closed"].first(),
            "time": grouped["listened_time"].sum(),
            "tracks": grouped["listened"].sum(),
            "start": grouped["timestamp"].min(),
        }
    )


# botify/analysis/metrics.py


def user_metrics(sessionized: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Per-user metrics (index: user; columns: ``METRICS``)."""
    closed = sessions[sessions["closed"]].groupby("user")
    users = pd.Index(np.unique(sessionized["user"].to_numpy()), name="user")
    time = closed["time"].sum().reindex(users, fill_value=0.0)
    count = closed.size().reindex(users, fill_value=0)
    tracks = closed["tracks"].sum().reindex(users, fill_value=0)
    per_session = count.where(count > 0)
    return pd.DataFrame(
        {
            "time": time.astype("float64"),
            "sessions": count.astype("int64"),
            "mean_time_per_session": time / per_session,
            "mean_tracks_per_session": tracks / per_session,
            "mean_request_latency": sessionized.groupby("user")["latency"].mean().reindex(users),
            **_returns(sessions, users),
        },
        index=users,
    )


def _returns(sessions: pd.DataFrame, users: pd.Index) -> dict[str, pd.Series]:
    """active_days, retention (NaN when first seen on the window's last day), return_gap."""
    day = sessions["start"] // 86_400_000
    last_day = day.max() if len(day) else 0
    active, retention, gap = {}, {}, {}
    for user, days in day[sessions["closed"]].groupby(sessions["user"]):
        seen = sorted(set(days))
        active[user] = len(seen)
        retention[user] = np.nan if seen[0] == last_day else float(len(seen) > 1)
        gap[user] = np.mean(np.diff(seen)) if len(seen) > 1 else np.nan
    return {
        "active_days": pd.Series(active, dtype="int64").reindex(users, fill_value=0),
        "retention": pd.Series(retention, dtype="float64").reindex(users),
        "return_gap": pd.Series(gap, dtype="float64").reindex(users),
    }


# botify/analysis/assignment.py


def served_under(events: pd.DataFrame, experiments: pd.DataFrame, experiment: str) -> pd.Series:
    """Which events belong to ``experiment`` (a boolean mask aligned with ``events``)."""
    if experiment not in experiments.columns:
        raise ValueError(f"experiment {experiment!r} does not occur in the logs")
    active = events["experiment"]
    return experiments[experiment].notna() & (active.isna() | (active == experiment))


def user_treatments(
    events: pd.DataFrame, experiments: pd.DataFrame, experiment: str
) -> UserTreatments:
    """The treatment of every user that has events served under ``experiment``."""
    included = served_under(events, experiments, experiment)
    labelled = pd.DataFrame({"user": events["user"], "treatment": experiments[experiment]})
    labelled = labelled[included].astype({"treatment": "str"})
    distinct = labelled.drop_duplicates()
    per_user = distinct.groupby("user")["treatment"]
    consistent = per_user.size() == 1
    treatments = per_user.first()[consistent].rename("treatment")
    return UserTreatments(
        treatments=treatments,
        events_outside=int((~included).sum()),
        users_with_conflicting_treatments=int((~consistent).sum()),
    )


def latest_experiment(events: pd.DataFrame, experiments: pd.DataFrame) -> str:
    """The experiment served by the latest event (without ``experiment``: the most logged)."""
    served = events["experiment"].notna()
    if served.any():
        latest = events.loc[served, "timestamp"].max()
        # Of two at the latest millisecond, the first by name (the SQL reader has no file order).
        return str(min(events.loc[served & (events["timestamp"] == latest), "experiment"]))
    counts = experiments.notna().sum()
    if counts.empty or counts.max() == 0:
        raise ValueError("the logs carry no experiment assignment")
    return str(counts.idxmax())


# botify/analysis/checks.py


def latency_guardrail(
    events: pd.DataFrame,
    treatments: pd.Series,
    control: str,
    treatment_names: list[str],
    max_increase: float = 0.2,
    quantile: float = 0.99,
) -> pd.DataFrame:
    """p99 request latency per treatment (index: treatment) against the control's."""
    latency = events[["user", "latency"]].join(treatments.rename("treatment"), on="user")
    grouped = latency.dropna(subset=["treatment", "latency"]).groupby("treatment")["latency"]
    index = pd.Index([control, *treatment_names], name="treatment")
    p99_ms = (1000 * grouped.quantile(quantile)).reindex(index)
    change = p99_ms / p99_ms[control] - 1
    return pd.DataFrame(
        {
            "requests": grouped.size().reindex(index, fill_value=0).astype("int64"),
            "p99_latency_ms": p99_ms,
            "change": change,
            "breached": np.asarray(change > max_increase),
        },
        index=index,
    )


# botify/analysis/diagnostics.py


def listened_recommendations(
    sessionized: pd.DataFrame,
    track_artists: pd.Series | None,
    good_time: float = Config.good_time,
) -> pd.DataFrame:
    """One row per listened recommended track of a closed session, with its flags."""
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
    """Diagnostics per treatment (index: ``treatment_names``)."""
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


# botify/analysis/preperiod.py


def pre_period(log: FrameLog, experiment: str, users: pd.Index) -> PrePeriod | None:
    """The pre-period of ``experiment`` and covariates of ``users``; None without one."""
    mask = served_under(log.events, log.experiments, experiment)
    start = int(log.events.loc[mask, "timestamp"].min())
    earlier = log.events[log.events["timestamp"] < start]
    if earlier.empty:
        return None
    sessionized = sessionize(earlier)
    pre_metrics = user_metrics(sessionized, session_table(sessionized))
    return PrePeriod(
        start=start,
        events=len(earlier),
        users_seen=int(users.isin(pre_metrics.index).sum()),
        users=len(users),
        covariates=fill_covariates(pre_metrics, users),
    )


# botify/analysis/pipeline.py


def analyze_experiment(
    log: FrameLog,
    experiment: str,
    control: str = "C",
    track_artists: pd.Series | None = None,
    good_time: float = Config.good_time,
    confidence: float = 0.95,
    max_latency_increase: float = 0.2,
) -> AbAnalysis:
    """Sessionize the experiment's events and compute metrics, statistics and diagnostics."""
    assignment = user_treatments(log.events, log.experiments, experiment)
    observed = sorted(assignment.treatments.unique())
    if control not in observed:
        raise ValueError(f"control {control!r} has no users in experiment {experiment!r}")
    names = expected_treatments(observed, control)
    others = names[1:]
    sessionized = sessionize(log.events[served_under(log.events, log.experiments, experiment)])
    sessions = session_table(sessionized)
    metrics = user_metrics(sessionized, sessions)
    treatments = assignment.treatments
    pre = pre_period(log, experiment, metrics.index)
    compare = {
        "metrics": metrics,
        "treatments": treatments,
        "control": control,
        "treatment_names": others,
        "metric_names": list(METRICS),
        "confidence": confidence,
        "guardrails": GUARDRAIL_METRICS,
    }
    users = treatments.value_counts().reindex(pd.Index(names, name="treatment"), fill_value=0)
    return AbAnalysis(
        experiment=experiment,
        control=control,
        treatment_names=others,
        files=log.read_stats.files,
        events=len(log.events),
        skipped_lines=log.read_stats.skipped_lines,
        invalid_events=log.invalid_events,
        events_outside=assignment.events_outside,
        users_with_conflicting_treatments=assignment.users_with_conflicting_treatments,
        closed_sessions=int(sessions["closed"].sum()),
        open_sessions=int((~sessions["closed"]).sum()),
        metrics=metrics,
        treatments=treatments,
        comparison=compare_treatments(**compare),
        sample_ratio=sample_ratio_mismatch(users),
        latency=latency_guardrail(
            sessionized, treatments, control, others, max_increase=max_latency_increase
        ),
        diagnostics=treatment_diagnostics(sessionized, treatments, names, track_artists, good_time),
        served_by=served_by_shares(sessionized, treatments, names),
        has_artists=track_artists is not None,
        pre_period=pre,
        adjusted=None if pre is None else compare_treatments(**compare, covariates=pre.covariates),
    )


# botify/training/listens.py


def listens_from_sessions(sessionized: pd.DataFrame) -> Listens:
    """The listens of events sessionized by ``sessionize``."""
    return Listens(
        session=sessionized["session_id"].to_numpy(dtype=np.int64),
        track=sessionized["track"].to_numpy(dtype=np.int64),
        time=sessionized["time"].to_numpy(dtype=np.float64),
        timestamp=sessionized["timestamp"].to_numpy(dtype=np.int64),
    )
