"""Same inputs, same outputs, under every BLAS kernel: training, world and simulator.

Runs each step in a fresh process per ``OPENBLAS_CORETYPE`` value (set for that command
only; tests and CI never set it) and compares content hashes:

- ``sim world``: the world files (similar artists come from a matrix product);
- ``sim run``: a day of the in-process oracle (it ranks the tracks nearest to each session's
  interest), and a random day of 3,000 and of 10,000 sessions: the first 3,000 sessions must
  start on the same tracks and end alike whatever the day's size;
- ``botify train contextual`` on the logs of a small experiment run once beforehand.

    .venv/bin/python bench/determinism.py [--coretypes SkylakeX,Haswell,Sandybridge,Nehalem]

Exits 1 if any output differs. A core type the CPU lacks crashes OpenBLAS, so pick from
what this CPU runs (``grep -o 'avx[0-9a-z]*' /proc/cpuinfo``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

# Uniform users: the check of a day's size needs sessions that do not depend on it (a
# population's visits do, by design; its draws use no BLAS).
WORLD = ["--seed", "3", "--tracks", "20000", "--users", "3000", "--population", "off"]
SPEC = """name = "determinism"
seed = 3
[world]
seed = 3
tracks = 20000
users = 3000
[[days]]
sessions = 1500
arms = { C = "random", T1 = "sticky_artist" }
[[days]]
sessions = 1500
train = ["contextual"]
arms = { C = "anchor_fresh", T1 = "contextual" }
"""


def digest(*paths: Path) -> str:
    """A short hash of the files' bytes, in the given order."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()[:12]


def run(command: list[str], coretype: str | None) -> None:
    """``python -m COMMAND`` with ``OPENBLAS_CORETYPE`` set for it alone (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    subprocess.run([sys.executable, "-m", *command], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def outputs(root: Path, logs: Path, tracks: Path, coretype: str | None) -> dict[str, str]:
    """The hashes of every output under one core type."""
    tag = coretype or "default"
    world = root / f"world-{tag}"
    run(["sim", "world", *WORLD, "--out", str(world)], coretype)
    days = {}
    for agent, sessions in (("oracle", 1000), ("random", 3000), ("random", 10000)):
        out = root / f"{agent}-{tag}-{sessions}.csv"
        run(["sim", "run", "--world", str(world), "--agent", agent, "--episodes", str(sessions),
             "--days", "1", "--seed", "9", "--quiet", "--out", str(out)], coretype)  # fmt: skip
        days[sessions] = pd.read_csv(out)
    small, large = days[3000], days[10000].head(3000)
    lists = root / f"lists-{tag}.jsonl"
    run(["botify", "train", "contextual", "--logs", str(logs), "--tracks", str(tracks),
         "--out", str(lists)], coretype)  # fmt: skip
    files = sorted(p for p in world.iterdir() if p.is_file())
    return {
        "world": digest(*files),
        "oracle day": digest(root / f"oracle-{tag}-1000.csv"),
        "first tracks, 3,000 vs 10,000 sessions": "same"
        if small["first_track"].tolist() == large["first_track"].tolist()
        and small["time"].tolist() == large["time"].tolist()
        else "DIFFERENT",
        "trained lists": digest(lists),
    }


def main() -> int:
    """Print a table of hashes per core type; 1 if any column differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coretypes", default="SkylakeX,Haswell,Sandybridge,Nehalem")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "spec.toml").write_text(SPEC)
        command = ["botify", "experiment", "run", str(root / "spec.toml")]
        run([*command, "--out", str(root / "run")], None)
        logs, tracks = root / "run" / "logs", root / "run" / "world" / "tracks.jsonl"
        rows = {None: outputs(root, logs, tracks, None)}
        for coretype in args.coretypes.split(","):
            rows[coretype] = outputs(root, logs, tracks, coretype)
    columns = list(rows[None])
    print("| OPENBLAS_CORETYPE | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for coretype, row in rows.items():
        print(f"| {coretype or 'unset'} | " + " | ".join(row[c] for c in columns) + " |")
    same = all(len({row[c] for row in rows.values()}) == 1 for c in columns)
    same = same and all(row[columns[2]] == "same" for row in rows.values())
    print("\nidentical under every core type" if same else "\nOUTPUTS DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
