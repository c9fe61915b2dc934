"""The models ``botify train contextual`` can fit, by name, behind one interface.

A fitted model scores (context track, candidate track) pairs — what offline evaluation
measures — and cuts lists from those scores. ``learned`` is the default (the only one that
keeps climbing when the catalog's genre labels are wrong: ``bench/learning_inprocess.py``);
the others are there to compare against, trained from the same logs, and, like it, give the
same lists on any machine (sparse sums and element-wise
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
from botify.training.clusters import artist_pairs, learn_clusters
from botify.training.cooccurrence import cooccurrence_lists, fit_cooccurrence
from botify.training.diverse_lists import preferred_tracks, ranked_artists, track_lists
from botify.training.feedback import feedback_from_listens, first_track_pairs
from botify.training.listens import Listens
from botify.training.offline_eval import Lists, Scorer

K = 50
PER_ARTIST = 1
DEFAULT_MODEL = "learned"


@dataclass(frozen=True)
class FittedModel:
    """A model fitted on logs: pair scores, and ``lists(k, per_artist, seed)``: ``k`` tracks
    per key at most, ``per_artist`` of an artist at most, ties broken by a hash of ``seed``."""

    score: Scorer
    lists: Callable[[int, int, int], Lists]


def _affinity_model(
    affinity: ArtistAffinity, catalog: Catalog, preferred: np.ndarray | None = None
) -> FittedModel:
    artist = catalog.track_artist
    key_group = affinity.genre_of_artist[artist]

    def lists(k: int, per_artist: int, seed: int) -> Lists:
        ranked = ranked_artists(affinity, k, seed)
        return track_lists(ranked, artist, k, per_artist, seed, preferred, key_group)

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


def _learned(listens: Listens, catalog: Catalog, good_time: float) -> FittedModel:
    # The affinity model over artist clusters learned from behaviour, not genre labels.
    feedback = feedback_from_listens(listens, catalog.track_artist, good_time)
    artist, n = catalog.track_artist, catalog.artist_genre.size
    listened = artist_pairs(
        artist[feedback.context], artist[feedback.track], feedback.weight, feedback.time, n
    )
    left, right = (artist[tracks] for tracks in first_track_pairs(listens))
    other = left != right
    ones = np.ones(int(other.sum()))
    organic = artist_pairs(left[other], right[other], ones, ones, n)
    clusters = learn_clusters(listened, organic, catalog.artist_genre)
    affinity = fit_affinity(feedback, artist, clusters)
    preferred = preferred_tracks(
        clusters[artist[feedback.context]],
        feedback.track,
        feedback.time * feedback.weight,
        feedback.weight,
        artist,
        int(clusters.max(initial=0)) + 1,
        n,
        affinity.artist_strength,
    )
    return _affinity_model(affinity, catalog, preferred)


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
    "learned": _learned,
    "genre": _genre_pairs,
    "cooccurrence": _cooccurrence,
}
