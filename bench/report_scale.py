"""Report and training at production scale: time and peak memory on millions of events.

Builds a log directory of ``--millions`` million events from real logs (default: the
demo's, ``make demo``), replicated with distinct users and shifted by a day per copy, so
the result has several days, many users and every arm of the source; DuckDB writes the
copies (the lines keep the service's key order). Then it runs ``botify report`` and
``botify train contextual`` on them as a user would, each in its own process, and prints
wall time and peak memory (max RSS of the process and its children).

    .venv/bin/python bench/report_scale.py [--source demo-output/logs] [--millions 2.67 25]
        [--tracks demo-output/world/tracks.jsonl] [--no-train] [--out bench-output/scale]

Issue 18's baseline, measured before the DuckDB reader: ``botify report`` on 2.67 million
events (the demo's logs, ten copies) took 40.5 s and 1.35 GB.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

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


def measure(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (GB) of the command's process, and its exit code."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    # wait4: the resource usage of this child alone, not the largest of all children so far.
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1e6, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=Path("demo-output/logs"))
    parser.add_argument("--tracks", type=Path, default=Path("demo-output/world/tracks.jsonl"))
    parser.add_argument("--millions", type=float, nargs="+", default=[2.67])
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench-output/scale"))
    args = parser.parse_args()
    if not log_files(args.source):
        print(f"no logs under {args.source}: run make demo first, or pass --source")
        return 2
    botify = [sys.executable, "-m", "botify"]
    print("| events | step | seconds | peak GB |")
    print("|---:|---|---:|---:|")
    for millions in sorted(args.millions):
        logs = args.out / f"{millions}M"
        started = time.perf_counter()
        events = replicate(args.source, logs, round(millions * 1e6))
        print(f"| {events:,} | write the logs | {time.perf_counter() - started:.1f} | – |")
        steps = {
            "botify report": [*botify, "report", "--logs", str(logs), "--out", str(logs / "r")],
        }
        if not args.no_train:
            steps["botify train contextual"] = [
                *botify, "train", "contextual", "--logs", str(logs),
                "--tracks", str(args.tracks), "--out", str(logs / "lists.jsonl"),
            ]  # fmt: skip
        for step, command in steps.items():
            wall, peak, code = measure(command)
            failed = "" if code == 0 else f" (exit {code})"
            print(f"| {events:,} | {step}{failed} | {wall:.1f} | {peak:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
