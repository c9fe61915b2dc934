"""docker-compose for real: nginx -> 3 recommender replicas -> Redis, built offline.

The README's compose commands, run as written: ``docker/prepare.sh`` (the debootstrapped
base image and the wheels), ``docker-compose up --build --detach --scale recommender=3``, the
simulator on the host playing sessions through nginx's published port, ``botify train``,
``deploy`` and ``activate`` inside a replica, ``botify report`` on the logs the replicas
wrote to the shared volume. Then the faults: a replica killed under load, Redis restarted.

The tests of this module share one running deployment and run in file order (each test
adds its traffic to the logs the next one counts).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from botify.web.service import DEGRADED
from tests.helpers.traffic import Traffic

pytestmark = pytest.mark.compose

ROOT = Path(__file__).resolve().parents[1]
REPLICAS = 3
REPLICA_UID = 10001  # the Dockerfile's botify user
SIM_WORKERS = 2
WORLD = ["--seed", "42", "--tracks", "3000", "--users", "1000"]
DAY_SESSIONS = 1500  # per day of the A/B run: a few thousand sessions in all
# The experiments the compose file configures: DAY1 is served at start, AB is activated.
DAY1_ARMS = {"C": "random", "T1": "sticky_artist"}
AB_ARMS = {"C": "sticky_artist", "T1": "contextual", "T2": "anchor"}


def skip_reason() -> str | None:
    """Why this machine cannot run the deployment (None: it can)."""
    for tool in ("docker", "docker-compose", "debootstrap"):
        if shutil.which(tool) is None:
            return (
                f"{tool} is not installed (.ci/run installs docker.io, docker-compose, debootstrap)"
            )
    if os.geteuid() != 0:
        return "needs root: debootstrap, and handing ./data and ./logs to the replicas' user"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if info.returncode != 0:
        return f"no Docker daemon answers (start dockerd, as .ci/run does): {info.stderr.strip()}"
    return None


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """Run ``command``; fail the test with its output if it fails."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, (
        f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done


@dataclass
class Deployment:
    """One running compose project and the host directories it mounts."""

    project: str
    env: dict
    data: Path
    logs: Path
    work: Path
    figures: dict = field(default_factory=dict)  # seconds and counts, printed at the end
    answered: int = 0  # requests answered through nginx so far, as the clients counted

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['BOTIFY_HOST_PORT']}"

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        command = ["docker-compose", "-p", self.project, "-f", str(ROOT / "docker-compose.yml")]
        return run([*command, *args], timeout, env=self.env, cwd=ROOT)

    def containers(self, service: str) -> list[str]:
        """Ids of the service's containers, in replica order."""
        ids = self.compose("ps", "-q", service, timeout=60).stdout.split()
        return sorted(ids, key=lambda c: inspect(c)["Name"])

    def botify(self, *args: str, timeout: float = 300) -> str:
        """``botify ARGS`` inside the first replica (its user, its environment)."""
        return self.compose("exec", "-T", "recommender", "botify", *args, timeout=timeout).stdout

    def sim(self, day: int, sessions: int) -> subprocess.Popen:
        """``sim run --agent remote`` on the host against nginx's published port."""
        command = [sys.executable, "-m", "sim", "run", "--world", str(self.data / "world")]
        command += ["--agent", "remote", "--url", self.url, "--episodes", str(sessions)]
        command += ["--workers", str(SIM_WORKERS), "--days", "1", "--first-day", str(day)]
        command += ["--seed", "1", "--quiet", "--out", str(self.work / f"day{day}.csv")]
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def finish(self, process: subprocess.Popen, day: int, timeout: float = 900) -> int:
        """Wait for a ``sim`` run; the requests it had answered (each counted once)."""
        output, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, f"sim run (day {day}) failed:\n{output}"
        lines = (self.work / f"day{day}.csv").read_text().splitlines()
        header = lines[0].split(",")
        requests_column = header.index("requests")
        answered = sum(int(line.split(",")[requests_column]) for line in lines[1:])
        self.answered += answered
        return answered


def inspect(container: str) -> dict:
    return json.loads(run(["docker", "inspect", container], 60).stdout)[0]


