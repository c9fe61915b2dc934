"""Artist clusters learned from behaviour, with the catalog's genres as a prior only.

The affinity model (``affinity``) backs off from an artist pair to its cluster pair. If the
clusters are the catalog's genre labels, a mislabelled artist is listed among the wrong
artists for good: every pair the logs have not measured inherits the wrong genre's mean.
Here the clusters are a stochastic block model fitted to what users do, and the catalog
label is a prior that costs ``label_cost`` to leave: an artist the logs barely know keeps
its label, one they know well goes where its listeners say. Two kinds of evidence:

- **listen times** of recommendations (``botify.training.feedback``'s pairs, both ways
  round): under clustering ``z``, pair ``(i, j)`` is expected to be listened ``mu(z_i, z_j)``,
  the cluster pair's shrunk mean; the cost of a clustering is the weighted squared error;
- **organic co-occurrence**: the first tracks of one user's sessions, which no recommender
  chose. Artist ``i``'s co-occurring artists fall in cluster ``d`` with a probability
  ``p(d | z_i)`` learned per cluster; the cost is their negative log-likelihood, scaled by
  ``2 sigma^2`` (the listen times' residual variance) to the squared error's units.

Fitting alternates, as in k-means (Lloyd) on a block model: estimate ``mu`` and ``p`` from
the clustering, then move every artist to its cheapest cluster (staying on ties). Lloyd's
iterations only improve a clustering they start from; started from labels that carry no
information they can stay there, so a few more starts from hash-drawn partitions are run too
and the cheapest result is kept: with useful labels the labels' start wins (leaving them
costs), with useless ones a start the data can pull apart.

All sums are ``np.bincount`` (input order) and every product element-wise: the same logs
give the same clusters on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from botify.training.diverse_lists import pair_hash

# In the squared error's units. Measured on the same logs, a day after 1 and 3 nights of the
# in-process loop (bench/learning_inprocess.py), 0.5 against 2.0: clean labels 65.2 vs 69.9
# (0.5 moved 27 correctly labelled artists on day 1's thin logs), half-wrong labels 40.8 vs
# 44.1, useless labels 33.0 vs 32.1. Leaving a label should take evidence beyond chance.
LABEL_COST = 2.0
CLUSTER_STRENGTH = 20.0
ITERATIONS = 20
RESTARTS = 3
# Pseudo-counts of each partner cluster in p(d | c).
COOCCURRENCE_PRIOR = 1.0


@dataclass(frozen=True)
class ArtistPairs:
    """Evidence on artist pairs, each pair listed both ways round, duplicates summed: pair
    ``k`` is (``left[k]``, ``right[k]``) with total ``weight[k]``, weighted listen time
    ``listened[k]`` and weighted squared listen time ``squares[k]``."""

    left: np.ndarray
    right: np.ndarray
    weight: np.ndarray
    listened: np.ndarray
    squares: np.ndarray


def artist_pairs(
    left: np.ndarray, right: np.ndarray, weight: np.ndarray, time: np.ndarray, n: int
) -> ArtistPairs:
    """Both-ways, duplicate-summed ``ArtistPairs`` of ``n`` artists from one-way rows of
    artist codes with their weight and listen time."""
    codes = np.concatenate([left * n + right, right * n + left])
    unique, inverse = np.unique(codes, return_inverse=True)

    def summed(values: np.ndarray) -> np.ndarray:
        return np.bincount(inverse, np.concatenate([values, values]), minlength=unique.size)

    return ArtistPairs(
        left=unique // n,
        right=unique % n,
        weight=summed(weight),
        listened=summed(weight * time),
        squares=summed(weight * time * time),
    )


def _by_partner_cluster(pairs: ArtistPairs, cluster: np.ndarray, values: np.ndarray, k: int):
    # Per artist and partner cluster, the sum of ``values`` over the artist's pairs.
    n = cluster.size
    slot = pairs.left * k + cluster[pairs.right]
    return np.bincount(slot, values, minlength=n * k).reshape(n, k)


def _residual_variance(feedback: ArtistPairs, fitted: np.ndarray) -> float:
    # The listen times' variance around their cluster pair's mean; with no feedback, the
    # largest a time in [0, 1] can have.
    total = float(feedback.weight.sum())
    if total <= 0:
        return 0.25
    error = feedback.squares - 2.0 * fitted * feedback.listened + fitted * fitted * feedback.weight
    return float(error.sum() / total)


def _costs(
    feedback: ArtistPairs,
    organic: ArtistPairs,
    labels: np.ndarray,
    cluster: np.ndarray,
    k: int,
    label_cost: float,
) -> np.ndarray:
    """The cost of putting each artist in each cluster, the others staying where they are."""
    n = cluster.size
    weight, listened = feedback.weight, feedback.listened
    mean = float(listened.sum() / weight.sum()) if weight.size else 0.0
    pair = cluster[feedback.left] * k + cluster[feedback.right]
    sums = np.bincount(pair, listened, minlength=k * k).reshape(k, k)
    weights = np.bincount(pair, weight, minlength=k * k).reshape(k, k)
    mu = (sums + CLUSTER_STRENGTH * mean) / (weights + CLUSTER_STRENGTH)
    partner_weight = _by_partner_cluster(feedback, cluster, weight, k)
    partner_sum = _by_partner_cluster(feedback, cluster, listened, k)
    # The weighted squared error, up to each artist's own constant (the sum of its t^2).
    cost = np.zeros((n, k))
    for d in range(k):
        cost += np.multiply.outer(partner_weight[:, d], mu[:, d] * mu[:, d])
        cost -= 2.0 * np.multiply.outer(partner_sum[:, d], mu[:, d])
    if organic.weight.size:
        variance = _residual_variance(feedback, mu[cluster[feedback.left], cluster[feedback.right]])
        counts = _by_partner_cluster(organic, cluster, organic.weight, k)
        per_cluster = np.zeros((k, k))
        np.add.at(per_cluster, cluster, counts)
        log_p = np.log(
            (per_cluster + COOCCURRENCE_PRIOR)
            / (per_cluster.sum(axis=1, keepdims=True) + COOCCURRENCE_PRIOR * k)
        )
        for d in range(k):
            cost -= 2.0 * variance * np.multiply.outer(counts[:, d], log_p[:, d])
    return cost + label_cost * (np.arange(k)[None, :] != labels[:, None])


def _lloyd(
    feedback: ArtistPairs,
    organic: ArtistPairs,
    labels: np.ndarray,
    start: np.ndarray,
    k: int,
    label_cost: float,
    iterations: int,
) -> tuple[np.ndarray, float]:
    """Lloyd's iterations from ``start``: the clustering and its total cost."""
    cluster = start.copy()
    rows = np.arange(cluster.size)
    for _ in range(iterations):
        cost = _costs(feedback, organic, labels, cluster, k, label_cost)
        best = np.argmin(cost, axis=1)
        moved = cost[rows, best] < cost[rows, cluster]
        if not moved.any():
            break
        cluster = np.where(moved, best, cluster)
    cost = _costs(feedback, organic, labels, cluster, k, label_cost)
    return cluster, float(cost[rows, cluster].sum())


