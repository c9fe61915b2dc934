"""The models ``botify train contextual`` can fit, by name, behind one interface.

A fitted model scores (context track, candidate track) pairs — what offline evaluation
measures — and cuts lists from those scores. ``affinity`` is the default (the best online:
``bench/learning.py``); the others are there to compare against, trained from the same
logs, and, like it, give the same lists on any machine (sparse sums and element-wise
arithmetic only: no BLAS, no iterative solver, ties broken by a hash).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from botify.config import Config
from botify.data.catalog import Catalog
from botify.training.affinity import ArtistAffinity, fit_affinity
from botify.training.cooccurrence import cooccurrence_lists, fit_cooccurrence
from botify.training.diverse_lists import ranked_artists, track_lists
from botify.training.feedback import feedback_from_listens
from botify.training.listens import Listens
from botify.training.offline_eval import Lists, Scorer

K = 50
PER_ARTIST = 1


@dataclass(frozen=True)
class FittedModel:
    """A model fitted on logs: pair scores, and ``lists(k, per_artist, seed)``: ``k`` tracks
    per key at most, ``per_artist`` of an artist at most, ties broken by a hash of ``seed``."""

    score: Scorer
    lists: Callable[[int, int, int], Lists]


def _affinity_model(affinity: ArtistAffinity, catalog: Catalog) -> FittedModel:
    artist = catalog.track_artist

    def lists(k: int, per_artist: int, seed: int) -> Lists:
        return track_lists(ranked_artists(affinity, k, seed), artist, k, per_artist, seed)

    return FittedModel(lambda left, right: affinity.pairs(artist[left], artist[right]), lists)


def fit_model(
    name: str, listens: Listens, catalog: Catalog, good_time: float = Config.good_time
) -> FittedModel:
    """Fit model ``name`` (one of ``MODELS``) on ``listens`` and the public ``catalog``."""
    return MODELS[name](listens, catalog, good_time)


def _affinity(listens: Listens, catalog: Catalog, good_time: float) -> FittedModel:
    feedback = feedback_from_listens(listens, catalog.track_artist, good_time)
    return _affinity_model(
        fit_affinity(feedback, catalog.track_artist, catalog.artist_genre), catalog
    )


def _genre_pairs(listens: Listens, catalog: Catalog, good_time: float) -> FittedModel:
    # The affinity model without its artist level: what the genres alone explain.
    feedback = feedback_from_listens(listens, catalog.track_artist, good_time)
    fitted = fit_affinity(feedback, catalog.track_artist, catalog.artist_genre)
    nothing = sp.csr_matrix(fitted.pair_sum.shape)
    affinity = dataclasses.replace(fitted, pair_sum=nothing, pair_weight=nothing)
    genre = catalog.artist_genre[catalog.track_artist]

    def score(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return affinity.genre_mean[genre[left], genre[right]]

    return FittedModel(score, _affinity_model(affinity, catalog).lists)


def _cooccurrence(listens: Listens, catalog: Catalog, good_time: float) -> FittedModel:
    model = fit_cooccurrence(listens, catalog.size, good_time)
    return FittedModel(
        model.pairs,
        lambda k, per_artist, seed: cooccurrence_lists(
            model, catalog.track_artist, k, per_artist, seed
        ),
    )


MODELS: dict[str, Callable[[Listens, Catalog, float], FittedModel]] = {
    "affinity": _affinity,
    "genre": _genre_pairs,
    "cooccurrence": _cooccurrence,
}
