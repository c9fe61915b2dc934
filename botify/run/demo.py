"""``make demo``: the whole loop of a recommender team, end to end, on one machine.

world → service → day 1 (baseline experiment) → train i2i from day-1 logs → deploy and
switch to the A/B experiment without restart → day 2 (A/B) → report. Every process it
starts is stopped at the end, on failure and on Ctrl-C. The simulator runs as its own
command, talking to the service over HTTP only, as a real client would.

    python -m botify.run.demo [--seed 42] [--day1-sessions 10000] [--day2-sessions 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from botify.data.lists import content_version
from botify.run.redis_server import RedisServer
from botify.run.service_process import ServiceProcess

EXPERIMENTS = {
    "DAY1": {"C": "random", "T1": "sticky_artist"},
    "AB": {"C": "contextual", "T1": "anchor", "T2": "anchor_popular", "T3": "anchor_fresh"},
}


def stage(title: str) -> float:
    """Announce a stage; returns its start time."""
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def done(started: float) -> None:
    """Say how long the stage took."""
    print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)


def run(*command: str, env: dict[str, str] | None = None) -> None:
    """Run a command with its output shown; fail loudly if it fails."""
    subprocess.run([sys.executable, "-m", *command], env=env, check=True)


def world_is_current(world: Path, seed: int, tracks: int, users: int) -> bool:
    """Whether ``world`` was generated with these parameters (generation is deterministic)."""
    meta = world / "world.json"
    if not meta.is_file() or not (world / "tracks.jsonl").is_file():
        return False
    params = json.loads(meta.read_text())
    return (params.get("seed"), params.get("n_tracks"), params.get("n_users")) == (
        seed,
        tracks,
        users,
    )


def wait_until_serving(url: str, experiment: str, version: str, timeout_s: float = 60) -> None:
    """Wait until every worker answers with ``experiment`` active and ``version`` deployed.

    Requests land on either worker, so twenty agreeing answers in a row mean both switched.
    """
    deadline = time.monotonic() + timeout_s
    agreeing = 0
    with requests.Session() as http:
        while agreeing < 20:
            health = http.get(f"{url}/health", timeout=5).json()
            switched = (
                health["experiment"] == experiment
                and health["recommendations"]["contextual"] == version
            )
            agreeing = agreeing + 1 if switched else 0
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not switch to {experiment} / {version}")
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--day1-sessions", type=int, default=10_000)
    parser.add_argument("--day2-sessions", type=int, default=24_000)
    parser.add_argument("--workers", type=int, default=2, help="service and simulator workers")
    parser.add_argument("--world", type=Path, default=Path("data/world"))
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    args = parser.parse_args(argv)
    total = time.perf_counter()

    started = stage(f"1/6 world: {args.tracks} tracks, {args.users} users, seed {args.seed}")
    if world_is_current(args.world, args.seed, args.tracks, args.users):
        print(f"    {args.world} already holds this world")
    else:
        run("sim", "world", "--seed", str(args.seed), "--out", str(args.world),
            "--tracks", str(args.tracks), "--users", str(args.users))  # fmt: skip
    done(started)

    if args.out.exists():
        shutil.rmtree(args.out)
    logs = args.out / "logs"
    redis_url = os.environ.get("BOTIFY_REDIS_URL")
    embedded = None
    service = None
    try:
        started = stage("2/6 Redis and the service (gunicorn, embedded Redis unless set)")
        if redis_url:
            print(
                f"    using BOTIFY_REDIS_URL={redis_url} (state from earlier runs affects answers)"
            )
        else:
            embedded = RedisServer(args.out / "redis").start()
            redis_url = embedded.url
            print(f"    started a fresh embedded redis-server ({embedded.binary}) at {redis_url}")
        env = {
            "BOTIFY_REDIS_URL": redis_url,
            "BOTIFY_EXPERIMENTS": json.dumps(EXPERIMENTS),
            "BOTIFY_EXPERIMENT": "DAY1",
            "BOTIFY_SEED": str(args.seed),
        }
        service = ServiceProcess(
            args.world, logs, args.out / "redis", workers=args.workers, env=env
        ).start()
        print(f"    serving at {service.url}, experiment DAY1 = {EXPERIMENTS['DAY1']}")
        done(started)

        def simulate_day(day: int, sessions: int) -> None:
            run("sim", "run", "--world", str(args.world), "--agent", "remote",
                "--url", service.url, "--episodes", str(sessions), "--workers",
                str(args.workers), "--days", "1", "--first-day", str(day), "--seed", str(args.seed),
                "--out", str(args.out / f"day{day}-sessions.csv"))  # fmt: skip

        started = stage(f"3/6 day 1: {args.day1_sessions} sessions, baselines random / sticky")
        simulate_day(1, args.day1_sessions)
        done(started)

        started = stage("4/6 train contextual i2i lists from day-1 logs, deploy, activate AB")
        lists = args.out / "contextual.jsonl"
        run("botify", "train", "contextual", "--logs", str(logs), "--out", str(lists),
            "--seed", str(args.seed), "--tracks", str(args.world / "tracks.jsonl"))  # fmt: skip
        run("botify", "deploy", "contextual", str(lists), env=service.env)
        run("botify", "activate", "AB", env=service.env)
        version = content_version(lists)
        wait_until_serving(service.url, "AB", version)
        print(f"    every worker serves contextual {version} and experiment AB, no restart")
        done(started)

        started = stage(f"5/6 day 2: {args.day2_sessions} sessions, A/B {EXPERIMENTS['AB']}")
        simulate_day(2, args.day2_sessions)
        done(started)
    finally:
        if service is not None:
            service.stop()
        if embedded is not None:
            embedded.stop()

    started = stage("6/6 report")
    run("botify", "report", "--logs", str(logs), "--experiment", "AB", "--out",
        str(args.out), "--tracks", str(args.world / "tracks.jsonl"))  # fmt: skip
    done(started)
    print(f"\ndemo finished in {time.perf_counter() - total:.0f} s; report in {args.out}/")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ndemo interrupted; every process it started has been stopped", file=sys.stderr)
        sys.exit(130)
    except (subprocess.CalledProcessError, RuntimeError) as e:
        print(f"\ndemo failed: {e}", file=sys.stderr)
        sys.exit(1)
