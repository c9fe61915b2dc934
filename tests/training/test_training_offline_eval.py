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


def test_auc_is_the_chance_a_good_case_outscores_a_skip() -> None:
    positive = np.array([True, True, False, False])
    assert offline_eval.auc(np.array([4.0, 3.0, 2.0, 1.0]), positive) == 1.0
    assert offline_eval.auc(np.array([1.0, 2.0, 3.0, 4.0]), positive) == 0.0
    assert offline_eval.auc(np.array([1.0, 3.0, 2.0, 0.0]), positive) == 0.75
    assert offline_eval.auc(np.ones(4), positive) == 0.5  # ties count a half
    assert np.isnan(offline_eval.auc(np.ones(2), np.array([True, True])))


def test_top_time_is_the_mean_listen_of_the_best_scored_share() -> None:
    scores = np.arange(20, dtype=float)
    time = np.linspace(0.0, 1.0, 20)
    assert offline_eval.top_time(scores, time, share=0.1) == (time[19] + time[18]) / 2


def test_heldout_cases_are_fresh_artist_recommendations_with_the_first_track_as_context():
    # Artists: track t is by artist t // 10.
    artist = np.arange(100) // 10
    listens = listens_of([(0, [(1, 1.0), (25, 0.9), (2, 0.7), (33, 0.1), (25, 0.0), (47, 0.6)])])
    cases = offline_eval.heldout_cases(listens, artist)
    assert cases.context.tolist() == [1, 1, 1]
    assert cases.track.tolist() == [25, 33, 47]
    assert cases.time.tolist() == [0.9, 0.1, 0.6]


def test_evaluate_scores_the_cases_and_the_lists() -> None:
    cases = offline_eval.Cases(
        np.array([1, 1, 2, 2]), np.array([5, 6, 7, 8]), np.array([0.9, 0.1, 0.8, 0.0])
    )
    pairs = (np.array([1, 2]), np.array([5, 9]))
    lists = {1: np.array([5, 3]), 2: np.array([4])}
    metrics = offline_eval.evaluate(lambda c, t: -t.astype(float), lists, cases, pairs, 10)
    assert metrics.cases == 4
    # Good listens 5 and 7 against skips 6 and 8: only 7 against 6 is in the wrong order.
    assert metrics.auc == 0.75
    assert metrics.hit_rate == 0.5
    assert metrics.list_coverage == 0.2
    baseline = offline_eval.evaluate(lambda c, t: -t.astype(float), None, cases, pairs, 10)
    assert np.isnan(baseline.hit_rate) and np.isnan(baseline.list_coverage)


def test_format_table_has_a_row_per_model() -> None:
    metrics = offline_eval.Metrics(4, 0.75, 0.5, 0.125, 0.4)
    baseline = offline_eval.Metrics(4, 0.5, 0.25, float("nan"), float("nan"))
    table = offline_eval.format_table({"a": metrics, "b": baseline})
    assert table.count("\n") == 3
    assert "| a | 4 | 0.750 | 0.500 | 0.125 | 40.0% |" in table
    assert "| b | 4 | 0.500 | 0.250 | – | – |" in table


def test_hit_rate_counts_targets_in_the_top_of_their_anchors_list() -> None:
    lists = {1: np.array([5, 9]), 2: np.array([0, 1, 7])}
    anchors = np.array([1, 1, 2, 2, 3])  # anchor 3 has no list: a miss
    targets = np.array([5, 6, 1, 7, 5])
    assert offline_eval.hit_rate(lists, anchors, targets, cutoff=2) == 2 / 5
    assert offline_eval.hit_rate(lists, anchors, targets, cutoff=3) == 3 / 5
    assert np.isnan(offline_eval.hit_rate(lists, anchors[:0], targets[:0]))
