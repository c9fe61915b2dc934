"""Exploration (``botify.recommenders.exploration``): the share of random answers, their
label, and the propensity every answer logs."""

from __future__ import annotations

import random
import time
from dataclasses import replace

import fakeredis
import numpy as np
import pytest

from botify.data.catalog import build_catalog
from botify.data.lists import load_lists
from botify.logs.reader import read_events
from botify.recommenders.base import Request
from botify.recommenders.exploration import pick_probability
from botify.recommenders.registry import LIST_BASED, build_recommenders
from botify.web import create_app
from tests.helpers.worlds import tiny_tracks, with_experiment, write_jsonl

CATALOG = build_catalog(tiny_tracks())
N = CATALOG.size


def recommenders(config, share, contextual=None):
    return build_recommenders(
        CATALOG, {"contextual": lambda: contextual}, replace(config, explore=share)
    )


def ask(recommender, track=12, seed=0):
    return recommender.recommend_next(Request(1, track, 1.0, random.Random(seed), None))


@pytest.fixture
def lists(tmp_path):
    records = [{"track": 12, "recommendations": [50, 60]}]
    return load_lists(write_jsonl(tmp_path / "lists.jsonl", records), CATALOG)


def test_a_share_of_zero_answers_what_the_recommender_alone_answers(config, lists):
    plain = recommenders(config, 0.0, lists)
    assert all(not hasattr(r, "recommender") for r in plain.values())
    for seed in range(50):
        assert ask(plain["contextual"], seed=seed).track in (50, 60)


def test_only_list_based_recommenders_explore(config, lists):
    built = recommenders(config, 0.5, lists)
    exploring = {name for name, r in built.items() if hasattr(r, "recommender")}
    assert exploring == set(LIST_BASED)
    assert {"random", "toppop", "sticky_artist"}.isdisjoint(exploring)


def test_explored_answers_are_labelled_and_come_as_often_as_the_share(config, lists):
    contextual = recommenders(config, 0.2, lists)["contextual"]
    answers = [ask(contextual, seed=seed) for seed in range(4000)]
    explored = [a for a in answers if a.served_by == "contextual_explore"]

    assert {a.served_by for a in answers} == {"contextual", "contextual_explore"}
    # 800 expected; 5 standard deviations is 126.
    assert abs(len(explored) - 800) < 130
    assert len({a.track for a in explored}) > 150  # uniform over the 200 tracks


def test_the_propensity_is_the_mixtures_probability_of_the_track_served(config, lists):
    share = 0.2
    contextual = recommenders(config, share, lists)["contextual"]
    answers = [ask(contextual, seed=seed) for seed in range(20000)]
    for answer in answers:
        listed = answer.track in (50, 60)
        assert answer.propensity == pytest.approx(share / N + (1 - share) * listed / 2)
    # And it is the frequency: track 50 comes with probability 0.2 / 200 + 0.8 / 2.
    frequency = np.mean([a.track == 50 for a in answers])
    p = share / N + (1 - share) / 2
    assert abs(frequency - p) < 5 * np.sqrt(p * (1 - p) / len(answers))


@pytest.mark.parametrize("name", ["contextual", "anchor", "anchor_fresh", "anchor_popular"])
def test_propensities_over_every_track_sum_to_one(config, lists, name):
    share = 0.1
    recommender = recommenders(config, share, lists)[name]
    chosen = recommender.recommender.recommend_next(Request(1, 12, 1.0, random.Random(3), None))
    total = sum(share / N + (1 - share) * pick_probability(chosen, track) for track in range(N))
    assert total == pytest.approx(1.0)


def test_a_deterministic_pick_has_propensity_one_before_exploration(config, lists):
    popular = recommenders(config, 0.0, lists)["anchor_popular"]
    assert ask(popular).propensity == 1.0
    assert ask(recommenders(config, 0.0, lists)["random"]).propensity == 1 / N
    assert ask(recommenders(config, 0.0, lists)["sticky_artist"]).propensity == 1 / 9


def test_every_answer_logs_its_propensity(config):
    explore = replace(with_experiment(config, "contextual"), explore=0.5)
    service = create_app(explore, fakeredis.FakeRedis()).extensions["botify"]
    for step in range(40):
        service.next(5, 3 + step, 1.0, started=time.perf_counter())
    service.last(5, 3, 0.4, started=time.perf_counter())
    events = list(read_events(config.log_dir))

    nexts = [e for e in events if e["message"] == "next"]
    # No lists deployed: every pick falls back to random, explored or not, 1 / N either way.
    assert all(e["propensity"] == pytest.approx(1 / N) for e in nexts)
    assert {e["served_by"] for e in nexts} == {"random_fallback", "contextual_explore"}
    assert [e["propensity"] for e in events if e["message"] == "last"] == [None]
