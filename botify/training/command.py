"""Training the lists: ``train_lists`` (read the logs, evaluate offline, train, write the
lists; returns what it measured) and ``botify train contextual``, which prints it."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
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


class TrainingError(ValueError):
    """The arguments, the catalog or the logs leave nothing to train on; ``read`` holds what
    was read before the problem showed (the command still reports it)."""

    def __init__(self, message: str, read: tuple[LogsRead, ...] = ()) -> None:
        super().__init__(message)
        self.read = read


@dataclass(frozen=True)
class LogsRead:
    """What reading one log directory found."""

    directory: Path
    stats: ReadStats
    invalid_events: int
    listens: int
    sessions: int

    def summary(self) -> str:
        """One line: files, events, unreadable lines, invalid events, listens, sessions."""
        return (
            f"{self.directory}: {self.stats.files} files, {self.stats.events} events, "
            f"{self.stats.skipped_lines} unreadable lines, {self.invalid_events} invalid events, "
            f"{self.listens} listens in {self.sessions} sessions"
        )


@dataclass(frozen=True)
class OfflineEvaluation:
    """The offline table (``offline_report``) and what it was trained and tested on."""

    train_sessions: int
    held_out: str
    good_time: float
    table: str


@dataclass(frozen=True)
class TrainedLists:
    """What ``train_lists`` read, measured and wrote."""

    out: Path
    model: str
    k: int
    per_artist: int
    lists: int
    logs: LogsRead
    test_logs: LogsRead | None
    evaluation: OfflineEvaluation | None
    seconds: float

    def summary(self) -> str:
        """One line: how many lists of which model went where, and how long it took."""
        return (
            f"wrote {self.lists} {self.model} lists (k={self.k}, at most {self.per_artist} "
            f"per artist) to {self.out} in {self.seconds:.1f}s"
        )


def _read_checked_listens(
    log_dir: Path, catalog: Catalog, read_before: tuple[LogsRead, ...]
) -> tuple[Listens, LogsRead]:
    """The listens under ``log_dir`` and what reading found; ``TrainingError`` when there
    are none to train on (``read_before``: earlier directories' findings, kept in it)."""
    if not log_dir.is_dir():
        raise TrainingError(f"log directory {log_dir} does not exist", read_before)
    if not log_files(log_dir):
        raise TrainingError(f"no event files ({FILE_GLOB}) under {log_dir}", read_before)
    try:
        listens, stats, invalid = read_listens(log_dir)
    except LogMemoryError as error:
        raise TrainingError(str(error), read_before) from None
    read = LogsRead(log_dir, stats, invalid, len(listens), listens.n_sessions)
    if not len(listens):
        raise TrainingError(f"no valid events under {log_dir}", (*read_before, read))
    if listens.track.max() >= catalog.size:
        raise TrainingError(
            f"the logs under {log_dir} name tracks beyond the catalog's {catalog.size}",
            (*read_before, read),
        )
    return listens, read


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


def train_lists(
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
    evaluate: bool = True,
) -> TrainedLists:
    """Train ``model``'s lists on all of ``logs`` and write them to ``out``; with
    ``evaluate``, first evaluate offline (``offline_report``). Raises ``TrainingError``.

    ``tracks`` is the public catalog (artists and genres back the model where the logs are
    thin, and every catalog track gets a list). Without ``test_logs`` the last day of
    ``logs`` is held out for the evaluation, and the lists written are trained again on all
    of ``logs``. ``compare`` evaluates every model of ``MODELS``, not only ``model``: the
    co-occurrence model's pairs make that the larger part of the evaluation, so a nightly
    retrain does without. ``good_time`` is the service's ``BOTIFY_GOOD_TIME``, ``explore``
    its ``BOTIFY_EXPLORE`` (the off-policy estimate's target serves the lists with it).
    """
    if k < 1 or per_artist < 1:
        raise TrainingError(f"--k and --per-artist must be at least 1, got {k} and {per_artist}")
    if model not in MODELS:
        raise TrainingError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    started = time.perf_counter()
    try:
        catalog = read_catalog(Path(tracks))
    except (OSError, CatalogError) as e:
        raise TrainingError(f"cannot read the catalog {tracks}: {e}") from None
    loaded, logs_read = _read_checked_listens(Path(logs), catalog, ())
    test_read = evaluation = None
    if evaluate:
        if test_logs is None:
            split = offline_eval.split_by_time(loaded)
            train = loaded.select_sessions(~split.test)
            test = loaded.select_sessions(split.test)
            held_out = split.description
        else:
            test, test_read = _read_checked_listens(Path(test_logs), catalog, (logs_read,))
            train, held_out = loaded, f"the sessions of {test_logs}"
        table = offline_report(
            model, train, test, catalog, k, per_artist, seed, good_time, compare, explore
        )
        evaluation = OfflineEvaluation(train.n_sessions, held_out, good_time, table)
    lists = fit_model(model, loaded, catalog, good_time).lists(k, per_artist, seed)
    write_lists(lists, Path(out))
    return TrainedLists(
        out=Path(out),
        model=model,
        k=k,
        per_artist=per_artist,
        lists=len(lists),
        logs=logs_read,
        test_logs=test_read,
        evaluation=evaluation,
        seconds=time.perf_counter() - started,
    )


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
    """``botify train contextual``: ``train_lists`` with the offline evaluation, printed.
    Returns the process exit code: 0 on success, 2 when the arguments, the catalog or the
    logs leave nothing to train on."""
    try:
        trained = train_lists(
            logs, out, tracks, model, k, per_artist, seed, test_logs, good_time, compare, explore
        )
    except TrainingError as error:
        for read in error.read:
            print(read.summary())
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(trained.logs.summary())
    if trained.test_logs is not None:
        print(trained.test_logs.summary())
    evaluation = trained.evaluation
    print(
        f"\nOffline evaluation (a good listen: time >= {evaluation.good_time}): trained on "
        f"{evaluation.train_sessions} sessions, tested on {evaluation.held_out}"
    )
    print(evaluation.table)
    print(
        f"\nThe lists written are trained on ALL the given logs ({trained.logs.sessions} sessions)."
    )
    print(trained.summary())
    return 0
