"""A comparison model: time-weighted co-occurrence of well-listened tracks in sessions.

Item-based session kNN: two tracks are similar when the same sessions listened to both
well, each listen weighted by its time, normalised like a cosine (with a shrinkage term so
that one shared session does not make two rare tracks perfect neighbours). It uses the logs
only, so it knows nothing of tracks the logs never showed, and on the demo world's day-1
logs (5,000 sessions) it sees too few pairs: held-out AUC 0.50, anchor_fresh 4.3 per
session against the affinity model's 68 (``bench/learning.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from botify.config import Config
from botify.training.diverse_lists import capped_top
from botify.training.listens import Listens

SHRINK = 1.0


@dataclass(frozen=True)
class Cooccurrence:
    """Normalised co-occurrence of every pair of tracks (a sparse track × track matrix)."""

    similarity: sp.csr_matrix

    def pairs(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """The similarity of each (left, right) pair of track ids (0 when never together)."""
        return np.asarray(self.similarity[left, right]).ravel()


def fit_cooccurrence(
    listens: Listens, n_tracks: int, good_time: float = Config.good_time
) -> Cooccurrence:
    """Co-occurrence of the listens of at least ``good_time`` (sparse products: the same on
    every machine, no BLAS)."""
    good = listens.time >= good_time
    sessions = np.unique(listens.session[good], return_inverse=True)[1]
    weights = sp.csr_matrix(
        (listens.time[good], (sessions, listens.track[good])),
        shape=(int(sessions.max(initial=-1)) + 1, n_tracks),
    )
    together = (weights.T @ weights).tocoo()
    norms = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=0)).ravel())
    off_diagonal = together.row != together.col
    rows, cols = together.row[off_diagonal], together.col[off_diagonal]
    values = together.data[off_diagonal] / (norms[rows] * norms[cols] + SHRINK)
    return Cooccurrence(sp.csr_matrix((values, (rows, cols)), shape=(n_tracks, n_tracks)))


def cooccurrence_lists(
    model: Cooccurrence, track_artist: np.ndarray, k: int, per_artist: int, seed: int = 0
) -> dict[int, np.ndarray]:
    """Lists of the tracks that co-occurred with each track, most similar first."""
    matrix = model.similarity.tocoo()
    return capped_top(
        matrix.row.astype(np.int64),
        matrix.col.astype(np.int64),
        matrix.data,
        track_artist,
        k,
        per_artist,
        seed,
    )
