"""Baseline recommenders (docs/recommenders.md) and their fallbacks."""

from __future__ import annotations

import random

import pytest

from botify.data.catalog import build_catalog
from botify.data.lists import LIST_KINDS, load_lists
from botify.recommenders.base import Recommendation, Request
from botify.recommenders.registry import build_recommenders
from tests.helpers.worlds import tiny_tracks, write_jsonl

CATALOG = build_catalog(tiny_tracks())


def recommenders(config, contextual=None, indexed=None):
    return build_recommenders(
        CATALOG, {"contextual": lambda: contextual, "indexed": lambda: indexed}, config
    )


def ask(recommender, track=12, user=1, seed=0):
    return recommender.recommend_next(Request(user, track, 1.0, random.Random(seed), None))


def lists_from(tmp_path, kind, mapping, name="lists.jsonl"):
    key_field = LIST_KINDS[kind].key_field
    records = [{key_field: k, "recommendations": v} for k, v in mapping.items()]
    return load_lists(write_jsonl(tmp_path / name, records), CATALOG, kind)


def test_random_is_uniform_over_the_catalog(config):
    picks = [ask(recommenders(config)["random"], seed=s).track for s in range(4000)]

    assert set(picks) <= set(range(200))
    assert len(set(picks)) > 190


def test_toppop_picks_among_the_most_popular(config):
    picks = {ask(recommenders(config)["toppop"], seed=s).track for s in range(2000)}

    # popularity rises with the id in the tiny catalog; toppop_n defaults to 100
    assert picks == set(range(100, 200))


def test_sticky_artist_stays_with_the_artist_and_skips_the_track(config):
    for seed in range(50):
        rec = ask(recommenders(config)["sticky_artist"], track=12, seed=seed)
        assert rec.track in range(10, 20) and rec.track != 12
        assert rec.served_by == "sticky_artist" and rec.candidates == 9


def test_contextual_uses_the_previous_tracks_list(tmp_path, config):
    lists = lists_from(tmp_path, "contextual", {12: [50, 60]})
    contextual = recommenders(config, contextual=lists)["contextual"]

    picks = {ask(contextual, track=12, seed=s) for s in range(30)}

    assert {p.track for p in picks} == {50, 60}
    assert {p.model_version for p in picks} == {lists.version}


@pytest.mark.parametrize("deployed", [False, True])
def test_contextual_falls_back_to_random(tmp_path, config, deployed):
    lists = lists_from(tmp_path, "contextual", {99: [50]}) if deployed else None
    rec = ask(recommenders(config, contextual=lists)["contextual"], track=12)

    assert rec.served_by == "random_fallback" and rec.track in CATALOG


def test_indexed_uses_the_users_list_and_falls_back(tmp_path, config):
    lists = lists_from(tmp_path, "indexed", {1: [7, 8]})
    indexed = recommenders(config, indexed=lists)["indexed"]

    assert {ask(indexed, user=1, seed=s).track for s in range(30)} == {7, 8}
    assert ask(indexed, user=2).served_by == "random_fallback"


def test_the_random_fallback_is_a_random_track_labelled_with_the_reason(config):
    random_recommender = recommenders(config)["random"]
    answer = ask(random_recommender, seed=5)
    request = Request(1, 12, 1.0, random.Random(5), None)

    assert answer.served_by == "random"
    assert random_recommender.fallback(request, "random_fallback") == Recommendation(
        answer.track, "random_fallback", propensity=1 / random_recommender.catalog.size
    )


def test_same_rng_same_answer(config):
    for name, recommender in recommenders(config).items():
        if name.startswith("anchor"):
            continue
        assert ask(recommender, seed=3) == ask(recommender, seed=3)
