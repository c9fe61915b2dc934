"""Time to a decision end to end over HTTP: the fixed-horizon design against watching with CUPED.

Runs ``botify experiment run`` twice on a spec whose report day has two arms (default
``experiments/decide.toml``: about +10% apart):

- before: the fixed-horizon design, the report day cut to ``--fixed-sessions`` (the sessions
  ``botify power`` asks for 80% power at the planned effect), unadjusted Welch at the end;
- after: ``--stop-early --look-every L`` on the spec as written (its report day is the
  sequential design's maximum), CUPED on day 1 and a confidence sequence after every chunk.

Printed per design: the report day's sessions and seconds (the runner's own stage timing,
world and day 1 excluded), whether it decided, and the effect on session time per user.

    .venv/bin/python bench/decide_http.py [--spec experiments/decide.toml] \\
        [--fixed-sessions 3522] [--look-every 250] [--out bench-output/decide]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path


def run(spec: Path, out: Path, *flags: str, plugins: Path) -> tuple[dict, dict[int, int]]:
    """Run the spec (its plugins importable from ``plugins``); its report.json and the
    seconds of each day's stage."""
    command = [sys.executable, "-m", "botify", "experiment", "run", str(spec), "--out", str(out)]
    path = os.pathsep.join(p for p in (str(plugins), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    finished = subprocess.run([*command, *flags], capture_output=True, text=True, env=env)
    if finished.returncode != 0:
        print(finished.stdout[-3000:] + finished.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"botify experiment run exited with {finished.returncode}")
    days = {}
    for line in finished.stdout.split("\n=== ")[1:]:
        match = re.match(r"day (\d+):", line)
        seconds = re.search(r"^\s+\((\d+) s\)$", line, re.MULTILINE)
        if match and seconds:
            days[int(match.group(1))] = int(seconds.group(1))
    return json.loads((out / "report.json").read_text()), days


def fixed_spec(spec: Path, sessions: int, directory: Path) -> Path:
    """A copy of ``spec`` in ``directory`` with the report day cut to ``sessions``."""
    raw = tomllib.loads(spec.read_text())
    report_day = raw.get("report", {}).get("day", len(raw["days"]))
    text = spec.read_text()
    planned = raw["days"][report_day - 1]["sessions"]
    pattern = re.compile(rf"^sessions = {planned}$", re.MULTILINE)
    if len(pattern.findall(text)) != 1:
        raise SystemExit(f"cannot find the report day's 'sessions = {planned}' line in {spec}")
    copy = directory / f"{spec.stem}-fixed-{sessions}.toml"
    copy.write_text(pattern.sub(f"sessions = {sessions}", text))
    return copy


def time_row(report: dict, method: str) -> dict:
    """The report's row of session time per user for T1 with ``method``."""
    rows = report["comparisons"]
    return next(r for r in rows if r["metric"] == "time" and r["method"] == method)


def main() -> int:
    """Run both designs and print sessions and seconds to a decision."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=Path("experiments/decide.toml"))
    parser.add_argument("--fixed-sessions", type=int, default=3522)
    parser.add_argument("--look-every", type=int, default=250)
    parser.add_argument("--out", type=Path, default=Path("bench-output/decide"))
    args = parser.parse_args()
    spec = args.spec.resolve()
    with tempfile.TemporaryDirectory() as scratch:
        copy = fixed_spec(spec, args.fixed_sessions, Path(scratch))
        fixed, fixed_days = run(copy, args.out / "fixed", plugins=spec.parent)
    watched, watched_days = run(
        spec,
        args.out / "sequential",
        "--stop-early",
        "--look-every",
        str(args.look_every),
        plugins=spec.parent,
    )
    day = len(fixed_days)
    welch = time_row(fixed, "welch")
    last = watched["monitoring"]["looks"][-1]
    effect = last["effects"][0]
    print(f"{spec.name}: report day {day}, session time per user, T1 vs C")
    print(f"{'design':<44} {'sessions':>9} {'seconds':>8} {'decided':>8}  effect [interval]")
    print(
        f"{'before: fixed horizon, Welch':<44} {args.fixed_sessions:>9,} "
        f"{fixed_days[day]:>8} {'yes' if welch['significant'] else 'no':>8}  "
        f"{welch['effect']:+.1f}% [{welch['lower']:+.1f}, {welch['upper']:+.1f}]"
    )
    print(
        f"{'after: CUPED + confidence sequence, --stop-early':<44} {last['sessions']:>9,} "
        f"{watched_days[day]:>8} {'yes' if last['all_decided'] else 'no':>8}  "
        f"{effect['effect']:+.1f}% [{effect['cs_lower']:+.1f}, {effect['cs_upper']:+.1f}] "
        f"at look {last['look']} ({last['seconds']:.0f} s into the day)"
    )
    print(f"day 1 took {fixed_days[1]} s and {watched_days[1]} s; runs under {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
