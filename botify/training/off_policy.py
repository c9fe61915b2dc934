"""Off-policy evaluation: the listen time new lists would get online, from logged answers.

Every answer logs the probability with which the serving policy chose its track
(``propensity``; ``botify.recommenders.exploration``), and the next event of the session
says how long that track was listened. The target policy is the ``contextual`` recommender
serving the new lists with the same exploration share: from the event's track ``c`` it
answers ``t`` with probability

    pi(t | c) = share / n_tracks + (1 - share) * [t in list(c)] / len(list(c)).

Each logged answer gets the importance weight ``w = min(pi(t | c) / propensity, clip)``
and the estimates of the mean listen time per recommendation are

- IPS: ``sum(w r) / n``;
- SNIPS (self-normalised): ``sum(w r) / sum(w)``, the headline: it stays in [0, 1]
  whatever the clipping;

each with a normal 95% interval (SNIPS's by the delta method). Clipping trades variance for
a bias towards the tracks the logging policy served often (Ionides 2008; Swaminathan &
Joachims 2015 for SNIPS). The estimate treats answers as independent contexts: that a
policy changes the rest of a session (the artist discount, when the user leaves) is outside
what it measures, which is why it is shown beside the online A/B, not instead of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from botify.training.listens import Listens

CLIP = 100.0
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class LoggedAnswers:
    """Answers with a known propensity: the event's track (context), the track answered,
    its propensity and its listen time (the next event's ``time``)."""

    context: np.ndarray
    answer: np.ndarray
    propensity: np.ndarray
    reward: np.ndarray

    def __len__(self) -> int:
        return int(self.answer.size)


@dataclass(frozen=True)
class Estimate:
    """An off-policy estimate of the mean listen time per recommendation, with its 95%
    interval, and the figures behind it."""

    method: str
    value: float
    lower: float
    upper: float
    answers: int
    effective_answers: float
    clipped: int


def logged_answers(listens: Listens) -> LoggedAnswers:
    """The answers of ``listens`` whose propensity is known and whose track the session's
    next listen is (an answer the user never reported has no listen time)."""
    if listens.answer is None or listens.propensity is None or len(listens) < 2:
        empty = np.empty(0, dtype=np.int64)
        return LoggedAnswers(empty, empty, np.empty(0), np.empty(0))
    same_session = listens.session[1:] == listens.session[:-1]
    answer, propensity = listens.answer[:-1], listens.propensity[:-1]
    known = same_session & (answer == listens.track[1:]) & (propensity > 0)
    return LoggedAnswers(
        context=listens.track[:-1][known],
        answer=answer[known],
        propensity=propensity[known],
        reward=listens.time[1:][known],
    )


def target_probabilities(
    answers: LoggedAnswers, lists: Mapping[int, np.ndarray], n_tracks: int, share: float
) -> np.ndarray:
    """``pi(answer | context)`` of the contextual recommender serving ``lists`` with
    exploration ``share`` (module doc)."""
    keys = np.fromiter(lists.keys(), dtype=np.int64, count=len(lists))
    lengths = np.fromiter((len(lists[k]) for k in keys.tolist()), dtype=np.int64, count=keys.size)
    length_of = np.zeros(n_tracks, dtype=np.int64)
    length_of[keys] = lengths
    # A list entry is the pair code key * n_tracks + track; an answer is in its context's
    # list when its own pair code is among them.
    entries = np.repeat(keys, lengths) * n_tracks + (
        np.concatenate([lists[k] for k in keys.tolist()]) if keys.size else np.empty(0, np.int64)
    )
    listed = np.isin(answers.context * n_tracks + answers.answer, entries)
    length = length_of[answers.context]
    in_list = np.where(listed, 1.0 / np.maximum(length, 1), 0.0)
    return share / n_tracks + (1.0 - share) * in_list


def estimate(
    answers: LoggedAnswers,
    lists: Mapping[int, np.ndarray],
    n_tracks: int,
    share: float,
    clip: float = CLIP,
) -> tuple[Estimate, Estimate]:
    """IPS and SNIPS estimates of the listen time ``lists`` would get (module doc)."""
    n = len(answers)
    if n == 0:
        empty = float("nan")
        return tuple(Estimate(m, empty, empty, empty, 0, 0.0, 0) for m in ("IPS", "SNIPS"))
    raw = target_probabilities(answers, lists, n_tracks, share) / answers.propensity
    weight = np.minimum(raw, clip)
    clipped = int(np.count_nonzero(raw > clip))
    reward = answers.reward
    weighted = weight * reward
    ips = float(weighted.sum() / n)
    ips_se = float(weighted.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    total = float(weight.sum())
    effective = total * total / float((weight * weight).sum()) if total > 0 else 0.0
    if total > 0:
        snips = float(weighted.sum() / total)
        snips_se = float(np.sqrt(((weight * (reward - snips)) ** 2).sum()) / total)
    else:
        snips, snips_se = float("nan"), float("nan")
    return (
        Estimate("IPS", ips, ips - Z_95 * ips_se, ips + Z_95 * ips_se, n, effective, clipped),
        Estimate(
            "SNIPS",
            snips,
            max(0.0, snips - Z_95 * snips_se),
            min(1.0, snips + Z_95 * snips_se),
            n,
            effective,
            clipped,
        ),
    )


def on_policy_mean(answers: LoggedAnswers) -> float:
    """The mean listen time the logging policy itself got (the figure to beat)."""
    return float(answers.reward.mean()) if len(answers) else float("nan")


def format_estimates(estimates: tuple[Estimate, ...], logged: float, share: float) -> str:
    """A markdown table of the estimates, under the logging policy's own mean."""
    lines = [
        f"| policy | estimator | listen time per recommendation | 95% CI | answers "
        f"| effective answers | weights clipped at {CLIP:g} |",
        "|---|---|---:|---|---:|---:|---:|",
        f"| logged (what was served) | on-policy mean | {logged:.3f} | – | "
        f"{estimates[0].answers} | – | – |",
    ]
    for e in estimates:
        lines.append(
            f"| new lists, contextual, exploration {share:g} | {e.method} | {e.value:.3f} "
            f"| [{e.lower:.3f}, {e.upper:.3f}] | {e.answers} | {e.effective_answers:.0f} "
            f"| {e.clipped} |"
        )
    return "\n".join(lines)
