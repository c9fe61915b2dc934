"""The learning curve: session time per day and arm, over the experiments of several days.

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
from botify.analysis.metrics import EXPERIMENT_EVENTS, sessionize_experiment
from botify.logs.reader import EventDatabase
from botify.logs.sessions import session_table

DAY_COLUMNS = (
    "day",
    "experiment",
    "treatment",
    "recommender",
    "sessions",
    "time",
    "time_ci",
    "tracks",
)


def day_table(log: EventDatabase, experiments: list[str]) -> pd.DataFrame:
    """One row per (day, treatment) of the ``experiments``, day ``i`` being ``experiments[i-1]``."""
    rows = []
    for day, experiment in enumerate(experiments, start=1):
        if experiment not in log.experiment_columns:
            continue
        treatments = user_treatments(log, experiment).treatments
        sessionize_experiment(log, experiment)
        sessions = session_table(log, EXPERIMENT_EVENTS)
        recommenders = recommender_per_treatment(log, EXPERIMENT_EVENTS, treatments)
        sessions = sessions[sessions["closed"]].join(treatments.rename("treatment"), on="user")
        for treatment, group in sessions.groupby("treatment", sort=True):
            n = len(group)
            half_width = (
                stats.t.ppf(0.975, n - 1) * group["time"].std(ddof=1) / np.sqrt(n)
                if n > 1
                else float("nan")
            )
            rows.append(
                {
                    "day": day,
                    "experiment": experiment,
                    "treatment": treatment,
                    "recommender": recommenders.get(treatment, ""),
                    "sessions": n,
                    "time": float(group["time"].mean()),
                    "time_ci": float(half_width),
                    "tracks": float(group["tracks"].mean()),
                }
            )
    return pd.DataFrame(rows, columns=list(DAY_COLUMNS))


def day_markdown(table: pd.DataFrame) -> str:
    """The day table as markdown: session time as mean ± 95% CI half-width."""
    lines = [
        "| day | experiment | treatment | recommender | sessions | session time | tracks |",
        "|---:|---|---|---|---:|---:|---:|",
    ]
    for _, row in table.iterrows():
        lines.append(
            f"| {row['day']} | {row['experiment']} | {row['treatment']} | {row['recommender']} "
            f"| {row['sessions']:,} | {row['time']:.2f} ± {row['time_ci']:.2f} "
            f"| {row['tracks']:.1f} |"
        )
    return "\n".join(lines)


def save_days_plot(table: pd.DataFrame, title: str, path: Path) -> Path:
    """Mean session time per day, a line (with 95% CIs) per recommender, as a PNG."""
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axis = figure.subplots()
    for recommender, rows in table.groupby("recommender", sort=True):
        axis.errorbar(
            rows["day"],
            rows["time"],
            yerr=rows["time_ci"],
            marker="o",
            capsize=3,
            label=recommender,
        )
    axis.set_xlabel("day")
    axis.set_ylabel("session time (mean, 95% CI)")
    axis.set_xticks(sorted(table["day"].unique()))
    axis.set_title(title, fontsize=11)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.savefig(path, dpi=120)
    return Path(path)