def replica_health(container: str) -> dict:
    """``/health`` as a replica itself answers it (not through nginx), status included."""
    probe = (
        "import json, urllib.request, urllib.error\n"
        "try:\n"
        "    r = urllib.request.urlopen('http://127.0.0.1:5001/health', timeout=5)\n"
        "    print(json.dumps({'code': r.status} | json.load(r)))\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(json.dumps({'code': e.code} | json.load(e)))\n"
    )
    return json.loads(run(["docker", "exec", container, "python3", "-c", probe], 60).stdout)


def wait_until(condition, within_s: float, what: str, pause_s: float = 0.5):
    """Poll ``condition()`` until it is truthy; its value. Fails the test after ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        time.sleep(pause_s)


def all_healthy(deployment: Deployment, replicas: int = REPLICAS) -> bool:
    states = [inspect(c)["State"] for c in deployment.containers("recommender")]
    return len(states) == replicas and all(
        s["Running"] and s.get("Health", {}).get("Status") == "healthy" for s in states
    )


def lines_by_host(logs: Path, *, live: bool = False) -> Counter:
    """Event-log lines per writing host (a replica's container hostname), every one parsed.

    ``live``: replicas are writing, and a reader can see a line half appended (CI once read
    368 bytes of one), so only complete lines are counted, unparsed.
    """
    counts: Counter = Counter()
    for path in logs.rglob("events-*.jsonl"):
        host = path.name.split("-")[1]
        data = path.read_bytes()
        if live:
            counts[host] += data.count(b"\n")
        else:
            counts[host] += sum(1 for line in data.splitlines() if json.loads(line))
    return counts


def events_of(logs: Path) -> list[tuple[str, dict]]:
    """(host, event) for every line of every segment."""
    pairs = []
    for path in logs.rglob("events-*.jsonl"):
        host = path.name.split("-")[1]
        pairs += [(host, json.loads(line)) for line in path.read_bytes().splitlines()]
    return pairs


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """The compose file up with three replicas, images built offline; torn down after."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("compose")
    data, logs = work / "data", work / "logs"
    logs.mkdir()
    figures = {}
    started = time.monotonic()
    run([str(ROOT / "docker" / "prepare.sh")], 3600, env=os.environ | {"PYTHON": sys.executable})
    figures["prepare"] = time.monotonic() - started
    run([sys.executable, "-m", "sim", "world", *WORLD, "--out", str(data / "world")], 300)
    for path in [data, logs, *data.rglob("*")]:
        os.chown(path, REPLICA_UID, REPLICA_UID)
    env = os.environ | {
        "BOTIFY_HOST_DATA": str(data),
        "BOTIFY_HOST_LOGS": str(logs),
        "BOTIFY_HOST_PORT": str(free_port()),
        "REDIS_PASSWORD": secrets.token_hex(16),
    }
    deployment = Deployment(f"botifytest{os.getpid()}", env, data, logs, work, figures)
    try:
        started = time.monotonic()
        deployment.compose("up", "--build", "--detach", "--scale", f"recommender={REPLICAS}")
        figures["build and up"] = time.monotonic() - started
        wait_until(lambda: all_healthy(deployment), 120, "three healthy replicas")
        wait_until(lambda: _answers(deployment.url), 30, "nginx answers")
        figures["healthy"] = time.monotonic() - started
        yield deployment
    finally:
        (work / "compose.log").write_text(
            subprocess.run(
                ["docker-compose", "-p", deployment.project, "logs", "--no-color"],
                capture_output=True,
                text=True,
                env=env,
                cwd=ROOT,
            ).stdout
        )
        deployment.compose("down", "--volumes", "--remove-orphans")
        print("\ncompose figures:", {k: _rounded(v) for k, v in figures.items()})


def _rounded(value):
    return round(value, 2) if isinstance(value, float) else value


def test_an_ab_run_through_nginx_reaches_every_replica(deployment):
    replicas = deployment.containers("recommender")
    hosts = {inspect(c)["Config"]["Hostname"] for c in replicas}
    before = {c: inspect(c)["State"]["StartedAt"] for c in replicas}
    started = time.monotonic()

    day1 = deployment.finish(deployment.sim(1, DAY_SESSIONS), day=1)
    deployment.botify("train", "contextual", "--logs", "/logs", "--out", "/data/contextual.jsonl")
    deployed = deployment.botify("deploy", "contextual", "/data/contextual.jsonl")
    deployment.botify("activate", "AB")
    version = wait_until(
        lambda: _served_everywhere(replicas, "AB"), 30, "every replica serves AB and the lists"
    )
    day2 = deployment.finish(deployment.sim(2, DAY_SESSIONS), day=2)
    deployment.figures["A/B run"] = time.monotonic() - started
    report = deployment.work / "report"
    run(
        [sys.executable, "-m", "botify", "report", "--logs", str(deployment.logs)]
        + ["--experiment", "AB", "--out", str(report)],
        300,
    )

    # Lines = answered requests, and every replica served its share of both days.
    per_host = lines_by_host(deployment.logs)
    assert sum(per_host.values()) == day1 + day2 == deployment.answered
    assert set(per_host) == hosts
    assert min(per_host.values()) > (day1 + day2) / REPLICAS / 2
    # Every replica switched to AB and the deployed lists, without a restart.
    assert version in deployed
    assert {c: inspect(c)["State"]["StartedAt"] for c in replicas} == before
    ab_hosts = {host for host, e in events_of(deployment.logs) if e["experiment"] == "AB"}
    assert ab_hosts == hosts
    day2_events = [e for _, e in events_of(deployment.logs) if e["experiment"] == "AB"]
    assert len(day2_events) == day2
    assert {e["recommender"] for e in day2_events} == set(AB_ARMS.values())
    contextual = [e for e in day2_events if e["served_by"] == "contextual"]
    assert contextual and {e["model_version"] for e in contextual} == {version}
    # The report reads those logs: AB's arms against sticky_artist, the lists winning.
    rows = json.loads((report / "report.json").read_text())["comparisons"]
    time_rows = {
        r["treatment"]: r for r in rows if r["metric"] == "time" and r["method"] == "welch"
    }
    assert set(time_rows) == {"T1", "T2"}
    assert time_rows["T1"]["significant"] and time_rows["T1"]["effect"] > 0


def _served_everywhere(replicas: list[str], experiment: str) -> str | None:
    """The contextual version every replica serves with ``experiment``, if they all do."""
    healths = [replica_health(c) for c in replicas]
    versions = {h["recommendations"].get("contextual") for h in healths}
    if all(h["experiment"] == experiment for h in healths) and len(versions) == 1:
        return versions.pop()
    return None


def test_a_replica_killed_under_load_costs_the_simulator_nothing_and_comes_back(deployment):
    replicas = deployment.containers("recommender")
    victim = inspect(replicas[1])
    lines_before = sum(lines_by_host(deployment.logs).values())
    answered_before = deployment.answered

    load = deployment.sim(3, DAY_SESSIONS)
    wait_until(
        lambda: (
            load.poll() is not None
            or sum(lines_by_host(deployment.logs, live=True).values()) > lines_before + 2000
        ),
        120,
        "traffic flows",
        pause_s=0.2,
    )
    assert load.poll() is None, f"the simulator stopped early:\n{load.communicate()[0]}"
    # A crash, not a shutdown: SIGKILL to the replica's first process, from the host.
    os.kill(victim["State"]["Pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    answered = deployment.finish(load, day=3)  # the run fails on any HTTP error
    assert answered == deployment.answered - answered_before
    deployment.figures["kill: requests answered"] = answered

    back = wait_until(
        lambda: (
            (s := inspect(victim["Id"]))["RestartCount"] > victim["RestartCount"]
            and s["State"].get("Health", {}).get("Status") == "healthy"
        ),
        120,
        "the killed replica restarted and healthy",
    )
    deployment.figures["replica back after kill"] = time.monotonic() - killed_at
    assert back
    host = victim["Config"]["Hostname"]
    before = lines_by_host(deployment.logs)[host]
    deployment.finish(deployment.sim(4, 300), day=4)
    assert lines_by_host(deployment.logs)[host] > before  # it takes traffic again

    # nginx resent the requests the dead replica had not answered: each answer has its line,
    # and at most one line per simulator worker is a request the victim logged but never
    # answered (its log line is written right before the answer).
    lines = sum(lines_by_host(deployment.logs).values())
    deployment.figures["kill: lines beyond answers"] = lines - deployment.answered
    assert 0 <= lines - deployment.answered <= SIM_WORKERS


def test_redis_restarted_degrades_answers_and_recovers_state(deployment):
    replicas = deployment.containers("recommender")
    control_plane = {c: replica_health(c) for c in replicas}
    users = range(1, 9)
    traffic = Traffic(deployment.url, users, tracks=3000, pause_s=0.01).start()
    try:
        time.sleep(1.0)
        deployment.compose("stop", "redis")
        stopped_at = time.monotonic()
        wait_until(
            lambda: all(replica_health(c)["code"] == 503 for c in replicas),
            10,
            "every replica's /health says Redis is down",
        )
        time.sleep(1.0)
        restarted_at = time.monotonic()
        deployment.compose("start", "redis")
        wait_until(
            lambda: all(replica_health(c)["code"] == 200 for c in replicas),
            60,
            "every replica's /health recovers",
        )
        recovered_ms = int(time.time() * 1000)
        time.sleep(2.0)
    finally:
        answers = traffic.stop()
    deployment.answered += len(answers)

    assert {a.status for a in answers} == {200}
    during = [a for a in answers if stopped_at < a.sent_at < restarted_at]
    assert during
    deployment.figures["redis: requests, during the outage"] = len(answers), len(during)
    deployment.figures["redis: slowest answer"] = max(a.seconds for a in answers)
    events = [e for _, e in events_of(deployment.logs) if e["user"] in users]
    degraded = [e for e in events if e["degraded"]]
    assert degraded and all(e["served_by"] == DEGRADED for e in degraded)
    after = [e for e in events if e["timestamp"] > recovered_ms + 500]
    assert after and not any(e["degraded"] for e in after)
    # Redis saved its data on the way down: the deployed lists and the active experiment are
    # still what every replica serves.
    for container, health in control_plane.items():
        now = replica_health(container)
        assert now["experiment"] == health["experiment"] == "AB"
        assert now["recommendations"] == health["recommendations"]
    assert sum(lines_by_host(deployment.logs).values()) - deployment.answered <= SIM_WORKERS


def test_redis_is_private_and_no_container_runs_as_root(deployment):
    redis_container = inspect(deployment.containers("redis")[0])
    assert redis_container["HostConfig"]["NetworkMode"] == "none"
    assert set(redis_container["NetworkSettings"]["Networks"]) == {"none"}
    assert redis_container["NetworkSettings"]["Networks"]["none"]["IPAddress"] == ""
    published = inspect(deployment.containers("nginx")[0])["NetworkSettings"]["Ports"]
    assert set(published) == {"5001/tcp"}  # IPv4 and IPv6 bindings of the one port
    assert {b["HostPort"] for b in published["5001/tcp"]} == {deployment.env["BOTIFY_HOST_PORT"]}
    # The only way in is the socket, and it wants the password.
    refused = subprocess.run(
        ["docker", "exec", "-e", "REDISCLI_AUTH=", redis_container["Id"]]
        + ["redis-cli", "-s", "/run/redis/redis.sock", "get", "x"],
        capture_output=True,
        text=True,
    )
    assert "NOAUTH" in refused.stdout + refused.stderr
    for service in ("redis", "recommender", "nginx"):
        for container in deployment.containers(service):
            top = run(["docker", "top", container, "-eo", "pid,uid,comm"], 60).stdout
            uids = {int(line.split()[1]) for line in top.splitlines()[1:]}
            assert uids and 0 not in uids, (service, top)


def test_a_scaled_up_replica_takes_traffic_once_nginx_restarts(deployment):
    deployment.compose("up", "--detach", "--no-recreate", "--scale", f"recommender={REPLICAS + 1}")
    wait_until(lambda: all_healthy(deployment, REPLICAS + 1), 120, "four healthy replicas")
    deployment.compose("restart", "nginx")  # nginx reads the replicas' addresses at start
    wait_until(lambda: _answers(deployment.url), 30, "nginx answers again")
    before = lines_by_host(deployment.logs)

    deployment.finish(deployment.sim(5, 300), day=5)

    after = lines_by_host(deployment.logs)
    hosts = {inspect(c)["Config"]["Hostname"] for c in deployment.containers("recommender")}
    assert len(hosts) == REPLICAS + 1
    assert all(after[host] > before[host] for host in hosts)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=5).ok
    except requests.RequestException:
        return False
