"""Experiment specs: what a runnable spec is, and one clear error per unrunnable one."""

from __future__ import annotations

import random
import sys
import textwrap

import numpy as np
import pytest

from botify.data.catalog import build_catalog
from botify.experiments.robustness import robustness_worlds
from botify.experiments.spec import SpecError, load_spec, parse_spec
from botify.recommenders.base import Recommendation, Request
from botify.recommenders.baselines import RandomRecommender
from botify.recommenders.plugins import (
    ENTRY_POINT_GROUP,
    PLUGIN_ERROR,
    PluginRecommender,
    load_plugin_class,
)
from botify.recommenders.registry import check_recommender_names

MINIMAL = {
    "name": "mine",
    "seed": 7,
    "world": {"seed": 7, "tracks": 3000, "users": 500},
    "days": [
        {"sessions": 600, "arms": {"C": "random", "T1": "sticky_artist"}},
        {"sessions": 3000, "train": ["contextual"], "arms": {"C": "sticky_artist", "T1": "x:Y"}},
    ],
}


def with_changes(path: str, value) -> dict:
    spec = {**MINIMAL, "days": [dict(day) for day in MINIMAL["days"]]}
    target, *keys = path.split(".")
    if keys:
        holder = spec[target][int(keys[0])] if target == "days" else spec[target]
        holder[keys[-1]] = value
    else:
        spec[target] = value
    return spec


def test_the_minimal_spec_parses_with_its_defaults(tmp_path):
    spec = parse_spec(MINIMAL, tmp_path)
    assert [day.name for day in spec.days] == ["DAY1", "DAY2"]
    assert spec.report.name == "DAY2" and spec.control == "C"
    assert spec.experiments["DAY2"] == {"C": "sticky_artist", "T1": "x:Y"}
    assert spec.days[1].train == ("contextual",) and spec.world_params["tracks"] == 3000
    assert spec.recommenders == {"random", "sticky_artist", "x:Y"}
    assert spec.robustness_worlds == 0 and spec.workers == 2


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("colour", 1, "colour: unknown key"),
        ("days.0.colour", 1, "days[1].colour: unknown key"),
        ("days.1.train", ["indexed"], "days[2].train: cannot train 'indexed'"),
        ("days.1.arms", {"C": "a", "T2": "b"}, "days[2].arms must name the treatments C, T1"),
        ("days.0.sessions", 0, "days[1].sessions must be an integer between 1 and"),
        ("days.1.deploy", {"contextual": "x.jsonl"}, "deploy.contextual: the day also trains"),
        ("days.0.deploy", {"contextual": "none.jsonl"}, "days[1].deploy.contextual: no file"),
        ("report", {"control": "T5"}, "report.control: day 2 has no treatment 'T5'"),
        ("report", {"day": 3}, "report.day must be at most 2"),
        ("name", "", "name must be a plain name"),
        ("days", [], "days: give at least one [[days]] table"),
        ("world", {"path": "nowhere"}, "world.path: no tracks.jsonl in"),
        ("robustness", {"worlds": -1}, "robustness.worlds must be an integer between 0 and"),
    ],
)
def test_every_unrunnable_spec_names_its_key(tmp_path, path, value, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_spec(with_changes(path, value), tmp_path)


def test_a_continued_experiment_keeps_its_arms_and_a_file_must_be_toml(tmp_path):
    spec = with_changes("days.1.name", "DAY1")
    with pytest.raises(SpecError, match="continues experiment 'DAY1'"):
        parse_spec(spec, tmp_path)
    (tmp_path / "bad.toml").write_text("name = ")
    with pytest.raises(SpecError, match="is not TOML"):
        load_spec(tmp_path / "bad.toml")
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.toml")


def test_robustness_worlds_change_the_seed_and_one_behaviour_each():
    worlds = robustness_worlds({"seed": 7, "tracks": 3000}, 3)
    assert [w["seed"] for w in worlds] == [8, 9, 10]
    assert worlds[0]["artist_discount"] == 0.6 and worlds[1]["artist_discount"] == 0.9
    assert all(w["tracks"] == 3000 for w in worlds)


def test_recommender_names_are_checked_without_a_real_catalog(tmp_path, monkeypatch):
    (tmp_path / "good_plugin.py").write_text(
        textwrap.dedent(
            """
            class Mine:
                needs = frozenset({"played"})
                def __init__(self, context): pass
                def recommend_next(self, request): return 0

            class NoMethod:
                pass

            class Greedy:
                needs = frozenset({"mood"})
                def recommend_next(self, request): return 0
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    check_recommender_names(["anchor", "good_plugin:Mine"])
    for name, message in {
        "good_plugin:NoMethod": "has no recommend_next",
        "good_plugin:Greedy": r"needs unknown user state \['mood'\]",
        "good_plugin:Missing": "module 'good_plugin' has no 'Missing'",
        "anchors": "unknown recommender 'anchors'",
    }.items():
        with pytest.raises(ValueError, match=message):
            check_recommender_names([name])
    sys.modules.pop("good_plugin", None)


def test_an_installed_package_adds_a_recommender_through_its_entry_point(tmp_path, monkeypatch):
    (tmp_path / "their_package.py").write_text(
        "class Theirs:\n    def __init__(self, context): pass\n"
        "    def recommend_next(self, request): return 0\n"
    )
    info = tmp_path / "their_package-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: their-package\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ntheirs = their_package:Theirs\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_plugin_class("theirs").__name__ == "Theirs"
    check_recommender_names(["theirs"])
    sys.modules.pop("their_package", None)


class Answers:
    """A plugin answering whatever it is given, or raising it."""

    def __init__(self, answer):
        self.answer = answer

    def recommend_next(self, request):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("answer", "track", "served_by"),
    [
        (3, 3, "p:A"),
        (np.int64(4), 4, "p:A"),
        (Recommendation(5, "mine", 7), 5, "mine"),
        (Recommendation(np.int32(6), "mine"), 6, "mine"),
        (10, None, PLUGIN_ERROR),  # outside the 10-track catalog
        (-1, None, PLUGIN_ERROR),
        (2.5, None, PLUGIN_ERROR),
        (True, None, PLUGIN_ERROR),
        ("7", None, PLUGIN_ERROR),
        (None, None, PLUGIN_ERROR),
        (RuntimeError("boom"), None, PLUGIN_ERROR),
    ],
)
def test_a_plugins_answer_is_checked_and_a_bad_one_costs_only_that_answer(answer, track, served_by):
    catalog = build_catalog([{"track": t, "artist": "a"} for t in range(10)])
    plugin = PluginRecommender("p:A", Answers(answer), RandomRecommender(catalog))
    recommendation = plugin.recommend_next(Request(1, 0, 1.0, random.Random(0), None))
    assert recommendation.served_by == served_by
    assert type(recommendation.track) is int and 0 <= recommendation.track < 10
    if track is not None:
        assert recommendation.track == track