def learn_clusters(
    feedback: ArtistPairs,
    organic: ArtistPairs,
    labels: np.ndarray,
    label_cost: float = LABEL_COST,
    iterations: int = ITERATIONS,
    restarts: int = RESTARTS,
) -> np.ndarray:
    """The cluster of every artist (codes ``0..len(labels)-1``): the cheapest of Lloyd's
    iterations started from ``labels`` and from ``restarts`` hash-drawn partitions (each
    first fitted without the labels' cost). The
    clusters are numbered like the labels (``labels.max() + 1`` of them)."""
    k = int(labels.max(initial=0)) + 1
    artists = np.arange(labels.size)
    starts = [labels] + [
        (pair_hash(artists, np.full(labels.size, r), seed=r) % np.uint64(k)).astype(np.int64)
        for r in range(1, restarts + 1)
    ]
    # A drawn start is first fitted to the data alone: from a partition that mixes every
    # cluster, each artist's data cost is nearly the same in every cluster, so with the
    # labels' cost from the start every artist would just fall back to its label.
    starts[1:] = [
        _lloyd(feedback, organic, labels, start, k, 0.0, iterations)[0] for start in starts[1:]
    ]
    results = [
        _lloyd(feedback, organic, labels, start, k, label_cost, iterations) for start in starts
    ]
    # The first of the cheapest: the labels' start wins ties.
    return min(results, key=lambda result: result[1])[0]
