"""Offline evaluation of a model's scores on held-out sessions, against baselines.

The held-out cases are the held-out sessions' feedback pairs (``botify.training.feedback``)
with the session's first track as context: a recommended track of an artist new to the
session, and how long it was listened. A model scores every (context, track) pair; the
headline metric is the AUC of those scores for telling a good listen (``time >=
good_time``) from a skip: the chance that a random good case outscores a random skipped
one. Where the logging recommender was random (day 1: half the traffic), the cases are a
uniform sample of the catalog, so the AUC measures how the model ranks the whole catalog —
what a list is cut from — not only the few tracks an earlier model chose to show.

Why not hit-rate: an earlier round's hit-rate@10 of the next good listen ranked ALS (0.24)
far above the affinity model, which online gets 28 times ALS's session time; and on logs of
random and sticky_artist answers its cases are mostly the same artist's next track (82% on
the demo's three such days), which no list holds, so every model scores about 0. The AUC
ranks the models as the online A/B does (``bench/learning.py`` prints both). Beside it: the
mean listen time of the model's top 10% of cases, hit-rate@10 for reference, and the share
of catalog tracks that get a list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from scipy.stats import rankdata

from botify.config import Config
from botify.training.feedback import feedback_from_listens
from botify.training.listens import Listens

DAY_MS = 86_400_000
CUTOFF = 10
TEST_SHARE = 0.2
TOP_SHARE = 0.1

Lists = Mapping[int, np.ndarray]
# A model's score of each (context track, candidate track) pair: higher is better.
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Split:
    """Which sessions are held out (boolean, by session number) and how that was decided."""

    test: np.ndarray
    description: str


@dataclass(frozen=True)
class Cases:
    """Held-out feedback: context track, recommended track, its listen time."""

    context: np.ndarray
    track: np.ndarray
    time: np.ndarray


@dataclass(frozen=True)
class Metrics:
    """Offline quality of one model on the held-out cases."""

    cases: int
    auc: float
    top_time: float
    hit_rate: float
    list_coverage: float


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


def heldout_cases(
    test: Listens, track_artist: np.ndarray, good_time: float = Config.good_time
) -> Cases:
    """The feedback of ``test`` with the session's first track as the only context."""
    feedback = feedback_from_listens(test, track_artist, good_time, anchor_context=False)
    return Cases(feedback.context, feedback.track, feedback.time)


def evaluation_pairs(
    listens: Listens, good_time: float = Config.good_time
) -> tuple[np.ndarray, np.ndarray]:
    """Anchors and targets for hit-rate: consecutive listens of one session, both with
    ``time >= good_time``."""
    good = listens.time >= good_time
    same_session = listens.session[1:] == listens.session[:-1]
    pair = same_session & good[:-1] & good[1:] & (listens.track[1:] != listens.track[:-1])
    return listens.track[:-1][pair], listens.track[1:][pair]


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for ``positive`` (ties count a half)."""
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def top_time(scores: np.ndarray, time: np.ndarray, share: float = TOP_SHARE) -> float:
    """Mean listen time of the ``share`` of cases the model scores highest (ties by order)."""
    if not time.size:
        return float("nan")
    top = np.argsort(-scores, kind="stable")[: max(1, int(round(time.size * share)))]
    return float(time[top].mean())


def hit_rate(lists: Lists, anchors: np.ndarray, targets: np.ndarray, cutoff: int = CUTOFF):
    """Share of (anchor, target) cases whose target is in the top ``cutoff`` of the anchor's
    list (an anchor without a list is a miss)."""
    if not anchors.size:
        return float("nan")
    unique, which = np.unique(anchors, return_inverse=True)
    # Each anchor's top, padded with -1 (no track): one row per distinct anchor.
    tops = np.full((unique.size, cutoff), -1, dtype=np.int64)
    for row, anchor in enumerate(unique.tolist()):
        top = lists.get(anchor, ())[:cutoff]
        tops[row, : len(top)] = top
    return float((tops[which] == targets[:, None]).any(axis=1).mean())


def evaluate(
    score: Scorer,
    lists: Lists | None,
    cases: Cases,
    pairs: tuple[np.ndarray, np.ndarray],
    n_tracks: int,
    good_time: float = Config.good_time,
) -> Metrics:
    """Every metric of one model: its ``score`` on ``cases``, its ``lists`` on ``pairs``
    (a baseline without lists has no hit-rate or coverage)."""
    scores = np.asarray(score(cases.context, cases.track), dtype=np.float64)
    return Metrics(
        cases=int(cases.time.size),
        auc=auc(scores, cases.time >= good_time),
        top_time=top_time(scores, cases.time),
        hit_rate=float("nan") if lists is None else hit_rate(lists, *pairs),
        list_coverage=(
            float("nan") if lists is None else sum(1 for v in lists.values() if len(v)) / n_tracks
        ),
    )


def format_table(results: Mapping[str, Metrics], cutoff: int = CUTOFF) -> str:
    """A markdown table with one row per model."""
    lines = [
        f"| model | cases | AUC | listen time, top {TOP_SHARE:.0%} | hit-rate@{cutoff} "
        "| tracks with a list |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, m in results.items():
        hits = "–" if np.isnan(m.hit_rate) else f"{m.hit_rate:.3f}"
        coverage = "–" if np.isnan(m.list_coverage) else f"{m.list_coverage:.1%}"
        lines.append(
            f"| {name} | {m.cases} | {m.auc:.3f} | {m.top_time:.3f} | {hits} | {coverage} |"
        )
    return "\n".join(lines)
