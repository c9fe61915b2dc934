"""List files, versioned deployment, rollback and the workers' hot switch."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace

import pytest

from botify.data.catalog import build_catalog
from botify.data.lists import ListsError, load_lists
from botify.rollout.deploy import EmptyLists, activate, publish, roll_back
from botify.rollout.follow import ActiveExperiment, DeployedLists, Poller, ServedExperiments
from botify.rollout.keys import ACTIVE_EXPERIMENT_KEY, deploy_key
from tests.helpers.worlds import tiny_tracks, write_jsonl

CATALOG = build_catalog(tiny_tracks())


def i2i_file(tmp_path, mapping, name="i2i.jsonl"):
    records = [{"track": k, "recommendations": v} for k, v in mapping.items()]
    return write_jsonl(tmp_path / name, records)


def test_lists_load_and_pack(tmp_path):
    lists = load_lists(i2i_file(tmp_path, {3: [4, 5, 6], 9: [], 10: [11]}), CATALOG)

    assert lists.get(3).tolist() == [4, 5, 6]
    assert lists.get(10).tolist() == [11]
    assert len(lists.get(9)) == 0 and len(lists.get(4)) == 0
    assert len(lists) == 3


def test_version_is_a_content_hash(tmp_path):
    a = load_lists(i2i_file(tmp_path, {3: [4]}, "a.jsonl"), CATALOG)
    b = load_lists(i2i_file(tmp_path, {3: [4]}, "b.jsonl"), CATALOG)
    c = load_lists(i2i_file(tmp_path, {3: [5]}, "c.jsonl"), CATALOG)

    assert a.version == b.version != c.version


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"track": 3, "recommendations": [4]}\n{"track": 4, "recomm', "line 2"),
        ('{"track": 3, "recommendations": [4, 9999]}\n', "unknown track ids [9999]"),
        ('{"track": 9999, "recommendations": [4]}\n', "not in the catalog"),
        ('{"track": "3", "recommendations": [4]}\n', "'track'"),
        ('{"track": 3, "recommendations": "4"}\n', "'recommendations'"),
        ('{"track": 3, "recommendations": [4]}\n{"track": 3, "recommendations": [5]}\n', "second"),
        ("[3, 4]\n", "expected an object"),
    ],
)
def test_bad_list_files_are_rejected_with_the_line(tmp_path, content, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)

    with pytest.raises(ListsError, match=re.escape(words)):
        load_lists(path, CATALOG)


def test_missing_list_file_is_rejected(tmp_path):
    with pytest.raises(ListsError, match="no list file"):
        load_lists(tmp_path / "nope.jsonl", CATALOG)


def test_publish_switches_workers_and_rollback_restores(tmp_path, config, fake_redis):
    worker = DeployedLists("contextual", fake_redis, config, CATALOG)
    worker.refresh()
    assert worker.current() is None

    v1 = publish(fake_redis, config, CATALOG, "contextual", i2i_file(tmp_path, {3: [4]}, "1"))
    worker.refresh()
    assert worker.version == v1 and worker.current().get(3).tolist() == [4]

    v2 = publish(fake_redis, config, CATALOG, "contextual", i2i_file(tmp_path, {3: [5]}, "2"))
    worker.refresh()
    assert worker.version == v2 and worker.current().get(3).tolist() == [5]

    assert roll_back(fake_redis, config, "contextual") == v1
    worker.refresh()
    assert worker.version == v1
    with pytest.raises(ListsError, match="no earlier"):
        roll_back(fake_redis, config, "contextual")


def test_publishing_the_same_file_twice_keeps_one_history_entry(tmp_path, config, fake_redis):
    path = i2i_file(tmp_path, {3: [4]})
    publish(fake_redis, config, CATALOG, "contextual", path)
    publish(fake_redis, config, CATALOG, "contextual", path)

    assert fake_redis.llen(deploy_key("contextual")) == 1


def test_a_bad_file_is_not_published(tmp_path, config, fake_redis):
    good = publish(fake_redis, config, CATALOG, "contextual", i2i_file(tmp_path, {3: [4]}))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"track": 3, "recommendations": [12345]}) + "\n")

    with pytest.raises(ListsError):
        publish(fake_redis, config, CATALOG, "contextual", bad)
    assert fake_redis.lindex(deploy_key("contextual"), 0).decode() == good


def test_a_deployed_version_that_fails_to_load_keeps_the_old_one(tmp_path, config, fake_redis):
    worker = DeployedLists("contextual", fake_redis, config, CATALOG)
    good = publish(fake_redis, config, CATALOG, "contextual", i2i_file(tmp_path, {3: [4]}))
    worker.refresh()
    fake_redis.lpush(deploy_key("contextual"), "0123456789ab")  # no such file

    worker.refresh()

    assert worker.version == good


def test_the_background_poller_follows_deployments_and_experiments(tmp_path, config, fake_redis):
    config = replace(
        config, experiments={"A": {"C": "random"}, "B": {"C": "toppop"}}, experiment="A"
    )
    lists = DeployedLists("contextual", fake_redis, config, CATALOG)
    experiment = ActiveExperiment(fake_redis, config)
    Poller(config.deploy_check_s, [lists, experiment]).ensure_running()

    version = publish(fake_redis, config, CATALOG, "contextual", i2i_file(tmp_path, {3: [4]}))
    activate(fake_redis, config, "B")
    deadline = time.monotonic() + 5
    while (lists.version, experiment.name) != (version, "B") and time.monotonic() < deadline:
        time.sleep(0.02)

    assert (lists.version, experiment.name) == (version, "B")


def test_activate_rejects_unknown_experiments_and_workers_ignore_them(config, fake_redis):
    with pytest.raises(ValueError, match="unknown experiment 'NOPE'"):
        activate(fake_redis, config, "NOPE")
    fake_redis.set(ACTIVE_EXPERIMENT_KEY, "NOPE")
    experiment = ActiveExperiment(fake_redis, config)

    experiment.refresh()

    assert experiment.name == config.experiment


def test_an_empty_list_file_is_refused_unless_forced(tmp_path, config, fake_redis):
    good = publish(fake_redis, config, CATALOG, "contextual", i2i_file(tmp_path, {3: [4]}))
    for empty in (i2i_file(tmp_path, {}, "empty"), i2i_file(tmp_path, {3: [], 4: []}, "hollow")):
        with pytest.raises(EmptyLists, match="no recommendation"):
            publish(fake_redis, config, CATALOG, "contextual", empty)
        assert fake_redis.lindex(deploy_key("contextual"), 0).decode() == good

    forced = publish(fake_redis, config, CATALOG, "contextual", empty, force=True)
    assert fake_redis.lindex(deploy_key("contextual"), 0).decode() == forced != good


def test_a_list_file_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    path = i2i_file(tmp_path, {3: [4, 5, 6]})
    monkeypatch.setattr("botify.data.lists.MAX_LIST_FILE_BYTES", path.stat().st_size - 1)

    with pytest.raises(ListsError, match="limited to"):
        load_lists(path, CATALOG)


def test_the_control_plane_survives_redis_losing_its_data(tmp_path, config, fake_redis):
    config = replace(config, experiments={"A": {"C": "random"}, "B": {"C": "toppop"}})
    v1 = publish(fake_redis, config, CATALOG, "contextual", i2i_file(tmp_path, {3: [4]}, "1"))
    v2 = publish(fake_redis, config, CATALOG, "contextual", i2i_file(tmp_path, {3: [5]}, "2"))
    activate(fake_redis, config, "B")
    fake_redis.flushall()

    # A worker started after the loss serves what was deployed and active, and gives
    # Redis the control plane back.
    lists = DeployedLists("contextual", fake_redis, config, CATALOG)
    experiment = ActiveExperiment(fake_redis, config)
    lists.refresh(), experiment.refresh()
    assert (lists.version, experiment.name) == (v2, "B")
    assert [v.decode() for v in fake_redis.lrange(deploy_key("contextual"), 0, -1)] == [v2, v1]
    assert fake_redis.get(ACTIVE_EXPERIMENT_KEY) == b"B"
    assert lists.disagreement is None and experiment.disagreement is None
    # The history is kept: rollback still has an earlier version.
    fake_redis.flushall()
    assert roll_back(fake_redis, config, "contextual") == v1


def test_a_redis_disagreeing_with_the_record_is_reported_not_followed(tmp_path, config, fake_redis):
    config = replace(config, experiments={"A": {"C": "random"}, "B": {"C": "toppop"}})
    version = publish(fake_redis, config, CATALOG, "contextual", i2i_file(tmp_path, {3: [4]}))
    activate(fake_redis, config, "B")
    fake_redis.set(ACTIVE_EXPERIMENT_KEY, "A")
    fake_redis.lpush(deploy_key("contextual"), "0123456789ab")
    lists = DeployedLists("contextual", fake_redis, config, CATALOG)
    experiment = ActiveExperiment(fake_redis, config)

    lists.refresh(), experiment.refresh()

    assert (lists.version, experiment.name) == (version, "B")
    assert experiment.disagreement == ("Redis says experiment A, the durable record B: serving B")
    assert "0123456789ab" in lists.disagreement


def test_activate_is_checked_against_what_the_running_workers_serve(config, fake_redis):
    config = replace(config, experiments={"A": {"C": "random"}, "B": {"C": "toppop"}})
    running = replace(config, experiments={"A": {"C": "random"}})
    ServedExperiments(fake_redis, running).refresh()

    with pytest.raises(ValueError, match="running service does not serve experiment 'B'"):
        activate(fake_redis, config, "B")
    activate(fake_redis, config, "A")
    assert fake_redis.get(ACTIVE_EXPERIMENT_KEY) == b"A"
