"""Service load benchmark: req/s and p50/p99 latency per endpoint and recommender.

Runs ``botify serve`` (gunicorn, 2 workers) against a real redis-server (``RedisServer``:
a Unix socket with a password, as the embedded one) and drives it with wrk (installed with
apt if missing) at 1, 16 and 64 connections. The catalog (50,000 tracks) and i2i lists (50
per track) are generated here, so the figures do not depend on a simulator world.

Then, on the contextual server, it alternates ``GET /`` and ``POST /next`` at 16
connections for ``--ratio-rounds`` rounds and prints the median throughput ratio: this
machine's speed drifts by ±15% over minutes, so a ratio of two runs taken minutes apart
says little.

    python bench/load.py [--duration 10] [--recommenders contextual,anchor] [--ratio-rounds 6]

``--baseline REV`` (repeatable) compares checkouts instead: each REV is checked out in a
temporary git worktree, and every checkout (the REVs and this tree) serves each
recommender of ``--recommenders`` from its own ``botify serve`` against the same Redis and
world. The checkouts take turns for ``--rounds`` rounds at ``--compare-connections``
connections, and the medians are printed: req/s, p50, p99 and CPU milliseconds per request
of the service's processes and Redis (``/proc/<pid>/stat`` utime+stime over the process
tree), which varies less than req/s on a machine whose other load comes and goes.
``--aof no`` runs Redis without its append-only file (the embedded one keeps it).

    python bench/load.py --baseline 653e6d2 [--baseline 78158ec] [--rounds 5] [--aof no]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from botify.config import Config
from botify.data.catalog import load_catalog
from botify.rollout.deploy import publish
from botify.serving.redis_server import RedisServer
from botify.serving.service_process import ServiceProcess
from botify.state.client import connect

REPO = Path(__file__).resolve().parents[1]
POST_SCRIPT = """
math.randomseed(42)
request = function()
  local body = string.format('{"track": %%d, "time": %%.2f}', math.random(0, %d), math.random())
  return wrk.format("POST", "/next/" .. math.random(0, 99999),
                    {["Content-Type"] = "application/json"}, body)
end
"""


def ensure_wrk() -> str:
    """Path of wrk, installing Debian's package if it is missing."""
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk")


def write_world(directory: Path, tracks: int, per_artist: int = 10, k: int = 50) -> Path:
    """A catalog and i2i lists of the benchmark's size; returns the i2i file."""
    rng = random.Random(0)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "tracks.jsonl", "w") as f:
        for t in range(tracks):
            record = {
                "track": t,
                "artist": f"Artist {t // per_artist}",
                "title": f"Song {t}",
                "genre": f"genre{t % 20}",
                "popularity": rng.randint(0, 10_000),
            }
            f.write(json.dumps(record) + "\n")
    i2i = directory / "i2i.jsonl"
    with open(i2i, "w") as f:
        for t in range(tracks):
            recs = rng.sample(range(tracks), k)
            f.write(json.dumps({"track": t, "recommendations": [r for r in recs if r != t]}) + "\n")
    return i2i


def deployed_world(directory: Path, tracks: int, redis_url: str) -> Path:
    """Write the benchmark world under ``directory`` and deploy its i2i lists to Redis."""
    world = directory / "world"
    i2i = write_world(world, tracks)
    config = Config(redis_url=redis_url, data_dir=world)
    publish(connect(redis_url, config), config, load_catalog(world), "contextual", i2i)
    return world


