"""Offline evaluation of i2i lists on held-out sessions, against popularity and random baselines.

A test case is a pair of consecutive listens in a held-out session, ``a`` then ``b``, both
listened well (``time >= good_time``, the service's ``BOTIFY_GOOD_TIME``): a good list for
``a`` ranks ``b`` high.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from botify.config import Config
from botify.training.listens import Listens

DAY_MS = 86_400_000
CUTOFF = 10
TEST_SHARE = 0.2

Lists = Mapping[int, np.ndarray]


@dataclass(frozen=True)
class Split:
    """Which sessions are held out (boolean, by session number) and how that was decided."""

    test: np.ndarray
    description: str


@dataclass(frozen=True)
class Metrics:
    """Offline quality of one set of lists on the test cases."""

    cases: int
    hit_rate: float
    mrr: float
    pick_rate: float
    anchor_coverage: float
    catalog_coverage: float


def split_by_time(listens: Listens, test_share: float = TEST_SHARE) -> Split:
    """Hold out the sessions that start on the last UTC day of the logs.

    Logs spanning less than a day hold out the last ``test_share`` of sessions by start time
    instead, so that short runs (a demo "day" is minutes of wall time) still get a test set.
    """
    starts = listens.session_starts()
    present = starts < np.iinfo(np.int64).max
    first, last = starts[present].min(), starts[present].max()
    if last - first >= DAY_MS:
        last_day = last // DAY_MS
        test = present & (starts // DAY_MS == last_day)
        date = datetime.fromtimestamp(last_day * DAY_MS / 1000, tz=UTC).date()
        return Split(test=test, description=f"the sessions starting on the last day, {date}")
    sessions = np.flatnonzero(present)
    order = sessions[np.lexsort((sessions, starts[sessions]))]
    n_test = int(round(order.size * test_share))
    test = np.zeros(starts.size, dtype=bool)
    test[order[order.size - n_test :]] = True
    return Split(
        test=test,
        description=f"the last {test_share:.0%} of sessions by start (the logs span under a day)",
    )


def evaluation_pairs(
    listens: Listens, good_time: float = Config.good_time
) -> tuple[np.ndarray, np.ndarray]:
    """Anchors and targets: consecutive listens of one session, both with ``time >= good_time``."""
    good = listens.time >= good_time
    same_session = listens.session[1:] == listens.session[:-1]
    pair = same_session & good[:-1] & good[1:] & (listens.track[1:] != listens.track[:-1])
    return listens.track[:-1][pair], listens.track[1:][pair]


def popularity_lists(
    train: Listens, anchors: np.ndarray, cutoff: int = CUTOFF
) -> dict[int, np.ndarray]:
    """Every anchor gets the ``cutoff`` tracks with the most listen time in ``train``."""
    tracks, inverse = np.unique(train.track, return_inverse=True)
    listened = np.bincount(inverse, weights=train.time)
    top = tracks[np.lexsort((tracks, -listened))[:cutoff]]
    return {int(anchor): top for anchor in np.unique(anchors)}


def random_lists(
    train: Listens, anchors: np.ndarray, seed: int, cutoff: int = CUTOFF
) -> dict[int, np.ndarray]:
    """Every anchor gets ``cutoff`` distinct tracks drawn uniformly from those seen in ``train``."""
    rng = np.random.default_rng(seed)
    seen = np.unique(train.track)
    size = min(cutoff, seen.size)
    return {int(anchor): rng.choice(seen, size, replace=False) for anchor in np.unique(anchors)}


def evaluate(
    lists: Lists,
    anchors: np.ndarray,
    targets: np.ndarray,
    seen_tracks: np.ndarray,
    cutoff: int = CUTOFF,
) -> Metrics:
    """Hit-rate@cutoff, MRR@cutoff, pick rate and coverage of ``lists`` on the cases.

    A case whose anchor has no list counts as a miss. The pick rate is the chance that a
    uniform pick from the anchor's whole list is the target, which is what the ``contextual``
    recommender serves; it shows what a long list's weak tail costs, which @cutoff cannot.
    Catalog coverage is the share of ``seen_tracks`` in the top ``cutoff`` of any list.
    """
    reciprocal = np.zeros(anchors.size)
    picked = np.zeros(anchors.size)
    has_list = np.zeros(anchors.size, dtype=bool)
    for i, (anchor, target) in enumerate(zip(anchors.tolist(), targets.tolist(), strict=True)):
        ranked = lists.get(anchor)
        if ranked is None or not ranked.size:
            continue
        has_list[i] = True
        picked[i] = np.count_nonzero(ranked == target) / ranked.size
        position = np.flatnonzero(ranked[:cutoff] == target)
        if position.size:
            reciprocal[i] = 1.0 / (position[0] + 1)
    recommended = np.unique(np.concatenate([r[:cutoff] for r in lists.values()] or [[]]))
    cases = int(anchors.size)
    return Metrics(
        cases=cases,
        hit_rate=float((reciprocal > 0).mean()) if cases else 0.0,
        mrr=float(reciprocal.mean()) if cases else 0.0,
        pick_rate=float(picked.mean()) if cases else 0.0,
        anchor_coverage=float(has_list.mean()) if cases else 0.0,
        catalog_coverage=float(np.isin(seen_tracks, recommended).mean())
        if seen_tracks.size
        else 0.0,
    )


def format_table(results: Mapping[str, Metrics], cutoff: int = CUTOFF) -> str:
    """A markdown table with one row per model."""
    lines = [
        f"| model | cases | hit-rate@{cutoff} | MRR@{cutoff} | pick rate "
        "| anchor coverage | catalog coverage |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in results.items():
        lines.append(
            f"| {name} | {m.cases} | {m.hit_rate:.4f} | {m.mrr:.4f} | {m.pick_rate:.4f} | "
            f"{m.anchor_coverage:.1%} | {m.catalog_coverage:.1%} |"
        )
    return "\n".join(lines)
