"""Exact nearest-neighbour search by inner product, the same on every machine.

A matrix product's rounding depends on the BLAS kernel, its thread count and the shape of
the batch it is part of, so two machines (or a 3,000- and a 10,000-session day) could rank
two near-equal neighbours differently. The fast product therefore only *shortlists*: every
row whose fast score is within ``_MARGIN`` of a lower bound of the k-th best, a bound far
wider than any rounding error of the product. The shortlist is then scored again in float64
by a fixed sequence of element-wise multiply-adds (no BLAS, no reduction whose order could
vary) and ranked by that score, ties to the lower index. The result depends only on the
inputs, never on the kernel, the threads or the batching.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 256
_SAMPLE_STRIDE = 8
# Relative to |query| * max |row|. A float32 product of d-dimensional rows errs by at most
# about d * 2^-24 ≈ 2e-6 (d = 32) of that; 1e-4 leaves fifty times room.
_MARGIN = 1e-4


def exact_dots(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise inner products in float64, summed in column order (machine-independent)."""
    left = np.asarray(left, dtype=np.float64)
    right = np.asarray(right, dtype=np.float64)
    total = np.zeros(len(left))
    for column in range(left.shape[1]):
        total += left[:, column] * right[:, column]
    return total


def _shortlist(scores: np.ndarray, k: int, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The k-th best fast score of every 8th column is a lower bound of the true k-th best,
    # so the true top k are all among the (few) columns at or above it, minus the margin.
    sample = scores[:, ::_SAMPLE_STRIDE]
    if sample.shape[1] >= k:
        bound = np.partition(sample, -k, axis=1)[:, -k].astype(np.float64)
    else:
        bound = np.full(len(scores), -np.inf)
    # In the scores' own dtype: comparing float32 scores with a float64 threshold would copy
    # the whole block to float64; the margin dwarfs the threshold's rounding.
    threshold = (bound - margin).astype(scores.dtype)
    return np.nonzero(scores >= threshold[:, None])


def _nearest(matrix: np.ndarray, transposed: np.ndarray, queries: np.ndarray, k: int):
    if not 0 < k <= transposed.shape[1]:
        raise ValueError(f"k must be in 1..{transposed.shape[1]}, got {k}")
    row_norm = float(np.sqrt(np.max(exact_dots(matrix, matrix)))) if len(matrix) else 0.0
    result = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), _CHUNK):
        chunk = queries[start : start + _CHUNK]
        margin = _MARGIN * np.sqrt(exact_dots(chunk, chunk)) * row_norm
        rows, cols = _shortlist(chunk @ transposed, k, margin)
        exact = exact_dots(chunk[rows], matrix[cols])
        order = np.lexsort((cols, -exact, rows))
        rows, cols = rows[order], cols[order]
        first = np.searchsorted(rows, np.arange(len(chunk)))
        result[start : start + _CHUNK] = cols[first[:, None] + np.arange(k)[None, :]]
    return result


def nearest_rows(matrix: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` rows of ``matrix`` with the largest inner product with each query row,
    best first (ties: lower index first). Shape ``(len(queries), k)``."""
    return _nearest(matrix, np.ascontiguousarray(matrix.T), queries, k)


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
            self._nearest[missing] = _nearest(self._embeddings, self._transposed, queries, k)
        return self._nearest[tracks]
