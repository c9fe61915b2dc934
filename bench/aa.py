"""A/A validity of the report's significance flag: many random re-splits of the same logs.

Each A/A "experiment" re-assigns every user with the service's assignment function
(``botify.rollout.experiments.treatment_index``) under a fresh name, so no treatment differs and
every significant result is a false positive. Printed per metric: the rate of raw
p < 0.05 (expected about 5%) and of the report's flag (Holm-adjusted over metrics, so
each metric's rate and the rate of "any metric flagged" should be at most about 5%), with
95% Clopper-Pearson intervals. Also prints how long reading and sessionizing took.

With ``--experiment`` the same replay runs CUPED-adjusted too (covariates from the
experiment's pre-period, as the report does). With ``--looks L`` it replays monitoring: the
users' sessions in the order they started, a look after every L-th of them, and counts the
splits in which any look called session time per user significant — by the fixed-horizon
test (peeking, inflated) and by the confidence sequence (``botify.analysis.sequential``).

    .venv/bin/python bench/aa.py --logs logs [--names 200] [--split 2] \\
        [--experiment AB --treatment C] [--looks 10]   # only users of one arm
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

from botify.analysis.assignment import register_treatments, served_under, user_treatments
from botify.analysis.metrics import GUARDRAIL_METRICS, METRICS, request_latency, user_metrics
from botify.analysis.preperiod import pre_period
from botify.analysis.sequential import MONITOR_METRIC, confidence_sequences
from botify.analysis.stats import compare_treatments
from botify.config import treatment_names
from botify.logs.reader import open_log
from botify.logs.sessions import session_table, sessionize
from botify.rollout.experiments import treatment_index

sys.path.insert(0, str(Path(__file__).parents[1]))
from tests.helpers.synthetic_ab_logs import SyntheticExperiment, generate, write_logs  # noqa: E402


def per_user_metrics(
    log_dir: Path, experiment: str | None, treatment: str | None
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """Per-user metrics (optionally of one treatment's users), their pre-period covariates
    (None without ``experiment`` or a pre-period) and their sessions with start times."""
    started = clock.perf_counter()
    with open_log(log_dir) as log:
        loaded = clock.perf_counter()
        where, params = served_under(log, experiment) if experiment else ("TRUE", [])
        if experiment and treatment:
            assigned = user_treatments(log, experiment).treatments
            arm = register_treatments(log, assigned[assigned == treatment])
            where = f'{where} AND "user" IN (SELECT "user" FROM {arm})'
        sessionize(log, "aa_events", where, params)
        sessions = session_table(log, "aa_events")
        metrics = user_metrics(sessions, request_latency(log, "aa_events"))
        pre = pre_period(log, experiment, metrics.index) if experiment else None
        done = clock.perf_counter()
        print(
            f"read {log.events:,} events from {log.read_stats.files} files in "
            f"{loaded - started:.1f} s; sessionized and computed metrics of {len(metrics):,} "
            f"users in {done - loaded:.1f} s"
            + ("" if pre is None else f"; pre-period covariates for {pre.users_seen:,} of them")
        )
    return metrics, None if pre is None else pre.covariates, sessions


def _split(users: pd.Index, name: str, split: int) -> pd.Series:
    arms = treatment_names(split)
    index = np.array([treatment_index(int(user), name, split) for user in users])
    return pd.Series(np.array(arms)[index], index=users)


def peeking_flags(
    sessions: pd.DataFrame,
    covariates: pd.DataFrame | None,
    names: list[str],
    looks: int,
) -> pd.DataFrame:
    """Per A/A name, method and look: fixed-horizon p < 0.05 and confidence-sequence verdict.

    At look ``k`` the data are the closed sessions among the first ``k / looks`` of all
    sessions by start time, so users join as they arrive, as in a running experiment.
    """
    closed = sessions[sessions["closed"]].sort_values("start", kind="stable")
    cutoffs = [round(len(closed) * (k + 1) / looks) for k in range(looks)]
    users = pd.Index(np.unique(closed["user"]), name="user")
    splits = {name: _split(users, name, 2) for name in names}
    methods = {"welch": None} | ({} if covariates is None else {"cuped": covariates})
    rows = []
    for look, cutoff in enumerate(cutoffs, start=1):
        seen = closed.iloc[:cutoff]
        time = seen.groupby("user")["time"].sum().rename(MONITOR_METRIC).to_frame()
        for name, split in splits.items():
            for method, covariate in methods.items():
                table = compare_treatments(
                    time, split, "C", ["T1"], [MONITOR_METRIC], covariates=covariate
                )
                verdict = confidence_sequences(table, n_star=len(users), family=1).iloc[0]
                rows.append(
                    {
                        "name": name,
                        "method": method,
                        "look": look,
                        "fixed": verdict["p_value"] < 0.05,
                        "sequential": bool(verdict["decided"]),
                    }
                )
    return pd.DataFrame(rows)


def summarise_peeking(flags: pd.DataFrame, looks: int) -> str:
    """False-positive rates: fixed test at the end only, fixed at every look, the sequence."""
    lines = [
        f"{'method':<8} {'fixed, last look':<22} {f'fixed, any of {looks}':<22} "
        f"{f'sequence, any of {looks}':<22}"
    ]
    for method, group in flags.groupby("method", sort=False):
        per_name = group.groupby("name")
        last = group[group["look"] == looks].set_index("name")["fixed"]
        lines.append(
            f"{method:<8} {_rate(last):<22} {_rate(per_name['fixed'].any()):<22} "
            f"{_rate(per_name['sequential'].any()):<22}"
        )
    return "\n".join(lines)


def aa_flags(
    metrics: pd.DataFrame,
    names: list[str],
    split: int,
    covariates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """For every A/A name and metric: raw p < 0.05 and the report's significance flag
    (CUPED-adjusted with ``covariates``)."""
    arms = treatment_names(split)
    rows = []
    for name in names:
        table = compare_treatments(
            metrics,
            _split(metrics.index, name, split),
            arms[0],
            arms[1:],
            list(METRICS),
            guardrails=GUARDRAIL_METRICS,
            covariates=covariates,
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
    parser.add_argument("--looks", type=int, default=0, help="replay monitoring: looks per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        log_dir = args.logs
        if log_dir is None:
            log_dir = Path(scratch) / "logs"
            write_logs(generate(SyntheticExperiment(users=3000, seed=3)), log_dir)
            print(f"no --logs: generated a synthetic log of 3,000 users in {log_dir}")
        metrics, covariates, sessions = per_user_metrics(log_dir, args.experiment, args.treatment)
    names = [f"aa-{i}" for i in range(args.names)]
    methods = {"unadjusted (welch)": None}
    if covariates is not None:
        methods["CUPED"] = covariates
    for label, covariate in methods.items():
        started = clock.perf_counter()
        flags = aa_flags(metrics, names, args.split, covariate)
        print(
            f"\n{label}: {args.names} A/A splits into {args.split} in "
            f"{clock.perf_counter() - started:.1f} s; false-positive rate (95% CI):"
        )
        print(summarise(flags))
    if args.looks:
        started = clock.perf_counter()
        peeks = peeking_flags(sessions, covariates, names, args.looks)
        print(
            f"\nmonitoring replay, {MONITOR_METRIC} per user, two arms, a look after every "
            f"{len(sessions) // args.looks:,} sessions ({clock.perf_counter() - started:.1f} s); "
            "false-positive rate (95% CI):"
        )
        print(summarise_peeking(peeks, args.looks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
