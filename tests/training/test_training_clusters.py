"""Artist clusters learned from listen times (``botify.training.clusters``) on small
block-model data with known answers, and the ``learned`` model that uses them."""

from __future__ import annotations

import numpy as np
import pytest

from botify.data.catalog import read_catalog
from botify.training.clusters import ArtistPairs, artist_pairs, learn_clusters
from botify.training.listens import Listens
from botify.training.models import DEFAULT_MODEL, fit_model

NO_PAIRS = ArtistPairs(*(np.empty(0, dtype=np.int64),) * 2, *(np.empty(0),) * 3)


def block_feedback(truth: np.ndarray, pairs_per_artist: int, seed: int) -> ArtistPairs:
    """Feedback whose listen time is about 0.8 within a true block and 0.05 across (plus
    noise), for random partners: what a block-model world's logs say."""
    rng = np.random.default_rng(seed)
    liked = np.repeat(np.arange(truth.size), pairs_per_artist)
    recommended = rng.integers(0, truth.size, liked.size)
    keep = liked != recommended
    liked, recommended = liked[keep], recommended[keep]
    time = np.where(truth[liked] == truth[recommended], 0.8, 0.05)
    time = np.clip(time + rng.normal(0.0, 0.2, time.size), 0.0, 1.0)
    return artist_pairs(liked, recommended, np.ones(liked.size), time, truth.size)


def organic_pairs(truth: np.ndarray, pairs_per_artist: int, seed: int) -> ArtistPairs:
    """Co-occurrences within true blocks only (the first tracks of one user's sessions)."""
    rng = np.random.default_rng(seed)
    left = np.repeat(np.arange(truth.size), pairs_per_artist)
    right = np.array([rng.choice(np.flatnonzero(truth == truth[a])) for a in left])
    keep = left != right
    ones = np.ones(int(keep.sum()))
    return artist_pairs(left[keep], right[keep], ones, ones, truth.size)


def same_partition(clusters: np.ndarray, truth: np.ndarray) -> bool:
    """Whether two clusterings are the same up to the clusters' numbering."""
    pairs = {(int(c), int(t)) for c, t in zip(clusters, truth, strict=True)}
    return len(pairs) == len({c for c, _ in pairs}) == len({t for _, t in pairs})


def test_well_observed_artists_leave_a_wrong_label_for_the_cluster_their_listeners_say():
    truth = np.repeat([0, 1, 2], 20)
    labels = truth.copy()
    wrong = np.array([3, 25, 47])  # one mislabelled artist per block
    labels[wrong] = (truth[wrong] + 1) % 3

    clusters = learn_clusters(block_feedback(truth, 30, seed=1), NO_PAIRS, labels)

    assert (clusters == truth).all()


def test_an_artist_the_logs_barely_know_keeps_its_label():
    truth = np.repeat([0, 1], 20)
    labels = truth.copy()
    labels[39] = 0  # artist 39 is of block 1 but listed in 0, and has a single good pair
    known = block_feedback(truth[:39], 30, seed=2)
    one = artist_pairs(np.array([39]), np.array([20]), np.ones(1), np.array([0.8]), 40)
    feedback = ArtistPairs(
        *(np.concatenate([getattr(known, f), getattr(one, f)]) for f in ArtistPairs.__annotations__)
    )

    assert learn_clusters(feedback, NO_PAIRS, labels, label_cost=2.0, restarts=0)[39] == 0
    # With a prior as weak as one pair, the same pair moves it.
    assert learn_clusters(feedback, NO_PAIRS, labels, label_cost=0.1, restarts=0)[39] == 1


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_labels_are_overridden_by_enough_behaviour(seed):
    truth = np.repeat([0, 1, 2, 3], 25)
    labels = np.random.default_rng(seed).permutation(truth)

    clusters = learn_clusters(block_feedback(truth, 60, seed=4 + seed), NO_PAIRS, labels)

    assert same_partition(clusters, truth)


def test_organic_co_occurrence_alone_places_mislabelled_artists():
    truth = np.repeat([0, 1, 2], 20)
    labels = truth.copy()
    wrong = np.array([1, 22, 43])
    labels[wrong] = (truth[wrong] + 1) % 3
    # Listen times only for the correctly labelled artists; the others were never served.
    served = np.setdiff1d(np.arange(60), wrong)
    feedback = block_feedback(truth, 30, seed=7)
    kept = np.isin(feedback.left, served) & np.isin(feedback.right, served)
    feedback = ArtistPairs(*(getattr(feedback, f)[kept] for f in ArtistPairs.__annotations__))

    clusters = learn_clusters(feedback, organic_pairs(truth, 20, seed=8), labels)

    assert (clusters == truth).all()


def test_no_evidence_keeps_every_label():
    labels = np.array([2, 0, 1, 1, 0])
    assert learn_clusters(NO_PAIRS, NO_PAIRS, labels).tolist() == labels.tolist()


def test_the_same_evidence_in_another_order_gives_the_same_clusters():
    truth = np.repeat([0, 1, 2], 15)
    labels = np.roll(truth, 7)
    rng = np.random.default_rng(5)
    liked = rng.integers(0, 45, 600)
    recommended = rng.integers(0, 45, 600)
    time = np.where(truth[liked] == truth[recommended], 0.8, 0.05)
    order = rng.permutation(600)

    first = artist_pairs(liked, recommended, np.ones(600), time, 45)
    again = artist_pairs(liked[order], recommended[order], np.ones(600), time[order], 45)

    assert (
        learn_clusters(first, NO_PAIRS, labels).tolist()
        == learn_clusters(again, NO_PAIRS, labels).tolist()
    )


@pytest.mark.parametrize("n_sessions", [0, 3])
def test_the_default_model_trains_on_no_or_few_logs(n_sessions, catalog_file):
    catalog = read_catalog(catalog_file)
    sessions = np.repeat(np.arange(n_sessions), 3)
    listens = Listens(
        sessions,
        np.tile([0, 5, 9], n_sessions),
        np.tile([1.0, 0.9, 0.1], n_sessions),
        np.arange(sessions.size),
    )
    lists = fit_model(DEFAULT_MODEL, listens, catalog).lists(10, 1, 0)

    assert len(lists) == catalog.size
    assert all(len(v) for v in lists.values())
