"""``botify train contextual``: read the logs, evaluate offline, train, write the lists."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from botify.config import Config
from botify.data.lists import write_lists
from botify.logs.reader import FILE_GLOB, ReadStats, load_events, log_files
from botify.logs.sessions import sessionize
from botify.training import offline_eval
from botify.training.als import train_lists
from botify.training.listens import Listens, listens_from_sessions


def read_listens(log_dir: Path) -> tuple[Listens, ReadStats, int]:
    """Listens of every event file under ``log_dir``, with reader stats and invalid-event count."""
    log = load_events(log_dir)
    return listens_from_sessions(sessionize(log.events)), log.read_stats, log.invalid_events


def _load(log_dir: Path) -> Listens | str:
    # Returns the listens, or the message explaining why there are none to train on.
    if not log_dir.is_dir():
        return f"log directory {log_dir} does not exist"
    if not log_files(log_dir):
        return f"no event files ({FILE_GLOB}) under {log_dir}"
    listens, stats, invalid = read_listens(log_dir)
    print(
        f"{log_dir}: {stats.files} files, {stats.events} events, "
        f"{stats.skipped_lines} unreadable lines, {invalid} invalid events, "
        f"{len(listens)} listens in {listens.n_sessions} sessions"
    )
    if not len(listens):
        return f"no valid events under {log_dir}"
    return listens


def offline_report(
    lists: offline_eval.Lists,
    train: Listens,
    test: Listens,
    seed: int,
    good_time: float = Config.good_time,
) -> str:
    """Markdown table of ``lists`` (trained on ``train``) and the baselines on ``test``, whose
    cases are consecutive listens of at least ``good_time``."""
    anchors, targets = offline_eval.evaluation_pairs(test, good_time)
    seen = np.unique(train.track)
    candidates = {
        "contextual (ALS)": lists,
        "popularity": offline_eval.popularity_lists(train, anchors),
        "random": offline_eval.random_lists(train, anchors, seed),
    }
    results = {
        name: offline_eval.evaluate(ranked, anchors, targets, seen)
        for name, ranked in candidates.items()
    }
    return offline_eval.format_table(results)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def train_contextual_command(
    logs: Path,
    out: Path,
    k: int,
    seed: int,
    test_logs: Path | None,
    good_time: float = Config.good_time,
) -> int:
    """``botify train contextual``: evaluate offline, train on all logs, write ``out``.

    Without ``test_logs`` the last day of ``logs`` is held out for the evaluation, and the
    lists written are trained again on all of ``logs``. ``good_time`` is the service's
    ``BOTIFY_GOOD_TIME``: the evaluation's cases are listens at least that long. Returns the
    process exit code: 0 on success, 2 when the arguments or the logs leave nothing to train
    on.
    """
    if k < 1:
        return _fail(f"--k must be at least 1, got {k}")
    started = time.perf_counter()
    loaded = _load(Path(logs))
    if isinstance(loaded, str):
        return _fail(loaded)
    if test_logs is None:
        split = offline_eval.split_by_time(loaded)
        train, test = loaded.select_sessions(~split.test), loaded.select_sessions(split.test)
        held_out = split.description
        evaluated = train_lists(train, k, seed)
    else:
        test_loaded = _load(Path(test_logs))
        if isinstance(test_loaded, str):
            return _fail(test_loaded)
        train, test, held_out = loaded, test_loaded, f"the sessions of {test_logs}"
        evaluated = train_lists(loaded, k, seed, progress=True)
    print(f"\nOffline evaluation: trained on {train.n_sessions} sessions, tested on {held_out}")
    print(offline_report(evaluated, train, test, seed, good_time))
    if test_logs is None:
        print("\nThe lists written are trained on ALL the given logs, test day included.")
        lists = train_lists(loaded, k, seed, progress=True)
    else:
        lists = evaluated
    write_lists(lists, Path(out))
    print(f"wrote {len(lists)} lists (k={k}) to {out} in {time.perf_counter() - started:.1f}s")
    return 0
