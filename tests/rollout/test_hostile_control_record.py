"""Hostile control plane: a corrupted ``deployed/control.json`` and concurrent commands.

A corrupt record (truncated, ``null``, ``[]``, wrong types, a version naming another
file, too large, not UTF-8, nested too deep) never gives a traceback: the commands say it
in one line and replace it by its last good copy, so rollback stays possible; a worker
serves the last good record, logs the problem once per change and ``/health`` shows it.
Concurrent deploys and activates take turns on a lock beside the record.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from dataclasses import replace

import pytest

from botify.cli import main
from botify.data.catalog import build_catalog
from botify.rollout.control import MAX_RECORD_BYTES, read_record
from botify.rollout.deploy import activate, publish, roll_back
from botify.rollout.follow import ActiveExperiment, ControlPlane, DeployedLists
from botify.rollout.keys import ACTIVE_EXPERIMENT_KEY, control_file, deploy_key
from botify.state.client import connect
from botify.web import create_app
from tests.helpers.worlds import tiny_tracks, write_jsonl

CATALOG = build_catalog(tiny_tracks())
CORRUPTIONS = {
    "truncated": '{"deployed": {"contextual": ["0123',
    "null": "null",
    "list": "[]",
    "number": "5",
    "empty": "",
    "versions not a list": '{"deployed": {"contextual": "abc"}, "active": "A"}',
    "active a number": '{"deployed": {}, "active": 7}',
    "version naming another file": '{"deployed": {"contextual": ["../../../etc/passwd"]}}',
    "nested too deep": "[" * 100_000 + "]" * 100_000,
    "not UTF-8": b'{"deployed": {}, "active": "\xff\xfe"}',
    "huge": '{"deployed": {}, "active": "A", "pad": "' + "x" * (MAX_RECORD_BYTES + 10) + '"}',
}


def corrupt(config, content) -> None:
    path = control_file(config.data_dir)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def lists_file(tmp_path, track, recommendation):
    line = {"track": track, "recommendations": [recommendation]}
    return write_jsonl(tmp_path / f"lists-{track}-{recommendation}.jsonl", [line])


@pytest.fixture
def two_versions(tmp_path, config, fake_redis):
    """Config (experiments A and B, B active) with two deployed versions, newest first."""
    config = replace(config, experiments={"A": {"C": "random"}, "B": {"C": "toppop"}})
    v1 = publish(fake_redis, config, CATALOG, "contextual", lists_file(tmp_path, 3, 4))
    v2 = publish(fake_redis, config, CATALOG, "contextual", lists_file(tmp_path, 3, 5))
    activate(fake_redis, config, "B")
    return config, [v2, v1]


@pytest.mark.parametrize("content", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_rollback_deploy_and_activate_recover_a_corrupt_record(
    content, tmp_path, two_versions, fake_redis
):
    config, (v2, v1) = two_versions
    corrupt(config, content)

    assert roll_back(fake_redis, config, "contextual") == v1
    assert read_record(config.data_dir).deployed["contextual"] == [v1]
    assert (control_file(config.data_dir).parent / "control.json.corrupt").exists()

    corrupt(config, content)
    v3 = publish(fake_redis, config, CATALOG, "contextual", lists_file(tmp_path, 3, 6))
    assert read_record(config.data_dir).deployed["contextual"] == [v3, v1]

    corrupt(config, content)
    activate(fake_redis, config, "A")
    record = read_record(config.data_dir)
    assert (record.active, record.deployed["contextual"]) == ("A", [v3, v1])
    assert fake_redis.get(ACTIVE_EXPERIMENT_KEY) == b"A"


@pytest.mark.parametrize("content", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_workers_serve_the_last_good_record_and_log_once(content, two_versions, fake_redis, caplog):
    config, (v2, _) = two_versions
    corrupt(config, content)
    # Redis says something else: only the good copy of the record keeps the choice.
    fake_redis.set(ACTIVE_EXPERIMENT_KEY, "A")
    control = ControlPlane(fake_redis, config)
    lists = DeployedLists("contextual", fake_redis, config, CATALOG, control)
    experiment = ActiveExperiment(fake_redis, config, control)

    with caplog.at_level(logging.INFO, logger="botify.rollout.follow"):
        for _ in range(5):
            lists.refresh(), experiment.refresh()

    assert (lists.version, experiment.name) == (v2, "B")
    assert "control.json is corrupt" in control.problem
    problems = [r for r in caplog.records if "control record" in r.getMessage()]
    assert len(problems) == 1 and not any(r.exc_info for r in caplog.records)


def test_the_service_starts_on_a_null_record_and_health_says_so(config, fake_redis):
    control_file(config.data_dir).parent.mkdir(parents=True)
    corrupt(config, "null")

    app = create_app(config, client=fake_redis)
    answer = app.test_client().get("/health")

    assert "control.json is corrupt" in answer.get_json()["control"]
    assert "no good copy" in answer.get_json()["control"]


@pytest.mark.parametrize("content", ["null", "[]", '{"deployed": {"contextual": ["00'])
@pytest.mark.parametrize(
    "command", [["deploy", "contextual", "--rollback"], ["activate", "A"]], ids=lambda c: c[0]
)
def test_the_commands_say_it_in_one_line(
    content, command, config, two_versions, own_redis, monkeypatch, capsys
):
    config, _ = two_versions
    monkeypatch.setenv("BOTIFY_REDIS_URL", own_redis.url)
    monkeypatch.setenv("BOTIFY_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("BOTIFY_EXPERIMENTS", json.dumps(config.experiments))
    corrupt(config, content)

    assert main(command) == 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "control.json is corrupt" in err
    assert "Traceback" not in out + err


def _deployer(config, url, tmp_path, first, count, barrier, done):
    client = connect(url, config)
    barrier.wait()
    for n in range(first, first + count):
        done.put(publish(client, config, CATALOG, "contextual", lists_file(tmp_path, 3, n)))


def _activator(config, url, count, barrier, done):
    client = connect(url, config)
    barrier.wait()
    for n in range(count):
        name = "AB"[n % 2]
        activate(client, config, name)
        done.put(name)


def test_concurrent_deploys_and_activates_lose_nothing(tmp_path, config, own_redis):
    # A Redis of its own: workers of other tests announce other experiments in a shared one.
    config = replace(config, experiments={"A": {"C": "random"}, "B": {"C": "toppop"}})
    url = own_redis.url
    context = multiprocessing.get_context("fork")
    barrier, deployed, activated = context.Barrier(3), context.Queue(), context.Queue()
    workers = [
        context.Process(target=_deployer, args=(config, url, tmp_path, 10, 25, barrier, deployed)),
        context.Process(target=_deployer, args=(config, url, tmp_path, 40, 25, barrier, deployed)),
        context.Process(target=_activator, args=(config, url, 25, barrier, activated)),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0

    versions = [deployed.get(timeout=5) for _ in range(50)]
    activations = [activated.get(timeout=5) for _ in range(25)]
    record = read_record(config.data_dir)
    assert sorted(record.deployed["contextual"]) == sorted(versions)
    assert record.active == activations[-1]
    client = connect(url, config)
    assert [v.decode() for v in client.lrange(deploy_key("contextual"), 0, -1)] == (
        record.deployed["contextual"]
    )
    assert client.get(ACTIVE_EXPERIMENT_KEY).decode() == record.active
