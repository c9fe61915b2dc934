"""Off-policy evaluation (``botify.training.off_policy``) on logs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from botify.training.listens import Listens
from botify.training.off_policy import LoggedAnswers, estimate, logged_answers, on_policy_mean


def uniform_logs(n: int, seed: int) -> LoggedAnswers:
    """Contexts 0..9; a logging policy uniform over tracks 0..19; a listen of 0.9 when the
    track is the context's "right" one (context + 10), 0.1 otherwise."""
    rng = np.random.default_rng(seed)
    context = rng.integers(0, 10, n)
    answer = rng.integers(0, 20, n)
    reward = np.where(answer == context + 10, 0.9, 0.1)
    return LoggedAnswers(context, answer, np.full(n, 1 / 20), reward)


def test_answers_are_the_ones_with_a_propensity_and_a_reported_listen():
    listens = Listens(
        session=np.array([0, 0, 0, 1, 1]),
        track=np.array([5, 7, 9, 5, 8]),
        time=np.array([1.0, 0.6, 0.2, 1.0, 0.3]),
        timestamp=np.arange(5),
        # 5 → 7 (listened 0.6); 7 → 3 but 9 was reported; 9 → 4 ends the session; 5 → 8
        # without a propensity (a plugin's answer).
        answer=np.array([7, 3, 4, 8, -1]),
        propensity=np.array([0.5, 0.5, 0.5, np.nan, np.nan]),
    )
    answers = logged_answers(listens)

    assert answers.context.tolist() == [5]
    assert answers.answer.tolist() == [7]
    assert answers.reward.tolist() == [0.6]
    assert len(logged_answers(Listens(*(np.arange(3),) * 4))) == 0  # no propensities logged


def test_the_logging_policy_itself_is_estimated_at_its_own_mean():
    answers = uniform_logs(5000, seed=1)
    lists = {c: np.arange(20) for c in range(10)}
    ips, snips = estimate(answers, lists, n_tracks=20, share=0.0)

    assert snips.value == pytest.approx(on_policy_mean(answers))
    assert ips.value == pytest.approx(on_policy_mean(answers))
    assert snips.effective_answers == pytest.approx(5000)


@pytest.mark.parametrize(("offset", "truth"), [(10, 0.9), (11, 0.1)])
def test_new_lists_are_estimated_at_what_they_would_get(offset, truth):
    answers = uniform_logs(20000, seed=2)
    lists = {c: np.array([(c + offset) % 20]) for c in range(10)}
    ips, snips = estimate(answers, lists, n_tracks=20, share=0.0)

    for e in (ips, snips):
        # Within 3 standard errors (the interval is +-1.96 of them): a 0.3% chance of failing.
        standard_error = (e.upper - e.lower) / (2 * 1.96)
        assert abs(e.value - truth) <= 3 * standard_error
        assert e.upper - e.lower < 0.12
    assert snips.clipped == 0


def test_exploration_in_the_target_mixes_in_the_catalog_mean():
    answers = uniform_logs(20000, seed=3)
    lists = {c: np.array([c + 10]) for c in range(10)}
    _, snips = estimate(answers, lists, n_tracks=20, share=0.5)
    # Half the answers from the list (0.9), half uniform over 20 tracks (0.9 or 0.1).
    truth = 0.5 * 0.9 + 0.5 * (0.9 / 20 + 0.1 * 19 / 20)
    assert snips.lower <= truth <= snips.upper


def test_weights_beyond_the_clip_are_clipped_and_counted():
    answers = uniform_logs(2000, seed=4)
    rare = LoggedAnswers(answers.context, answers.answer, answers.propensity / 1000, answers.reward)
    lists = {c: np.array([c + 10]) for c in range(10)}
    ips, snips = estimate(rare, lists, n_tracks=20, share=0.0, clip=100.0)

    assert snips.clipped == int(np.count_nonzero(rare.answer == rare.context + 10))
    assert 0.0 <= snips.lower <= snips.value <= snips.upper <= 1.0
