"""Offline evaluation: time split, test pairs, metrics and baselines."""

from __future__ import annotations

import numpy as np

from botify.training import offline_eval
from botify.training.listens import Listens

DAY = offline_eval.DAY_MS


def listens_of(sessions: list[tuple[int, list[tuple[int, float]]]]) -> Listens:
    """Listens from ``(start_ms, [(track, time), ...])`` per session."""
    rows = [
        (number, track, time, start + i)
        for number, (start, plays) in enumerate(sessions)
        for i, (track, time) in enumerate(plays)
    ]
    session, track, time, timestamp = (np.array(column) for column in zip(*rows, strict=True))
    return Listens(session=session, track=track, time=time, timestamp=timestamp)


def test_split_holds_out_the_last_day() -> None:
    listens = listens_of([(0, [(1, 1.0)]), (DAY + 5, [(2, 1.0)]), (2 * DAY + 5, [(3, 1.0)])])
    split = offline_eval.split_by_time(listens)
    assert split.test.tolist() == [False, False, True]
    assert split.description.endswith("last day, 1970-01-03")


def test_split_of_short_logs_holds_out_the_last_fifth_of_sessions() -> None:
    starts = [9, 3, 7, 1, 5, 0, 2, 4, 6, 8]
    listens = listens_of([(start, [(1, 1.0)]) for start in starts])
    split = offline_eval.split_by_time(listens)
    assert np.array(starts)[split.test].tolist() == [9, 8]
    assert "20%" in split.description


def test_pairs_are_consecutive_well_listened_tracks_of_one_session() -> None:
    listens = listens_of(
        [(0, [(1, 1.0), (2, 0.8), (3, 0.2), (4, 0.9), (5, 0.6)]), (10, [(6, 1.0), (7, 0.7)])]
    )
    anchors, targets = offline_eval.evaluation_pairs(listens)
    assert list(zip(anchors.tolist(), targets.tolist(), strict=True)) == [(1, 2), (4, 5), (6, 7)]


def test_evaluate_counts_hits_ranks_and_coverage() -> None:
    lists = {1: np.array([5, 2, 9]), 4: np.array([7, 8])}
    anchors = np.array([1, 1, 4, 6])
    targets = np.array([2, 3, 8, 1])
    seen = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    metrics = offline_eval.evaluate(lists, anchors, targets, seen, cutoff=2)
    assert metrics.cases == 4
    assert metrics.hit_rate == 0.5
    assert metrics.mrr == (1 / 2 + 1 / 2) / 4
    assert metrics.pick_rate == (1 / 3 + 1 / 2) / 4
    assert metrics.anchor_coverage == 0.75
    assert metrics.catalog_coverage == 0.4


def test_popularity_lists_rank_by_total_listen_time() -> None:
    train = listens_of([(0, [(1, 0.2), (2, 1.0), (3, 0.5)]), (9, [(1, 0.2), (3, 0.6)])])
    lists = offline_eval.popularity_lists(train, np.array([7, 8]), cutoff=2)
    assert set(lists) == {7, 8}
    assert lists[7].tolist() == [3, 2]


def test_random_lists_are_seeded_distinct_seen_tracks() -> None:
    train = listens_of([(0, [(track, 1.0) for track in range(20)])])
    first = offline_eval.random_lists(train, np.array([3, 4]), seed=5)
    again = offline_eval.random_lists(train, np.array([3, 4]), seed=5)
    assert all(np.array_equal(first[a], again[a]) for a in (3, 4))
    assert all(len(set(first[a].tolist())) == 10 for a in (3, 4))
    assert set(first[3].tolist()) <= set(range(20))


def test_format_table_has_a_row_per_model() -> None:
    metrics = offline_eval.Metrics(4, 0.5, 0.25, 0.125, 0.75, 0.4)
    table = offline_eval.format_table({"a": metrics, "b": metrics})
    assert table.count("\n") == 3
    assert "| a | 4 | 0.5000 | 0.2500 | 0.1250 | 75.0% | 40.0% |" in table
