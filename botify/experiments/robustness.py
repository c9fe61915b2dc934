"""Robustness worlds: the same experiment on other worlds, and whether each effect holds.

A recommender tuned to one simulator setting can win there and lose elsewhere; so an
experiment can be rerun on further worlds, each with another seed and one behaviour of the
world changed (``VARIANTS``, in this order: the artist discount first, the behaviour a
list's artist spread is tuned to, then the structure of the catalog and the users' tastes).
An effect holds on a world when it is significant there with the same sign as on the spec's
own world.
"""

from __future__ import annotations

import pandas as pd

from botify.analysis.pipeline import AbAnalysis

METRIC = "mean_time_per_session"
VARIANTS = (
    {"artist_discount": 0.6},
    {"artist_discount": 0.9},
    {"artist_spread": 1.2},
    {"genres": 5},
    {"consume_bias": [0.3, 0.7]},
    {"interest_neighbours": 30},
)


def robustness_worlds(base: dict, n: int) -> list[dict]:
    """``sim world`` parameters of the ``n`` further worlds: world ``i`` (from 1) is ``base``
    with seed ``base seed + i`` and ``VARIANTS[(i - 1) % len(VARIANTS)]`` on top."""
    seed = int(base.get("seed", 0))
    return [
        {**base, "seed": seed + i, **VARIANTS[(i - 1) % len(VARIANTS)]} for i in range(1, n + 1)
    ]


def describe(params: dict, base: dict) -> str:
    """What a robustness world changes from the base, e.g. ``seed 8, artist_discount 0.6``."""
    changed = {key: value for key, value in params.items() if base.get(key) != value}
    return ", ".join(f"{key} {value}" for key, value in changed.items())


def effect_rows(analysis: AbAnalysis, metric: str = METRIC) -> pd.DataFrame:
    """The decisive comparison rows of ``metric`` (CUPED when possible), indexed by treatment."""
    rows = analysis.decisive[analysis.decisive["metric"] == metric]
    return rows.set_index("treatment")


def holds_table(
    main: AbAnalysis, others: list[tuple[str, AbAnalysis]], metric: str = METRIC
) -> tuple[str, dict]:
    """Markdown table (a row per world, a column per treatment) and its JSON form."""
    reference = effect_rows(main, metric)
    recommenders = main.diagnostics["recommender"]
    treatments = list(reference.index)
    header = ["world", *(f"{t} {recommenders.get(t, '')}".strip() for t in treatments)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    verdicts: dict[str, list[bool]] = {t: [] for t in treatments}
    worlds = []
    for label, analysis in [("spec's own world", main), *others]:
        rows = effect_rows(analysis, metric)
        cells, entry = [], {"world": label, "effects": {}}
        for treatment in treatments:
            row = rows.loc[treatment] if treatment in rows.index else None
            if row is None or pd.isna(row["effect"]):
                cells.append("n/a")
                holds = False
            else:
                same_sign = (row["effect"] > 0) == (reference.loc[treatment, "effect"] > 0)
                holds = bool(row["significant"] and same_sign)
                mark = "holds" if holds else "does not hold"
                cells.append(
                    f"{row['effect']:+.1f}% [{row['lower']:+.1f}, {row['upper']:+.1f}] {mark}"
                )
                entry["effects"][treatment] = {
                    "effect": float(row["effect"]),
                    "lower": float(row["lower"]),
                    "upper": float(row["upper"]),
                    "significant": bool(row["significant"]),
                    "holds": holds,
                }
            if analysis is not main:
                verdicts[treatment].append(holds)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
        worlds.append(entry)
    summary = [
        f"- {t} {recommenders.get(t, '')}: holds on {sum(v)} of {len(v)} further worlds"
        for t, v in verdicts.items()
    ]
    text = "\n".join(lines) + "\n\n" + "\n".join(summary)
    return text, {"metric": metric, "worlds": worlds}
