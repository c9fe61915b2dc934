"""Per-session statistics and the per-day summary table (means with 95% t-intervals)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

SESSION_COLUMNS = (
    "day",
    "session",
    "user",
    "first_track",
    "tracks",
    "time",
    "requests",
    "truncated",
    "start",  # the session's simulated start (ms since the epoch; 0 without a population)
)


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (0 for fewer than 2)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean()) if values.size else float("nan")
    if values.size < 2:
        return mean, 0.0
    sem = values.std(ddof=1) / np.sqrt(values.size)
    return mean, float(stats.t.ppf(0.5 + level / 2, values.size - 1) * sem)


def summarise(sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per day: sessions, mean session time and tracks per session with 95% CIs."""
    rows = []
    for day, group in sessions.groupby("day", sort=True):
        time_mean, time_ci = mean_ci(group["time"].to_numpy())
        tracks_mean, tracks_ci = mean_ci(group["tracks"].to_numpy())
        rows.append(
            {
                "day": int(day),
                "sessions": len(group),
                "time_mean": time_mean,
                "time_ci": time_ci,
                "tracks_mean": tracks_mean,
                "tracks_ci": tracks_ci,
                "requests": int(group["requests"].sum()),
            }
        )
    return pd.DataFrame(rows)


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a markdown table."""
    lines = [
        "| day | sessions | session time (95% CI) | tracks per session (95% CI) | requests |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in summary.itertuples(index=False):
        lines.append(
            f"| {row.day} | {row.sessions} | {row.time_mean:.3f} ± {row.time_ci:.3f} "
            f"| {row.tracks_mean:.2f} ± {row.tracks_ci:.2f} | {row.requests} |"
        )
    return "\n".join(lines)


def write_sessions(sessions: pd.DataFrame, path: str) -> None:
    """Save per-session stats as CSV, or JSONL when the name ends in ``.jsonl``."""
    if str(path).endswith(".jsonl"):
        sessions.to_json(path, orient="records", lines=True)
    else:
        sessions.to_csv(path, index=False)
