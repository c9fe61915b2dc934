"""Simulator speed: world generation, in-process random agent (1 and 2 workers), and the remote
agent against ``botify serve`` (2 gunicorn workers, embedded real Redis) started here.

Targets on a 2-core machine: world generation < 30 s; in-process >= 100,000 steps/s in one
process; remote >= 1,000 requests/s with ``--workers 2``.

    .venv/bin/python bench/sim_speed.py [--episodes 100000] [--remote-episodes 3000] [--no-remote]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time as clock
from dataclasses import replace
from pathlib import Path

from botify.serving.service_process import ServiceProcess
from sim.runner import RunSettings, play_day, run_day
from sim.world import World, WorldParams, generate_world
from sim.world_files import load_world, write_world


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def _in_process(world: World, episodes: int, workers: int) -> None:
    """Two days of the random agent: the world's population (the default), then the same
    world with uniformly drawn users (no population), to compare their speeds."""
    settings = RunSettings("random", episodes, seed=1, workers=workers)
    uniform = replace(world, params=replace(world.params, population=False))
    for kind, played in (("population", world), ("uniform users", uniform)):
        state = None
        # A population's day 2 still meets users day 1 did not (their interests' neighbours
        # are computed then): day 3 is the steady state.
        days = ((1, "cold: builds the first-track neighbour cache"), (2, "warming"), (3, "warm"))
        for day, label in days:
            started = clock.perf_counter()
            sessions, state = play_day(played, settings, day, state, show_progress=False)
            elapsed = clock.perf_counter() - started
            steps, n = int(sessions["tracks"].sum()), len(sessions)
            print(
                f"in-process random, {kind}, workers={workers}, day {day} ({label}): {n} "
                f"sessions, {steps} steps in {elapsed:.2f}s = {steps / elapsed:,.0f} steps/s, "
                f"{n / elapsed:,.0f} sessions/s"
            )


def _remote(world: World, world_dir: Path, episodes: int, scratch: Path) -> None:
    service = ServiceProcess(world_dir, scratch / "logs", scratch / "redis", workers=2)
    with open(scratch / "serve.log", "w") as log:
        try:
            service.start(output=log)
            settings = RunSettings("remote", episodes, seed=3, workers=2, url=service.url)
            started = clock.perf_counter()
            sessions = run_day(world, settings, 1, show_progress=False)
            elapsed = clock.perf_counter() - started
            made = int(sessions["requests"].sum())
            print(
                f"remote agent, workers=2 vs botify serve --workers 2: {episodes} sessions, "
                f"{made} requests in {elapsed:.2f}s = {made / elapsed:,.0f} requests/s, "
                f"{int(sessions['tracks'].sum()) / elapsed:,.0f} steps/s"
            )
        except RuntimeError as error:
            print(f"remote agent: not measured: {error} (server output: {scratch / 'serve.log'})")
        finally:
            service.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--remote-episodes", type=int, default=3_000)
    parser.add_argument("--no-remote", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sim-speed-") as scratch_name:
        scratch = Path(scratch_name)
        started = clock.perf_counter()
        write_world(generate_world(WorldParams()), scratch / "world")
        print(f"world generation (50,000 tracks, 10,000 users) + write: "
              f"{clock.perf_counter() - started:.1f}s")  # fmt: skip
        started = clock.perf_counter()
        world = load_world(scratch / "world")
        print(f"world load: {clock.perf_counter() - started:.1f}s")
        _in_process(world, args.episodes, workers=1)
        _in_process(load_world(scratch / "world"), args.episodes, workers=2)
        own, children = _peak_mb()
        print(
            f"peak memory (max RSS): this process {own:,.0f} MB, largest child {children:,.0f} MB"
        )
        if not args.no_remote:
            _remote(world, scratch / "world", args.remote_episodes, scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
