"""A/A validity of the report's significance flag: many random re-splits of the same logs.

Each A/A "experiment" re-assigns every user with the SPEC's assignment function
(``botify.rollout.experiments.treatment_index``) under a fresh name, so no treatment differs and
every significant result is a false positive. Printed per metric: the rate of raw
p < 0.05 (expected about 5%) and of the report's flag (Holm-adjusted over metrics, so
each metric's rate and the rate of "any metric flagged" should be at most about 5%), with
95% Clopper-Pearson intervals. Also prints how long reading and sessionizing took.

    .venv/bin/python bench/aa.py --logs logs [--names 200] [--split 2] \\
        [--experiment AB --treatment C]    # only users of one arm
    .venv/bin/python bench/aa.py            # on a generated synthetic log
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time as clock
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from botify.analysis.assignment import user_treatments
from botify.analysis.metrics import GUARDRAIL_METRICS, METRICS, user_metrics
from botify.analysis.stats import compare_treatments
from botify.logs.reader import load_events
from botify.logs.sessions import session_table, sessionize
from botify.rollout.experiments import treatment_index, treatment_names

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "analysis"))
from synthetic_ab_logs import SyntheticExperiment, generate, write_logs  # noqa: E402


def per_user_metrics(log_dir: Path, experiment: str | None, treatment: str | None) -> pd.DataFrame:
    """Per-user metrics of the logs (optionally of one treatment's users), timing each step."""
    started = clock.perf_counter()
    log = load_events(log_dir)
    loaded = clock.perf_counter()
    events = log.events
    if experiment and treatment:
        assigned = user_treatments(log.events, log.experiments, experiment).treatments
        events = events[events["user"].isin(assigned.index[assigned == treatment])]
    sessionized = sessionize(events)
    metrics = user_metrics(sessionized, session_table(sessionized))
    done = clock.perf_counter()
    print(
        f"read {len(log.events):,} events from {log.read_stats.files} files in "
        f"{loaded - started:.1f} s; sessionized and computed metrics of {len(metrics):,} users "
        f"in {done - loaded:.1f} s"
    )
    return metrics


def aa_flags(metrics: pd.DataFrame, names: list[str], split: int) -> pd.DataFrame:
    """For every A/A name and metric: raw p < 0.05 and the report's significance flag."""
    arms = treatment_names(split)
    users = metrics.index.to_numpy()
    rows = []
    for name in names:
        index = np.array([treatment_index(int(user), name, split) for user in users])
        treatments = pd.Series(np.array(arms)[index], index=metrics.index)
        table = compare_treatments(
            metrics, treatments, arms[0], arms[1:], list(METRICS), guardrails=GUARDRAIL_METRICS
        )
        table["name"] = name
        rows.append(table[["name", "treatment", "metric", "p_value", "significant"]])
    return pd.concat(rows, ignore_index=True)


def _rate(flags: pd.Series) -> str:
    hits, n = int(flags.sum()), len(flags)
    interval = scipy_stats.binomtest(hits, n).proportion_ci(0.95)
    return f"{100 * hits / n:5.1f}% [{100 * interval.low:4.1f}, {100 * interval.high:4.1f}]"


def summarise(flags: pd.DataFrame) -> str:
    """The false-positive rates as a text table."""
    lines = [f"{'metric':<26} {'raw p < 0.05':<22} {'significant (Holm)':<22}"]
    for metric, group in flags.groupby("metric", sort=False):
        raw = _rate(group["p_value"] < 0.05)
        lines.append(f"{metric:<26} {raw:<22} {_rate(group['significant']):<22}")
    per_name = flags.groupby("name")
    raw_any = _rate(per_name["p_value"].min() < 0.05)
    flag_any = _rate(per_name["significant"].any())
    lines.append(f"{'any metric':<26} {raw_any:<22} {flag_any:<22}")
    return "\n".join(lines)


def main() -> int:
    """Run the A/A replay and print the false-positive rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=Path, default=None, help="default: a synthetic log")
    parser.add_argument("--names", type=int, default=200, help="number of A/A splits")
    parser.add_argument("--split", type=int, default=2)
    parser.add_argument("--experiment", default=None)
    parser.add_argument("--treatment", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        log_dir = args.logs
        if log_dir is None:
            log_dir = Path(scratch) / "logs"
            write_logs(generate(SyntheticExperiment(users=3000, seed=3)), log_dir)
            print(f"no --logs: generated a synthetic log of 3,000 users in {log_dir}")
        metrics = per_user_metrics(log_dir, args.experiment, args.treatment)
    started = clock.perf_counter()
    flags = aa_flags(metrics, [f"aa-{i}" for i in range(args.names)], args.split)
    print(
        f"{args.names} A/A splits into {args.split} in {clock.perf_counter() - started:.1f} s; "
        "false-positive rate (95% CI):"
    )
    print(summarise(flags))
    return 0


if __name__ == "__main__":
    sys.exit(main())
