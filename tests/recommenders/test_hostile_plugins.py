"""Hostile plugins: numpy-typed or mistyped fields, a plugin that hangs, one that leaks.

Fields are normalised (numpy → int/str) or the answer falls back, logged, never a 500;
each call has a time budget, so a hanging plugin costs its users a fallback after
``BOTIFY_PLUGIN_TIMEOUT_S`` and nobody else anything; a worker past
``BOTIFY_WORKER_MAX_RSS_MB`` says so in ``/health`` and is replaced.
"""

from __future__ import annotations

import json
import logging
import sys
import textwrap
import threading
import time
from dataclasses import replace

import pytest
import requests

from botify.logs.reader import read_events
from botify.recommenders.plugins import PLUGIN_ERROR
from botify.rollout.experiments import Experiment
from botify.web import create_app
from botify.web.memory import MemoryGuard

PLUGINS = textwrap.dedent(
    """
    import threading

    import numpy as np

    from botify.recommenders.base import Recommendation

    RELEASE = threading.Event()


    class Base:
        def __init__(self, context):
            pass


    class NumpyFields(Base):
        def recommend_next(self, request):
            return Recommendation(np.int64(5), np.str_("mine"), np.int64(3), np.str_("v1"))


    class CandidatesText(Base):
        def recommend_next(self, request):
            return Recommendation(5, "mine", "many")


    class ServedByNumber(Base):
        def recommend_next(self, request):
            return Recommendation(5, 7)


    class VersionNumber(Base):
        def recommend_next(self, request):
            return Recommendation(5, "mine", 1, 3.5)


    class Hangs(Base):
        def recommend_next(self, request):
            RELEASE.wait(30)
            return 5
    """
)


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    (tmp_path / "hostile_plugins.py").write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "hostile_plugins"
    if "hostile_plugins" in sys.modules:
        sys.modules["hostile_plugins"].RELEASE.set()
        del sys.modules["hostile_plugins"]


def arm_users(experiment: Experiment, arm: str, count: int) -> list[int]:
    return [user for user in range(1000) if experiment.treatment(user) == arm][:count]


def service_with(config, fake_redis, plugin: str, **settings):
    arms = {"C": "random", "T1": plugin}
    config = replace(config, experiments={"P": arms}, experiment="P", **settings)
    return create_app(config, client=fake_redis).test_client(), Experiment("P", arms)


def test_numpy_fields_are_normalised(config, fake_redis, plugin_module):
    http, experiment = service_with(config, fake_redis, f"{plugin_module}:NumpyFields")
    (user,) = arm_users(experiment, "T1", 1)

    answer = http.post(f"/next/{user}", json={"track": 3, "time": 0.5})

    assert answer.status_code == 200 and answer.get_json()["track"] == 5
    (event,) = list(read_events(config.log_dir))
    assert (event["recommendation"], event["served_by"]) == (5, "mine")
    assert (event["candidates"], event["model_version"]) == (3, "v1")


@pytest.mark.parametrize("plugin", ["CandidatesText", "ServedByNumber", "VersionNumber"])
def test_a_mistyped_field_falls_back_with_a_log_line(
    plugin, config, fake_redis, plugin_module, caplog
):
    http, experiment = service_with(config, fake_redis, f"{plugin_module}:{plugin}")
    (user,) = arm_users(experiment, "T1", 1)

    with caplog.at_level(logging.ERROR, logger="botify.recommenders.plugins"):
        answer = http.post(f"/next/{user}", json={"track": 3, "time": 0.5})

    assert answer.status_code == 200
    (event,) = list(read_events(config.log_dir))
    assert event["served_by"] == PLUGIN_ERROR
    assert any(plugin in r.getMessage() for r in caplog.records)


def test_a_hanging_plugin_costs_its_users_a_fallback_and_nobody_else_anything(
    config, fake_redis, plugin_module
):
    app_client, experiment = service_with(
        config, fake_redis, f"{plugin_module}:Hangs", plugin_timeout_s=0.2
    )
    users = arm_users(experiment, "T1", 8) + arm_users(experiment, "C", 8)
    answers, seconds = {}, {}

    def ask(user: int) -> None:
        started = time.monotonic()
        answers[user] = app_client.post(f"/next/{user}", json={"track": 3, "time": 0.5})
        seconds[user] = time.monotonic() - started

    threads = [threading.Thread(target=ask, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    health = app_client.get("/health")
    health_seconds = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=10)

    assert health.status_code == 200 and health_seconds < 1
    assert all(answer.status_code == 200 for answer in answers.values())
    assert len(answers) == 16 and max(seconds.values()) < 3
    served_by = {e["user"]: e["served_by"] for e in read_events(config.log_dir)}
    assert {served_by[user] for user in users[:8]} == {PLUGIN_ERROR}
    assert PLUGIN_ERROR not in {served_by[user] for user in users[8:]}


def test_a_worker_over_its_memory_limit_says_so_and_retires(config, fake_redis):
    app = create_app(replace(config, worker_max_rss_mb=64), client=fake_redis)
    service = app.extensions["botify"]
    retired = []
    service.memory.measure = lambda: 900.0
    service.memory.on_exceeded = lambda: retired.append(True)

    service.memory.refresh()
    service.memory.refresh()
    answer = app.test_client().get("/health")

    assert retired == [True]
    assert answer.status_code == 503
    assert "900 MiB resident, over BOTIFY_WORKER_MAX_RSS_MB=64" in answer.get_json()["memory"]


def test_the_memory_guard_measures_this_process():
    guard = MemoryGuard(limit_mb=1024 * 1024)
    guard.refresh()

    assert 1 < guard.resident_mb < 1024 * 1024 and guard.status() == "ok"


LEAKS = """
LEAKED = []


class Leaks:
    def __init__(self, context):
        pass

    def recommend_next(self, request):
        LEAKED.append(bytearray(40 * 1024 * 1024))
        return 5
"""


@pytest.mark.integration
def test_a_leaking_plugin_gets_its_worker_replaced(tmp_path, start_service):
    (tmp_path / "leaky_plugin.py").write_text(LEAKS)
    arms = {"C": "leaky_plugin:Leaks"}
    service = start_service(
        workers=2,
        env={
            "PYTHONPATH": str(tmp_path),
            "BOTIFY_EXPERIMENTS": json.dumps({"L": arms}),
            "BOTIFY_WORKER_MAX_RSS_MB": "400",
            "BOTIFY_DEPLOY_CHECK_S": "0.1",
            "BOTIFY_PLUGIN_TIMEOUT_S": "10",
        },
    )
    statuses, refused = [], 0
    for user in range(40):
        for _attempt in range(80):
            try:
                answer = requests.post(
                    f"{service.url}/next/{user}", json={"track": 3, "time": 0.5}, timeout=10
                )
                statuses.append(answer.status_code)
                break
            except requests.ConnectionError:
                # Both workers may retire at once: refused until a replacement listens.
                refused += 1
                time.sleep(0.25)

    output = (tmp_path / "service.out").read_text()
    # 40 x 40 MB would be 1.6 GB: workers were replaced on the way.
    assert output.count("over BOTIFY_WORKER_MAX_RSS_MB=400") >= 2
    assert statuses == [200] * 40, output[-3000:]
    print(f"refused while both workers were being replaced: {refused} attempts")
    health = requests.get(f"{service.url}/health", timeout=10).json()
    assert health["memory"] == "ok" or "being replaced" in health["memory"]
