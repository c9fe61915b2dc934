"""Latency and CPU of request n of a session, n = 1…100, per recommender: flat or growing?

One ``botify serve`` (2 workers) against a bench-owned redis-server, with one experiment
whose arms are the recommenders compared (``--recommenders``); each recommender gets
``--users`` users of its own arm. Every user plays one session of ``--length`` requests,
each the answer to the one before, with listen times drawn per user (about half good).
The sessions advance in lockstep, one block of ``--bucket`` positions at a time, and the
recommenders take turns within each block, so the machine's drift hits all alike.

Prints, per position, the median latency (client wall time, one keep-alive connection)
per recommender; per block of positions, the CPU milliseconds per request of the
service's processes and Redis (``/proc/<pid>/stat`` utime+stime, ``bench/load.py``);
both the median over ``--rounds`` rounds (fresh users each round). ``--baseline REV``
(repeatable) runs the same sessions on a temporary git worktree of REV too, the checkouts
taking turns round by round, each with users of its own.

    python bench/session_length.py [--users 100] [--length 100] [--rounds 3] [--aof no]
        [--baseline 653e6d2]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from load import checkouts, deployed_world, tree_cpu_seconds

from botify.config import treatment_names
from botify.rollout.experiments import Experiment
from botify.serving.redis_server import RedisServer
from botify.serving.service_process import ServiceProcess


def users_of(experiment: Experiment, users: int, start: int) -> dict[str, list[int]]:
    """``users`` user ids per recommender of ``experiment``, from ``start`` on."""
    chosen: dict[str, list[int]] = {name: [] for name in experiment.arms.values()}
    user = start
    while any(len(ids) < users for ids in chosen.values()):
        ids = chosen[experiment.recommender(user)]
        if len(ids) < users:
            ids.append(user)
        user += 1
    return chosen


class Session:
    """One user's session: the next request's body follows the last answer."""

    def __init__(self, user: int, tracks: int) -> None:
        self.user = user
        self.rng = random.Random(user)
        self.track = self.rng.randrange(tracks)

    def listen(self, connection: http.client.HTTPConnection) -> float:
        """Send the next listen; the request's wall time in ms."""
        body = json.dumps({"track": self.track, "time": round(self.rng.random(), 3)})
        started = time.perf_counter()
        connection.request("POST", f"/next/{self.user}", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        elapsed = (time.perf_counter() - started) * 1e3
        if response.status != 200:
            raise RuntimeError(f"/next answered {response.status}: {answer}")
        self.track = answer["track"]
        return elapsed


def one_round(service: ServiceProcess, pids: list[int], groups: dict, args) -> tuple[dict, dict]:
    """Latency (ms, per recommender, per position) and CPU (ms per request, per recommender,
    per block of positions) of one round of lockstep sessions."""
    connection = http.client.HTTPConnection("127.0.0.1", service.port)
    sessions = {name: [Session(u, args.tracks) for u in ids] for name, ids in groups.items()}
    latency = {name: [[] for _ in range(args.length)] for name in groups}
    cpu = {name: [] for name in groups}
    for block in range(0, args.length, args.bucket):
        positions = range(block, min(block + args.bucket, args.length))
        for name, members in sessions.items():
            before = tree_cpu_seconds(pids)
            for position in positions:
                for session in members:
                    latency[name][position].append(session.listen(connection))
            spent = tree_cpu_seconds(pids) - before
            cpu[name].append(spent * 1e3 / (len(positions) * len(members)))
    connection.close()
    return latency, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recommenders", default="contextual,anchor_fresh,anchor_session")
    parser.add_argument("--users", type=int, default=100, help="sessions per recommender")
    parser.add_argument("--length", type=int, default=100, help="requests per session")
    parser.add_argument("--bucket", type=int, default=10, help="positions per CPU block")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--aof", choices=["yes", "no"], default="yes")
    parser.add_argument(
        "--baseline", action="append", default=[], help="a revision to compare with (repeatable)"
    )
    args = parser.parse_args()
    names = args.recommenders.split(",")
    experiment = Experiment("LENGTH", dict(zip(treatment_names(len(names)), names, strict=True)))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        redis_server = RedisServer(tmp / "redis").start(extra_args=("--appendonly", args.aof))
        try:
            world = deployed_world(tmp, args.tracks, redis_server.url)
            env = {
                "BOTIFY_REDIS_URL": redis_server.url,
                "BOTIFY_EXPERIMENTS": json.dumps({experiment.name: experiment.arms}),
            }
            with checkouts(args.baseline, tmp) as trees, contextlib.ExitStack() as stack:
                services = {
                    label: stack.enter_context(
                        ServiceProcess(
                            world, tmp / f"logs-{i}", tmp / f"r-{i}", 2, env=env, cwd=tree
                        )
                    )
                    for i, (label, tree) in enumerate(trees.items())
                }
                rounds = {label: [] for label in services}
                for r in range(args.rounds):
                    for i, (label, service) in enumerate(services.items()):
                        pids = [service.process.pid, redis_server.process.pid]
                        groups = users_of(experiment, args.users, (r * len(services) + i) * 10**6)
                        rounds[label].append(one_round(service, pids, groups, args))
        finally:
            redis_server.close()

    columns = [(label, name) for label in rounds for name in names]
    heads = [f"{name} ({label})" if len(rounds) > 1 else name for label, name in columns]
    print(f"median of {args.rounds} rounds, {args.users} sessions per recommender per round")
    print("\n| n | " + " | ".join(f"{head} p50 ms" for head in heads) + " |")
    print("|---:|" + "---:|" * len(columns))
    for position in range(args.length):
        cells = [
            statistics.median(statistics.median(lat[name][position]) for lat, _ in rounds[label])
            for label, name in columns
        ]
        print(f"| {position + 1} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    print("\n| n | " + " | ".join(f"{head} CPU ms/req" for head in heads) + " |")
    print("|---|" + "---:|" * len(columns))
    for index, block in enumerate(range(0, args.length, args.bucket)):
        cells = [
            statistics.median(cpu[name][index] for _, cpu in rounds[label])
            for label, name in columns
        ]
        span = f"{block + 1}-{min(block + args.bucket, args.length)}"
        print(f"| {span} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
