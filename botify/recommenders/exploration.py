"""Exploration: a share of a list-based recommender's answers is a uniformly random track.

Lists trained on the logs only learn about what the logs show, and the logs only show what
the lists recommended: without exploration a pair the lists never served can never prove
itself. So every list-based recommender (the i2i and per-user lists and the anchor family)
answers, with probability ``share`` (``BOTIFY_EXPLORE``), a uniformly random catalog track
instead of its own pick, logged as ``<name>_explore``. Its answers record the mixture's
probability of the track served (``propensity``), which makes the logs usable for
off-policy evaluation of new lists (``botify.training.off_policy``):

    p(track) = share / n_tracks + (1 - share) * p_recommender(track)

The exploration draw is made after the recommender's own, from the same per-request
generator, so a share of 0 answers exactly what the recommender alone would.
"""

from __future__ import annotations

import dataclasses

from botify.recommenders.base import Recommendation, Recommender, Request

EXPLORE_SUFFIX = "_explore"


def pick_probability(chosen: Recommendation, track: int) -> float | None:
    """The probability that the recommender which answered ``chosen`` picks ``track``:
    uniform over ``chosen.pool`` (over the whole catalog when it has none); None when the
    recommender did not say."""
    if chosen.propensity is None:
        return None
    # The pick itself is in its pool: no scan on the common, unexplored answer.
    if chosen.pool is None or track == chosen.track:
        return chosen.propensity
    return chosen.propensity if bool((chosen.pool == track).any()) else 0.0


class ExploringRecommender:
    """``recommender`` with a ``share`` of its answers replaced by a random catalog track."""

    def __init__(self, recommender: Recommender, n_tracks: int, share: float) -> None:
        self.recommender = recommender
        self.name = recommender.name
        self.needs = recommender.needs
        self.n_tracks = n_tracks
        self.share = share

    def recommend_next(self, request: Request) -> Recommendation:
        """The recommender's answer, or with probability ``share`` a random track; either
        with the mixture's propensity."""
        chosen = self.recommender.recommend_next(request)
        explored = request.rng.random() < self.share
        track = request.rng.randrange(self.n_tracks) if explored else chosen.track
        own = pick_probability(chosen, track)
        propensity = None if own is None else self.share / self.n_tracks + (1.0 - self.share) * own
        if not explored:
            return dataclasses.replace(chosen, propensity=propensity)
        return Recommendation(
            track, self.name + EXPLORE_SUFFIX, self.n_tracks, None, propensity, pool=None
        )
