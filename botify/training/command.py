"""``botify train contextual``: read the logs, evaluate offline, train, write the lists."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from botify.config import Config
from botify.data.catalog import Catalog, CatalogError, read_catalog
from botify.data.lists import write_lists
from botify.logs.reader import FILE_GLOB, LogMemoryError, ReadStats, log_files, open_log
from botify.training import off_policy, offline_eval
from botify.training.listens import Listens, sessions_listens
from botify.training.models import DEFAULT_MODEL, MODELS, PER_ARTIST, K, fit_model


def read_listens(log_dir: Path) -> tuple[Listens, ReadStats, int]:
    """Listens of every event file under ``log_dir``, with reader stats and invalid-event count."""
    with open_log(log_dir) as log:
        return sessions_listens(log), log.read_stats, log.invalid_events


def _load(log_dir: Path, catalog: Catalog) -> Listens | str:
    # Returns the listens, or the message explaining why there are none to train on.
    if not log_dir.is_dir():
        return f"log directory {log_dir} does not exist"
    if not log_files(log_dir):
        return f"no event files ({FILE_GLOB}) under {log_dir}"
    try:
        listens, stats, invalid = read_listens(log_dir)
    except LogMemoryError as error:
        return str(error)
    print(
        f"{log_dir}: {stats.files} files, {stats.events} events, "
        f"{stats.skipped_lines} unreadable lines, {invalid} invalid events, "
        f"{len(listens)} listens in {listens.n_sessions} sessions"
    )
    if not len(listens):
        return f"no valid events under {log_dir}"
    if listens.track.max() >= catalog.size:
        return f"the logs under {log_dir} name tracks beyond the catalog's {catalog.size}"
    return listens


def offline_report(
    model: str,
    train: Listens,
    test: Listens,
    catalog: Catalog,
    k: int,
    per_artist: int,
    seed: int,
    good_time: float = Config.good_time,
    compare: bool = False,
    explore: float = Config.explore,
) -> str:
    """Markdown tables: ``model`` (with ``compare``, every model of ``MODELS``, ``model``
    first) and two baselines, trained on ``train`` and evaluated on ``test``
    (``botify.training.offline_eval``); then the off-policy estimate of the listen time
    ``model``'s lists would get, from ``test``'s logged propensities
    (``botify.training.off_policy``, the service exploring ``explore``)."""
    cases = offline_eval.heldout_cases(test, catalog.track_artist, good_time)
    pairs = offline_eval.evaluation_pairs(test, good_time)
    results = {}
    for name in sorted(MODELS, key=lambda name: name != model) if compare else [model]:
        fitted = fit_model(name, train, catalog, good_time)
        lists = fitted.lists(k, per_artist, seed)
        if name == model:
            model_lists = lists
        label = f"{name} (trained)" if name == model else name
        results[label] = offline_eval.evaluate(
            fitted.score, lists, cases, pairs, catalog.size, good_time
        )
    rng = np.random.default_rng(seed)
    baselines = {
        "popularity": lambda _context, track: catalog.popularity[track],
        "random": lambda context, _track: rng.random(context.size),
    }
    for name, score in baselines.items():
        results[name] = offline_eval.evaluate(score, None, cases, pairs, catalog.size, good_time)
    answers = off_policy.logged_answers(test)
    if not len(answers):
        ope = "No held-out answer logged its propensity: no off-policy estimate."
    else:
        estimates = off_policy.estimate(answers, model_lists, catalog.size, explore)
        ope = off_policy.format_estimates(estimates, off_policy.on_policy_mean(answers), explore)
    return (
        f"{offline_eval.format_table(results)}\n\n"
        f"Off-policy estimate of the {model} lists online (held-out answers):\n\n{ope}"
    )


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def train_contextual_command(
    logs: Path,
    out: Path,
    tracks: Path,
    model: str = DEFAULT_MODEL,
    k: int = K,
    per_artist: int = PER_ARTIST,
    seed: int = 0,
    test_logs: Path | None = None,
    good_time: float = Config.good_time,
    compare: bool = False,
    explore: float = Config.explore,
) -> int:
    """``botify train contextual``: evaluate offline, train on all logs, write ``out``.

    ``tracks`` is the public catalog (artists and genres back the model where the logs are
    thin, and every catalog track gets a list). Without ``test_logs`` the last day of
    ``logs`` is held out for the evaluation, and the lists written are trained again on all
    of ``logs``. ``compare`` evaluates every model of ``MODELS``, not only ``model``: on the
    learning loop's first two days (577k events) that was 81 of the command's 195 s, the
    co-occurrence model's 27 million pairs most of it, so a nightly retrain does without.
    ``good_time`` is the service's ``BOTIFY_GOOD_TIME``. Returns the process
    exit code: 0 on success, 2 when the arguments, the catalog or the logs leave nothing to
    train on.
    """
    if k < 1 or per_artist < 1:
        return _fail(f"--k and --per-artist must be at least 1, got {k} and {per_artist}")
    if model not in MODELS:
        return _fail(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    started = time.perf_counter()
    try:
        catalog = read_catalog(Path(tracks))
    except (OSError, CatalogError) as e:
        return _fail(f"cannot read the catalog {tracks}: {e}")
    loaded = _load(Path(logs), catalog)
    if isinstance(loaded, str):
        return _fail(loaded)
    if test_logs is None:
        split = offline_eval.split_by_time(loaded)
        train, test = loaded.select_sessions(~split.test), loaded.select_sessions(split.test)
        held_out = split.description
    else:
        test_loaded = _load(Path(test_logs), catalog)
        if isinstance(test_loaded, str):
            return _fail(test_loaded)
        train, test, held_out = loaded, test_loaded, f"the sessions of {test_logs}"
    print(
        f"\nOffline evaluation (a good listen: time >= {good_time}): trained on "
        f"{train.n_sessions} sessions, tested on {held_out}"
    )
    print(
        offline_report(
            model, train, test, catalog, k, per_artist, seed, good_time, compare, explore
        )
    )
    print(f"\nThe lists written are trained on ALL the given logs ({loaded.n_sessions} sessions).")
    lists = fit_model(model, loaded, catalog, good_time).lists(k, per_artist, seed)
    write_lists(lists, Path(out))
    print(
        f"wrote {len(lists)} {model} lists (k={k}, at most {per_artist} per artist) to {out} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0
