"""Training of the ``contextual`` i2i lists from event logs (``botify train contextual``).

Model: item co-occurrence of well-listened tracks within sessions. Two tracks that one user
listened to well in the same session are both close to that session's interest, so they suit
each other; the score is the cosine of the tracks' session vectors (weighted by listen time),
which keeps very popular tracks from crowding every list.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from botify import offline_eval
from botify.eventlog import FILE_GLOB, ReadStats, log_files, read_events
from botify.listens import Listens, listens_from_events

GOOD_TIME = 0.5
MIN_GOOD_LISTENS = 2


def session_track_matrix(listens: Listens, good_time: float = GOOD_TIME) -> sp.csr_matrix:
    """Sessions × tracks, holding the listen time of every listen with ``time >= good_time``.

    A track played twice in a session counts once, with its longest listen.
    """
    good = listens.time >= good_time
    _, rows = np.unique(listens.session[good], return_inverse=True)
    tracks, times = listens.track[good], listens.time[good]
    order = np.lexsort((-times, tracks, rows))
    rows, tracks, times = rows[order], tracks[order], times[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (tracks[1:] != tracks[:-1])
    shape = (int(rows.max(initial=-1)) + 1, int(tracks.max(initial=-1)) + 1)
    matrix = sp.csr_matrix((times[first], (rows[first], tracks[first])), shape=shape)
    return matrix


def cosine_cooccurrence(matrix: sp.csr_matrix, min_good_listens: int) -> sp.csr_matrix:
    """Track × track cosine similarity of ``matrix``'s columns, without the diagonal.

    Rows of tracks listened well in fewer than ``min_good_listens`` sessions are left empty.
    """
    binary = matrix.copy()
    binary.data = np.ones_like(binary.data)
    support = np.asarray(binary.sum(axis=0)).ravel()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    scaled = (matrix @ sp.diags(inverse)).tocsc()
    anchors = sp.diags((support >= min_good_listens).astype(np.float64))
    similarity = (anchors @ scaled.T @ scaled).tocsr()
    similarity.setdiag(0.0)
    similarity.eliminate_zeros()
    return similarity


def top_k_rows(similarity: sp.csr_matrix, k: int, progress: bool = False) -> dict[int, np.ndarray]:
    """The ``k`` best columns of every non-empty row, best first; ties go to the smaller id."""
    lists = {}
    rows = np.flatnonzero(np.diff(similarity.indptr))
    for row in tqdm(rows, desc="top-k lists", unit=" tracks", disable=not progress):
        start, end = similarity.indptr[row], similarity.indptr[row + 1]
        columns = similarity.indices[start:end]
        scores = similarity.data[start:end]
        order = np.lexsort((columns, -scores))[:k]
        lists[int(row)] = columns[order].astype(np.int64)
    return lists


def train_lists(
    listens: Listens,
    k: int,
    good_time: float = GOOD_TIME,
    min_good_listens: int = MIN_GOOD_LISTENS,
    progress: bool = False,
) -> dict[int, np.ndarray]:
    """Per-track i2i lists (at most ``k`` ids, best first, never the track itself)."""
    matrix = session_track_matrix(listens, good_time)
    similarity = cosine_cooccurrence(matrix, min_good_listens)
    return top_k_rows(similarity, k, progress=progress)


def write_lists(lists: Mapping[int, np.ndarray], out: Path) -> None:
    """Write ``{"track", "recommendations"}`` JSON lines by track id, atomically (temp + rename)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            for track in sorted(lists):
                line = {"track": track, "recommendations": lists[track].tolist()}
                f.write(json.dumps(line, separators=(",", ":")) + "\n")
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise


def read_listens(log_dir: Path) -> tuple[Listens, ReadStats, int]:
    """Listens of every event file under ``log_dir``, with reader stats and invalid-event count."""
    stats = ReadStats()
    events = tqdm(read_events(log_dir, stats), desc=f"reading {log_dir}", unit=" events")
    listens, invalid = listens_from_events(events)
    return listens, stats, invalid


def _load(log_dir: Path) -> Listens | str:
    # Returns the listens, or the message explaining why there are none to train on.
    if not log_dir.is_dir():
        return f"log directory {log_dir} does not exist"
    if not log_files(log_dir):
        return f"no event files ({FILE_GLOB}) under {log_dir}"
    listens, stats, invalid = read_listens(log_dir)
    print(
        f"{log_dir}: {stats.files} files, {stats.events} events, "
        f"{stats.skipped_lines} unreadable lines, {invalid} invalid events, "
        f"{len(listens)} listens in {listens.n_sessions} sessions"
    )
    if not len(listens):
        return f"no valid events under {log_dir}"
    return listens


def offline_report(train: Listens, test: Listens, k: int, seed: int) -> str:
    """Train on ``train``, evaluate on ``test`` against baselines; the markdown table."""
    anchors, targets = offline_eval.test_pairs(test)
    seen = np.unique(train.track)
    results = {
        "contextual (co-occurrence)": offline_eval.evaluate(
            train_lists(train, k), anchors, targets, seen
        ),
        "popularity": offline_eval.evaluate(
            offline_eval.popularity_lists(train, anchors), anchors, targets, seen
        ),
        "random": offline_eval.evaluate(
            offline_eval.random_lists(train, anchors, seed), anchors, targets, seen
        ),
    }
    return offline_eval.format_table(results)


def train_contextual_command(
    logs: Path, out: Path, k: int, seed: int, test_logs: Path | None
) -> int:
    """``botify train contextual``: evaluate offline, train on all logs, write ``out``.

    Returns the process exit code: 0 on success, 2 when there is nothing valid to train on.
    """
    if k < 1:
        print(f"error: --k must be at least 1, got {k}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    loaded = _load(Path(logs))
    if isinstance(loaded, str):
        print(f"error: {loaded}", file=sys.stderr)
        return 2
    if test_logs is None:
        split = offline_eval.split_by_time(loaded)
        train, test = loaded.select_sessions(~split.test), loaded.select_sessions(split.test)
        held_out = split.description
    else:
        test_loaded = _load(Path(test_logs))
        if isinstance(test_loaded, str):
            print(f"error: {test_loaded}", file=sys.stderr)
            return 2
        train, test, held_out = loaded, test_loaded, f"the sessions of {test_logs}"
    print(f"\nOffline evaluation: trained on {train.n_sessions} sessions, tested on {held_out}")
    print(offline_report(train, test, k, seed))
    if test_logs is None:
        print("\nThe lists written are trained on ALL the given logs, test day included.")
    lists = train_lists(loaded, k, progress=True)
    write_lists(lists, Path(out))
    print(f"wrote {len(lists)} lists (k={k}) to {out} in {time.perf_counter() - started:.1f}s")
    return 0
