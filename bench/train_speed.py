"""Training time and peak memory of ``botify train contextual`` on synthetic logs.

Generates logs of N simulated sessions over two days (a 50,000-track clustered world with
its catalog, the generator of the training tests: 2,500 genres of 5 artists) and runs the
whole command, offline evaluation included, in a fresh process per size so that its peak
RSS is its own.

    .venv/bin/python bench/train_speed.py [--sessions 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from botify.training.command import train_contextual_command  # noqa: E402
from tests.helpers.synthetic_logs import make_world, write_catalog, write_synthetic_logs  # noqa: E402


def train_and_measure(logs: Path, tracks: Path, out: Path) -> dict:
    """Run the command in this process; wall seconds, peak RSS (MiB) and list count."""
    started = time.perf_counter()
    code = train_contextual_command(logs, out, tracks)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lists = sum(1 for _ in out.open()) if code == 0 else 0
    return {"code": code, "seconds": seconds, "peak_mib": peak_mib, "lists": lists}


def main() -> None:
    """Print one row of figures per log size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--measure", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(train_and_measure(*args.measure)))
        return
    world = make_world(n_clusters=2500, tracks_per_cluster=20, seed=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tracks = write_catalog(Path(tmp) / "tracks.jsonl", world)
        for n_sessions in args.sessions:
            logs = write_synthetic_logs(Path(tmp) / f"logs-{n_sessions}", world, n_sessions, seed=2)
            events = sum(1 for path in logs.rglob("*.jsonl") for _ in path.open())
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    str(logs),
                    str(tracks),
                    f"{tmp}/l-{n_sessions}",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            print(child.stdout)
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append((n_sessions, events, figures))
    print("| sessions | events | lists | wall time (s) | peak RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|")
    for n_sessions, events, f in rows:
        print(
            f"| {n_sessions} | {events} | {f['lists']} | {f['seconds']:.1f} | {f['peak_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
