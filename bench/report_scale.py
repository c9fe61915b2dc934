"""Report and training at production scale: time and peak memory on millions of events.

Builds a log directory of ``--millions`` million events from real logs (default: the
demo's, ``make demo``), replicated with distinct users and shifted by a day per copy, so
the result has several days, many users and every arm of the source; DuckDB writes the
copies (the lines keep the service's key order). Then it runs ``botify report`` and
``botify train contextual`` on them as a user would, each in its own process, and prints
wall time and peak memory (max RSS of the process and its children).

    .venv/bin/python bench/report_scale.py [--source demo-output/logs] [--millions 2.67 25]
        [--tracks demo-output/world/tracks.jsonl] [--no-train] [--repeat 3]
        [--engine spark] [--baseline CHECKOUT] [--out bench-output/scale]

``--engine spark`` also runs ``botify report --engine spark`` on ``local[2]`` (the spark extra
and Java): Spark reads the logs and runs the same statements; its peak memory is the whole
process tree's (the Python driver and the JVM, in which local mode runs the executors).

``--baseline`` runs every step with another botify checkout too (``git worktree add
/tmp/base 05b8c45``: the last commit before the analysis moved into SQL), in the same
command, so the two are compared on the same machine at the same moment.

Issue 18's baseline, measured before the DuckDB reader: ``botify report`` on 2.67 million
events (the demo's logs, ten copies) took 40.5 s and 1.35 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil

from botify.logs.reader import log_files
from botify.logs.schema import FIELDS

DAY_MS = 86_400_000


def replicate(source: Path, out: Path, events: int) -> int:
    """Write copies of ``source``'s events under ``out`` until there are ``events`` (whole
    copies, the last one cut); copy c has users shifted by c times the source's largest user
    id + 1 and timestamps by c days. Returns the number of events written."""
    files = [str(path) for path in log_files(source)]
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(
            "CREATE TABLE source AS SELECT * FROM read_json(?, format = 'newline_delimited')",
            [files],
        )
        size, users = con.execute('SELECT count(*), max("user") + 1 FROM source').fetchone()
        # Logs from before a field existed (epoch) are copied without it.
        present = {row[0] for row in con.execute("DESCRIBE source").fetchall()}
        written = 0
        for copy in range(math.ceil(events / size)):
            take = min(size, events - written)
            shifted = {
                "user": f'"user" + {copy * users}',
                "timestamp": f'"timestamp" + {copy * DAY_MS}',
            }
            columns = ", ".join(
                f'{shifted[name]} AS "{name}"' if name in shifted else f'"{name}"'
                for name in FIELDS
                if name in present
            )
            target = out / f"events-scale-{copy}-0-00000.jsonl"
            con.execute(
                f"COPY (SELECT {columns} FROM source LIMIT {take}) TO '{target}' (FORMAT JSON)"
            )
            written += take
    return written


def _tree_rss(process: psutil.Process) -> int:
    # Resident bytes of a process and its descendants (Spark's JVM is a child of its driver).
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def measure(command: list[str], cwd: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (GB) of the command's process tree, and its exit code."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=cwd)
    # The sum over the tree, sampled: Spark's JVM is a second process beside its driver.
    # wait4 adds the process's own peak, for a process too quick to sample.
    peak, watched = 0, psutil.Process(process.pid)
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        with contextlib.suppress(psutil.Error):
            peak = max(peak, _tree_rss(watched))
        time.sleep(0.2)
    peak = max(peak, usage.ru_maxrss * 1024)
    return time.perf_counter() - started, peak / 1e9, os.waitstatus_to_exitcode(status)


def _cell(values: list[float], digits: int) -> str:
    # The median, with the range when there are several runs.
    values = sorted(values)
    median = f"{statistics.median(values):.{digits}f}"
    return (
        median if len(values) == 1 else f"{median} ({values[0]:.{digits}f}–{values[-1]:.{digits}f})"
    )


def measured(command: list[str], repeat: int, cwd: Path | None = None) -> str:
    """``repeat`` runs of ``command``: median seconds and peak GB (with their ranges), as two
    table cells; a failed run is named instead."""
    runs = [measure(command, cwd) for _ in range(repeat)]
    failed = [code for _, _, code in runs if code != 0]
    if failed:
        return f"exit {failed[0]} | –"
    return f"{_cell([run[0] for run in runs], 1)} | {_cell([run[1] for run in runs], 2)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=Path("demo-output/logs"))
    parser.add_argument("--tracks", type=Path, default=Path("demo-output/world/tracks.jsonl"))
    parser.add_argument("--millions", type=float, nargs="+", default=[2.67])
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step (median)")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="a checkout of another botify (git worktree add DIR REV): each step runs with it too",
    )
    parser.add_argument(
        "--engine",
        choices=["spark"],
        action="append",
        default=[],
        help="also run the report on this engine (spark: on local[2]), beside DuckDB",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-output/scale"))
    args = parser.parse_args()
    if not log_files(args.source):
        print(f"no logs under {args.source}: run make demo first, or pass --source")
        return 2
    # python -m botify imports the botify of its working directory first: this one, or the
    # baseline's.
    botify = [sys.executable, "-m", "botify"]
    versions = {"this": Path.cwd()} | ({} if args.baseline is None else {"baseline": args.baseline})
    print("| events | step | botify | seconds | peak GB |")
    print("|---:|---|---|---:|---:|")
    for millions in sorted(args.millions):
        logs = (args.out / f"{millions}M").resolve()
        started = time.perf_counter()
        events = replicate(args.source, logs, round(millions * 1e6))
        print(f"| {events:,} | write the logs | – | {time.perf_counter() - started:.1f} | – |")
        tracks = str(args.tracks.resolve())
        steps = {
            "botify report": [
                *botify, "report", "--logs", str(logs), "--tracks", tracks, "--out", str(logs / "r")
            ],
        }  # fmt: skip
        if "spark" in args.engine:
            steps["botify report --engine spark (local[2])"] = [
                *steps["botify report"], "--engine", "spark", "--spark-master", "local[2]"
            ]  # fmt: skip
        if not args.no_train:
            steps["botify train contextual"] = [
                *botify, "train", "contextual", "--logs", str(logs),
                "--tracks", tracks, "--out", str(logs / "lists.jsonl"),
            ]  # fmt: skip
        for step, command in steps.items():
            for version, checkout in versions.items():
                cells = measured(command, args.repeat, checkout)
                print(f"| {events:,} | {step} | {version} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
