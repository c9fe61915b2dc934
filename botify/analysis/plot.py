"""The report's figure: each treatment's relative effect with its confidence interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

SIGNIFICANT_COLOUR = "#1f4e9c"
NOT_SIGNIFICANT_COLOUR = "#8c8c8c"


def effects_figure(comparison: pd.DataFrame, title: str) -> Figure:
    """One panel per metric; a point per treatment at its effect (%) with its CI as a bar.

    Blue: significant after Holm; grey: not. Whether an increase is good depends on the
    metric (latency), so colour says only "significant". Treatments without enough users
    are labelled "n/a" instead of drawn.
    """
    metrics = list(dict.fromkeys(comparison["metric"]))
    treatments = list(dict.fromkeys(comparison["treatment"]))
    height = 0.6 + len(metrics) * (0.55 + 0.45 * len(treatments))
    figure = Figure(figsize=(9, height), layout="constrained")
    axes = np.atleast_1d(figure.subplots(len(metrics), 1, squeeze=False)[:, 0])
    for axis, metric in zip(axes, metrics, strict=True):
        rows = comparison[comparison["metric"] == metric].set_index("treatment")
        _draw_metric(axis, rows.reindex(treatments), metric)
    figure.suptitle(f"{title}\n(blue: significant after Holm correction; grey: not)", fontsize=11)
    return figure


def _draw_metric(axis: Axes, rows: pd.DataFrame, metric: str) -> None:
    positions = np.arange(len(rows))[::-1]
    axis.axvline(0.0, color="black", linewidth=0.8)
    for y, (_, row) in zip(positions, rows.iterrows(), strict=True):
        if np.isnan(row["effect"]) or np.isnan(row["lower"]):
            axis.text(0.0, y, "  n/a (too few users)", va="center", fontsize=9)
            continue
        colour = SIGNIFICANT_COLOUR if row["significant"] else NOT_SIGNIFICANT_COLOUR
        axis.errorbar(
            row["effect"],
            y,
            xerr=[[row["effect"] - row["lower"]], [row["upper"] - row["effect"]]],
            fmt="o",
            color=colour,
            capsize=4,
            markersize=6,
        )
        label = f"{row['effect']:+.1f}% [{row['lower']:+.1f}, {row['upper']:+.1f}]"
        axis.annotate(
            label,
            (row["upper"], y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            color=colour,
        )
    axis.set_yticks(positions, [str(t) for t in rows.index])
    axis.set_ylim(-0.7, len(rows) - 0.3)
    axis.set_title(metric, loc="left", fontsize=10)
    axis.set_xlabel("effect vs control, % (95% CI)", fontsize=9)
    axis.grid(axis="x", alpha=0.3)
    axis.margins(x=0.35)


def save_effects_plot(comparison: pd.DataFrame, title: str, path: Path) -> Path:
    """Draw ``effects_figure`` and write it as a PNG to ``path``."""
    effects_figure(comparison, title).savefig(path, dpi=120)
    return Path(path)
