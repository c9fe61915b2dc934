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
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from botify.config import Config
from botify.data.catalog import load_catalog
from botify.rollout.deploy import publish
from botify.serving.redis_server import RedisServer
from botify.serving.service_process import ServiceProcess
from botify.state.client import connect

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


def run_wrk(wrk: str, url: str, connections: int, duration: int, script: Path | None) -> dict:
    """One wrk run; returns req/s, p50/p99 in ms and the error count."""
    command = [wrk, f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def latency_ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency_ms("50%"),
        "p99": latency_ms("99%"),
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
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
    args = parser.parse_args()
    wrk = ensure_wrk()
    levels = [int(c) for c in args.connections.split(",")]

    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as redis_server:
        tmp = Path(tmp)
        world = deployed_world(tmp, args.tracks, redis_server.url)
        script = tmp / "post.lua"
        script.write_text(POST_SCRIPT % (args.tracks - 1))

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
                        result = run_wrk(wrk, url, connections, args.duration, lua)
                        rows.append((endpoint, label, connections, result))
                        print(
                            f"{endpoint:<11} {label:<15} c={connections:<3} "
                            f"{result['rps']:>8.0f} req/s  p50 {result['p50']:6.2f} ms  "
                            f"p99 {result['p99']:6.2f} ms  errors {result['errors']}",
                            flush=True,
                        )
                if name == "contextual" and args.ratio_rounds:
                    ratio_rounds(wrk, service.url, script, args.ratio_rounds, args.duration)

    print("\n| endpoint | recommender | connections | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for endpoint, label, connections, r in rows:
        print(
            f"| {endpoint} | {label} | {connections} | {r['rps']:.0f} | {r['p50']:.2f} "
            f"| {r['p99']:.2f} | {r['errors']} |"
        )


if __name__ == "__main__":
    main()