def tree_cpu_seconds(roots: list[int]) -> float:
    """CPU seconds (user + system) used so far by the processes ``roots`` and all their
    descendants alive now (``/proc/<pid>/stat``; a process's threads are included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        # The command name (field 2) may hold spaces; the fields after it do not.
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    total, frontier = 0.0, [pid for pid in roots if pid in cpu]
    seen = set(frontier)
    while frontier:
        pid = frontier.pop()
        total += cpu[pid]
        children = [child for child, parent in parents.items() if parent == pid]
        frontier += [child for child in children if child not in seen]
        seen.update(children)
    return total


def run_wrk(
    wrk: str,
    url: str,
    connections: int,
    duration: int,
    script: Path | None,
    pids: list[int] | None = None,
) -> dict:
    """One wrk run; returns req/s, p50/p99 in ms, the error count and, given the ``pids``
    serving it, their CPU ms per request (``tree_cpu_seconds``; None without)."""
    cpu_before = tree_cpu_seconds(pids) if pids is not None else 0.0
    cpu_ms = None
    command = [wrk, f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def latency_ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if pids is not None:
        cpu_ms = (tree_cpu_seconds(pids) - cpu_before) * 1e3
        cpu_ms /= max(1, int(re.search(r"(\d+) requests in", out).group(1)))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency_ms("50%"),
        "p99": latency_ms("99%"),
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
        "cpu_ms": cpu_ms,
    }


def ratio_rounds(wrk: str, url: str, script: Path, rounds: int, duration: int) -> None:
    """Alternate ``GET /`` and ``POST /next`` at 16 connections; print the median ratio."""
    ratios, p99s = [], []
    for _ in range(rounds):
        root = run_wrk(wrk, f"{url}/", 16, duration, None)
        listen = run_wrk(wrk, f"{url}/next/0", 16, duration, script)
        ratios.append(listen["rps"] / root["rps"])
        p99s.append(listen["p99"])
        print(
            f"GET / {root['rps']:.0f} req/s, POST /next {listen['rps']:.0f} req/s "
            f"(p99 {listen['p99']:.2f} ms, errors {root['errors'] + listen['errors']}): "
            f"ratio {ratios[-1]:.3f}",
            flush=True,
        )
    print(
        f"\nPOST /next / GET / throughput at 16 connections, median of {rounds} alternating "
        f"rounds: {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}); "
        f"POST /next p99 median {statistics.median(p99s):.2f} ms"
    )


@contextlib.contextmanager
def checkouts(revisions: list[str], directory: Path) -> Iterator[dict[str, Path]]:
    """This tree and a temporary git worktree of each revision, by label; the worktrees
    are removed on exit."""
    made = {}
    try:
        for revision in revisions:
            path = directory / f"checkout-{revision}"
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(path), revision],
                check=True,
            )
            made[revision] = path
        yield {**made, "this tree": REPO}
    finally:
        for path in made.values():
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)])


def compare(args, wrk: str, tmp: Path, redis_server: RedisServer, world: Path, script: Path):
    """Each recommender served by every checkout in turn, ``args.rounds`` rounds; prints the
    medians per checkout and their ratios to the last baseline."""
    rows = []
    with checkouts(args.baseline, tmp) as trees:
        for name in args.recommenders.split(","):
            env = {
                "BOTIFY_REDIS_URL": redis_server.url,
                "BOTIFY_EXPERIMENTS": json.dumps({"BENCH": {"C": name}}),
            }
            with contextlib.ExitStack() as stack:
                services = {}
                for index, (label, tree) in enumerate(trees.items()):
                    service = ServiceProcess(
                        world, tmp / f"logs-{index}", tmp / f"r-{index}", args.workers,
                        env=env, cwd=tree,
                    )  # fmt: skip
                    try:
                        services[label] = stack.enter_context(service)
                    except RuntimeError as e:
                        # An older checkout may not have this recommender.
                        print(f"{name:<15} {label:<18} cannot serve it: {e}", flush=True)
                runs = {label: [] for label in services}
                for round_ in range(args.rounds):
                    # Each round starts with the next checkout: no one always runs first.
                    labels = list(services)
                    for label in labels[round_ % len(labels) :] + labels[: round_ % len(labels)]:
                        service = services[label]
                        pids = [service.process.pid, redis_server.process.pid]
                        result = run_wrk(
                            wrk, f"{service.url}/next/0", args.compare_connections,
                            args.duration, script, pids,
                        )  # fmt: skip
                        runs[label].append(result)
                        print(
                            f"{name:<15} {label:<18} round {round_ + 1}: {result['rps']:>6.0f} "
                            f"req/s  p99 {result['p99']:6.2f} ms  CPU {result['cpu_ms']:.3f} "
                            f"ms/req  errors {result['errors']}",
                            flush=True,
                        )
            for label, results in runs.items():
                medians = {
                    key: statistics.median(r[key] for r in results)
                    for key in ("rps", "p50", "p99", "cpu_ms", "errors")
                }
                rows.append((name, label, medians))
    print(
        f"\nPOST /next at {args.compare_connections} connections, {args.workers} workers, "
        f"Redis AOF {args.aof}: medians of {args.rounds} alternating rounds of {args.duration} s"
    )
    print("\n| recommender | checkout | req/s | p50 ms | p99 ms | CPU ms/req | errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, label, m in rows:
        print(
            f"| {name} | {label} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} "
            f"| {m['cpu_ms']:.3f} | {m['errors']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument(
        "--recommenders",
        default="random,toppop,sticky_artist,contextual,anchor,anchor_popular,anchor_fresh",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--ratio-rounds", type=int, default=6, help="alternating rounds on contextual (0: none)"
    )
    parser.add_argument(
        "--baseline", action="append", default=[], help="a revision to compare with (repeatable)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --baseline")
    parser.add_argument("--compare-connections", type=int, default=16)
    parser.add_argument("--aof", choices=["yes", "no"], default="yes")
    args = parser.parse_args()
    wrk = ensure_wrk()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        redis_server = RedisServer(tmp / "redis").start(extra_args=("--appendonly", args.aof))
        try:
            world = deployed_world(tmp, args.tracks, redis_server.url)
            script = tmp / "post.lua"
            script.write_text(POST_SCRIPT % (args.tracks - 1))
            if args.baseline:
                compare(args, wrk, tmp, redis_server, world, script)
            else:
                levels_table(args, wrk, tmp, redis_server, world, script)
        finally:
            redis_server.close()


def levels_table(args, wrk: str, tmp: Path, redis_server: RedisServer, world: Path, script: Path):
    """Every recommender at every connection level, then the ratio rounds on contextual."""
    levels = [int(c) for c in args.connections.split(",")]
    rows = []
    for index, name in enumerate(args.recommenders.split(",")):
        experiments = json.dumps({"BENCH": {"C": name}})
        env = {"BOTIFY_REDIS_URL": redis_server.url, "BOTIFY_EXPERIMENTS": experiments}
        started = time.perf_counter()
        with ServiceProcess(world, tmp / "logs", tmp / "r", args.workers, env=env) as service:
            print(
                f"{name}: healthy {time.perf_counter() - started:.2f} s after start "
                f"({args.tracks} tracks, {args.tracks} i2i lists deployed)",
                flush=True,
            )
            targets = [("POST /next", name, f"{service.url}/next/0", script)]
            if index == 0:
                targets.insert(0, ("GET /", "-", f"{service.url}/", None))
            for endpoint, label, url, lua in targets:
                for connections in levels:
                    pids = [service.process.pid, redis_server.process.pid]
                    result = run_wrk(wrk, url, connections, args.duration, lua, pids)
                    rows.append((endpoint, label, connections, result))
                    print(
                        f"{endpoint:<11} {label:<15} c={connections:<3} "
                        f"{result['rps']:>8.0f} req/s  p50 {result['p50']:6.2f} ms  "
                        f"p99 {result['p99']:6.2f} ms  CPU {result['cpu_ms']:.3f} ms/req  "
                        f"errors {result['errors']}",
                        flush=True,
                    )
            if name == "contextual" and args.ratio_rounds:
                ratio_rounds(wrk, service.url, script, args.ratio_rounds, args.duration)

    print(
        "\n| endpoint | recommender | connections | req/s | p50 ms | p99 ms | CPU ms/req | errors |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for endpoint, label, connections, r in rows:
        print(
            f"| {endpoint} | {label} | {connections} | {r['rps']:.0f} | {r['p50']:.2f} "
            f"| {r['p99']:.2f} | {r['cpu_ms']:.3f} | {r['errors']} |"
        )


if __name__ == "__main__":
    main()
