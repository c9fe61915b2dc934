"""The learning curve: session time and retention per day and arm, over several days.

An experiment run (``botify experiment run``) serves one experiment per day; a day's arms
are its treatments. Per day and treatment: the recommender, closed sessions, mean session
time per session with a 95% t-interval, and mean tracks per session — read from the event
logs like every other figure of the report, so it works on any service's logs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from botify.analysis.assignment import user_treatments
from botify.analysis.diagnostics import recommender_per_treatment
from botify.analysis.metrics import DAY_MS, EXPERIMENT_EVENTS, sessionize_experiment
from botify.logs.reader import EventDatabase
from botify.logs.sessions import session_table

DAY_COLUMNS = (
    "day",
    "experiment",
    "treatment",
    "recommender",
    "sessions",
    "users",
    "time",
    "time_ci",
    "tracks",
    "retention",
)
DAY_TABLE_NOTE = (
    "Per day and arm: closed sessions, users with one, session time per session (mean ± 95% "
    "CI), tracks per session, and retention: the share of the day's users who came back on a "
    "later day of the same experiment (— on its last day, which has no later day yet)."
)


def _day_numbers(dates: np.ndarray, numbers: list[int]) -> dict[int, int]:
    """The spec's day number of each UTC date of one experiment's sessions: its i-th date
    is its i-th day (dates past its last day stay in its last: a day that ran past
    midnight on the service's clock)."""
    return {date: numbers[min(i, len(numbers) - 1)] for i, date in enumerate(sorted(dates))}


def day_table(log: EventDatabase, experiments: list[str]) -> pd.DataFrame:
    """One row per (day, treatment) of the ``experiments``, day ``i`` being
    ``experiments[i-1]`` (consecutive days with the same name are one experiment's days)."""
    rows = []
    for experiment in dict.fromkeys(experiments):
        if experiment not in log.experiment_columns:
            continue
        numbers = [n for n, name in enumerate(experiments, start=1) if name == experiment]
        treatments = user_treatments(log, experiment).treatments
        sessionize_experiment(log, experiment)
        sessions = session_table(log, EXPERIMENT_EVENTS)
        recommenders = recommender_per_treatment(log, EXPERIMENT_EVENTS, treatments)
        sessions = sessions[sessions["closed"]].join(treatments.rename("treatment"), on="user")
        date = sessions["start"].to_numpy() // DAY_MS
        sessions = sessions.assign(
            day=pd.Series(date).map(_day_numbers(np.unique(date), numbers)).to_numpy()
        )
        last_seen = sessions.groupby("user")["day"].max()
        for (day, treatment), group in sessions.groupby(["day", "treatment"], sort=True):
            n = len(group)
            half_width = (
                stats.t.ppf(0.975, n - 1) * group["time"].std(ddof=1) / np.sqrt(n)
                if n > 1
                else float("nan")
            )
            users = group["user"].unique()
            came_back = float((last_seen.loc[users] > day).mean())
            rows.append(
                {
                    "day": int(day),
                    "experiment": experiment,
                    "treatment": treatment,
                    "recommender": recommenders.get(treatment, ""),
                    "sessions": n,
                    "users": len(users),
                    "time": float(group["time"].mean()),
                    "time_ci": float(half_width),
                    "tracks": float(group["tracks"].mean()),
                    "retention": came_back if day < max(numbers) else float("nan"),
                }
            )
    table = pd.DataFrame(rows, columns=list(DAY_COLUMNS))
    return table.sort_values(["day", "treatment"], kind="stable").reset_index(drop=True)


def day_markdown(table: pd.DataFrame) -> str:
    """The day table as markdown: session time as mean ± 95% CI half-width."""
    lines = [
        "| day | experiment | treatment | recommender | sessions | users | session time "
        "| tracks | retention |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for _, row in table.iterrows():
        retention = "—" if pd.isna(row["retention"]) else f"{100 * row['retention']:.1f}%"
        lines.append(
            f"| {row['day']} | {row['experiment']} | {row['treatment']} | {row['recommender']} "
            f"| {row['sessions']:,} | {row['users']:,} | {row['time']:.2f} ± {row['time_ci']:.2f} "
            f"| {row['tracks']:.1f} | {retention} |"
        )
    return "\n".join(lines)


def save_days_plot(table: pd.DataFrame, title: str, path: Path) -> Path:
    """Mean session time per day (95% CIs) and retention, a line per recommender, as a PNG."""
    figure = Figure(figsize=(8, 7), layout="constrained")
    time_axis, retention_axis = figure.subplots(2, 1, sharex=True)
    for recommender, rows in table.groupby("recommender", sort=True):
        time_axis.errorbar(
            rows["day"],
            rows["time"],
            yerr=rows["time_ci"],
            marker="o",
            capsize=3,
            label=recommender,
        )
        retention_axis.plot(rows["day"], 100 * rows["retention"], marker="o", label=recommender)
    time_axis.set_ylabel("session time (mean, 95% CI)")
    retention_axis.set_ylabel("retention (% back on a later day)")
    retention_axis.set_xlabel("day")
    retention_axis.set_xticks(sorted(table["day"].unique()))
    time_axis.set_title(title, fontsize=11)
    for axis in (time_axis, retention_axis):
        axis.grid(alpha=0.3)
    time_axis.legend(fontsize=8)
    figure.savefig(path, dpi=120)
    return Path(path)
