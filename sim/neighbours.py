"""Exact nearest-neighbour search by inner product over L2-normalised rows."""

from __future__ import annotations

import numpy as np

_CHUNK = 256
_SAMPLE_STRIDE = 8


def _top_k_of_scores(scores: np.ndarray, k: int) -> np.ndarray:
    # The k-th best score of every 8th column is a lower bound of the true k-th best, so the
    # true top k are all among the (few) columns at or above it: only those get sorted.
    sample = scores[:, ::_SAMPLE_STRIDE]
    if sample.shape[1] >= k:
        threshold = np.partition(sample, -k, axis=1)[:, -k]
    else:
        threshold = np.full(len(scores), -np.inf, dtype=scores.dtype)
    rows, cols = np.nonzero(scores >= threshold[:, None])
    order = np.lexsort((cols, -scores[rows, cols], rows))
    cols = cols[order]
    starts = np.searchsorted(rows[order], np.arange(len(scores)))
    return cols[starts[:, None] + np.arange(k)[None, :]]


def nearest_rows(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` rows of ``matrix`` with the largest inner product with each query row,
    best first (ties: lower index first). Shape ``(len(queries), k)``."""
    return _nearest_columns(np.ascontiguousarray(matrix.T), queries, k)


def _nearest_columns(transposed: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    if not 0 < k <= transposed.shape[1]:
        raise ValueError(f"k must be in 1..{transposed.shape[1]}, got {k}")
    result = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), _CHUNK):
        scores = queries[start : start + _CHUNK] @ transposed
        result[start : start + _CHUNK] = _top_k_of_scores(scores, k)
    return result


class NearestTracks:
    """Memoised :func:`nearest_rows` of tracks among all tracks: each query track's ``k``
    nearest are computed once, the first time it is asked for."""

    def __init__(self, embeddings: np.ndarray, k: int) -> None:
        self._embeddings = embeddings
        self._transposed = np.ascontiguousarray(embeddings.T)
        self._nearest = np.full((len(embeddings), k), -1, dtype=np.int64)

    def of(self, tracks: np.ndarray) -> np.ndarray:
        """The ``k`` nearest tracks of each of ``tracks``, nearest first."""
        missing = np.unique(tracks[self._nearest[tracks, 0] < 0])
        if missing.size:
            k = self._nearest.shape[1]
            queries = self._embeddings[missing]
            self._nearest[missing] = _nearest_columns(self._transposed, queries, k)
        return self._nearest[tracks]
