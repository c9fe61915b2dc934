"""Calibration of the default world: mean session time of the in-process agents.

Target (the simulator's calibration, docs/simulator.md): random < sticky_artist < oracle,
sticky_artist 30–80% above random, oracle at least 2× sticky_artist. Prints a markdown
table (mean ± 95% CI).

    .venv/bin/python bench/calibration.py [--world DIR] [--episodes 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time as clock
from pathlib import Path

from sim.runner import RunSettings, run_day
from sim.stats import mean_ci
from sim.world import WorldParams, generate_world
from sim.world_files import load_world

AGENTS = ("random", "sticky_artist", "oracle")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, help="world directory (default: generate seed 42)")
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    world = load_world(args.world) if args.world else generate_world(WorldParams())
    print(
        f"world: {world.catalog.n_tracks} tracks, {world.users.n_users} users, seed "
        f"{world.params.seed}; {args.episodes} sessions per agent, run seed {args.seed}\n"
    )
    print("| agent | session time (95% CI) | tracks per session (95% CI) | vs random | seconds |")
    print("|---|---:|---:|---:|---:|")
    means = {}
    for agent in AGENTS:
        started = clock.perf_counter()
        sessions = run_day(world, RunSettings(agent, args.episodes, seed=args.seed), 1, False)
        elapsed = clock.perf_counter() - started
        time_mean, time_ci = mean_ci(sessions["time"].to_numpy())
        tracks_mean, tracks_ci = mean_ci(sessions["tracks"].to_numpy())
        means[agent] = time_mean
        print(
            f"| {agent} | {time_mean:.3f} ± {time_ci:.3f} | {tracks_mean:.2f} ± {tracks_ci:.2f} "
            f"| {time_mean / means['random'] - 1:+.0%} | {elapsed:.1f} |"
        )
    sticky_lift = means["sticky_artist"] / means["random"] - 1
    oracle_ratio = means["oracle"] / means["sticky_artist"]
    ok = 0.3 <= sticky_lift <= 0.8 and oracle_ratio >= 2
    verdict = "OK" if ok else "MISSED"
    print(
        f"\nsticky_artist vs random {sticky_lift:+.0%} (target +30..+80%), "
        f"oracle / sticky_artist {oracle_ratio:.1f}x (target >= 2x): {verdict}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
