"""Experiment specs: the TOML file ``botify experiment run`` reads, checked before anything runs.

::

    name = "mine"
    seed = 7

    [world]              # `sim world` parameters (its flags, with _ for -); or path = "data/world"
    seed = 7
    tracks = 3000
    users = 500

    [[days]]
    sessions = 600
    arms = { C = "random", T1 = "sticky_artist" }

    [[days]]
    sessions = 3000
    train = ["contextual"]          # retrain on all logs so far and deploy before this day
    arms = { C = "sticky_artist", T1 = "my_module:MyRecommender", T2 = "anchor_fresh" }

Optional: a day's ``deploy = { contextual = "lists.jsonl" }`` (serve lists made elsewhere
from this day on, instead of retraining), a day's ``name`` (its experiment's name, which
seeds the users' assignment; default ``DAY<n>``; consecutive days with the same name and
arms continue one experiment, and its report covers all of them), ``[report]`` with ``day``
(default the last) and ``control`` (default ``C``), ``[robustness]`` with ``worlds = N``
(rerun on N further worlds, see ``botify.experiments.robustness``), ``[service]`` with
``workers``. Every error is a ``SpecError`` whose message names the key, so the command can
say it in one line.

A spec may come from anyone: ``name`` becomes a directory (``experiment-output/NAME``), so
it is a plain name; ``[world]`` keys become ``sim world`` flags, so they are plain names
with numeric values and never one of the runner's own flags (``--out``, ``--check``); and
every number has an upper bound (``LIMITS``), so a typo cannot ask for a million workers.

"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botify.config import CONTROL, check_treatments
from botify.data.catalog import TRACKS_FILE
from botify.data.lists import LIST_KINDS


class SpecError(ValueError):
    """The spec cannot be run; the message names the key."""


@dataclass(frozen=True)
class DaySpec:
    """One simulated day: its experiment's name and arms, its size, what to retrain first."""

    name: str
    sessions: int
    arms: dict[str, str]
    train: tuple[str, ...] = ()
    deploy: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentSpec:
    """A whole experiment: the world, the days, what the report is about."""

    name: str
    seed: int
    directory: Path
    world_path: Path | None
    world_params: dict[str, Any]
    days: tuple[DaySpec, ...]
    report_day: int
    control: str
    robustness_worlds: int = 0
    workers: int = 2
    recommenders: frozenset[str] = field(default_factory=frozenset)

    @property
    def report(self) -> DaySpec:
        """The day whose A/B the report is about (with every day of its experiment)."""
        return self.days[self.report_day - 1]

    @property
    def report_days(self) -> list[int]:
        """The day numbers of the report's experiment."""
        return [n for n, day in enumerate(self.days, start=1) if day.name == self.report.name]

    @property
    def experiments(self) -> dict[str, dict[str, str]]:
        """Every day's experiment, as ``BOTIFY_EXPERIMENTS`` wants them."""
        return {day.name: day.arms for day in self.days}


TOP_KEYS = {"name", "seed", "world", "days", "report", "robustness", "service"}
DAY_KEYS = {"name", "sessions", "arms", "train", "deploy"}
# A name that is one path component: ASCII letters, digits, '.', '_' and '-', not starting
# with a dot (so never "." or ".."), at most 100 characters.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
WORLD_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
# `sim world` flags the runner gives itself: argparse also takes any prefix of a flag
# (`--o` for `--out`), so no world key may be one.
RUNNER_WORLD_FLAGS = ("out", "check", "help")
# Upper bounds of the spec's numbers (inclusive).
LIMITS = {
    "seed": 2**32 - 1,
    "days": 366,
    "sessions": 10_000_000,
    "robustness.worlds": 100,
    "service.workers": 64,
}


def _table(value: object, key: str) -> dict:
    if not isinstance(value, dict):
        raise SpecError(f"{key} must be a table")
    return value


def _int(value: object, key: str, low: int = 0, high: int | None = None) -> int:
    if type(value) is not int or value < low or (high is not None and value > high):
        bounds = f"of at least {low}" if high is None else f"between {low} and {high:,}"
        raise SpecError(f"{key} must be an integer {bounds}, got {value!r}")
    return value


def plain_name(value: object, key: str) -> str:
    """``value`` if it is a plain name (one path component, see ``PLAIN_NAME``)."""
    if not isinstance(value, str) or not PLAIN_NAME.fullmatch(value):
        raise SpecError(
            f"{key} must be a plain name (letters, digits, '.', '_', '-'; not starting "
            f"with '.'; at most 100 characters), got {value!r}"
        )
    return value


def _world_number(value: object, key: str) -> None:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise SpecError(f"{key} must be a number, got {value!r}")


def _world_params(world: dict) -> dict[str, Any]:
    """``[world]`` parameters that can only become ``sim world``'s own flags and numbers."""
    for key, value in world.items():
        if not WORLD_KEY.fullmatch(key) or any(flag.startswith(key) for flag in RUNNER_WORLD_FLAGS):
            raise SpecError(f"world.{key}: not a world parameter (see `sim world -h`)")
        for number in value if isinstance(value, list) else [value]:
            _world_number(number, f"world.{key}")
    return world


def _unknown(table: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise SpecError(f"{where}{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")


def _arms(value: object, key: str) -> dict[str, str]:
    arms = _table(value, key)
    try:
        expected = check_treatments(arms)
    except ValueError as e:
        raise SpecError(f"{key} {e}") from None
    for treatment, recommender in arms.items():
        if not isinstance(recommender, str) or not recommender:
            raise SpecError(f"{key}.{treatment} must be a recommender name")
    return {treatment: arms[treatment] for treatment in expected}


def _deploy(value: object, where: str, directory: Path, train: list[str]) -> dict[str, Path]:
    files = {}
    for kind, file in _table(value, f"{where}deploy").items():
        if kind not in LIST_KINDS:
            raise SpecError(f"{where}deploy.{kind}: unknown list kind (known: {list(LIST_KINDS)})")
        if kind in train:
            raise SpecError(f"{where}deploy.{kind}: the day also trains {kind}; give one")
        path = directory / str(file)
        if not path.is_file():
            raise SpecError(f"{where}deploy.{kind}: no file {path}")
        files[kind] = path
    return files


def _day(number: int, value: object, directory: Path) -> DaySpec:
    where = f"days[{number}]."
    table = _table(value, f"days[{number}]")
    _unknown(table, DAY_KEYS, where)
    if "sessions" not in table or "arms" not in table:
        raise SpecError(f"days[{number}] needs sessions and arms")
    train = table.get("train", [])
    if not isinstance(train, list) or not all(isinstance(kind, str) for kind in train):
        raise SpecError(f"{where}train must be a list of list kinds")
    for kind in train:
        if kind not in LIST_KINDS or not LIST_KINDS[kind].trainable:
            trainable = [name for name, k in LIST_KINDS.items() if k.trainable]
            raise SpecError(f"{where}train: cannot train {kind!r} (trainable: {trainable})")
    name = table.get("name", f"DAY{number}")
    if not isinstance(name, str) or not name:
        raise SpecError(f"{where}name must be a non-empty string")
    return DaySpec(
        name=name,
        sessions=_int(table["sessions"], f"{where}sessions", 1, LIMITS["sessions"]),
        arms=_arms(table["arms"], f"{where}arms"),
        train=tuple(train),
        deploy=_deploy(table.get("deploy", {}), where, directory, train),
    )


def check_continued_experiments(days: tuple[DaySpec, ...]) -> None:
    """Days sharing a ``name`` continue one experiment: they must follow each other and
    serve the same arms (the users' assignment stays), else ``SpecError``."""
    for number, (before, day) in enumerate(zip(days, days[1:], strict=False), start=2):
        if day.name == before.name and day.arms != before.arms:
            raise SpecError(
                f"days[{number}].arms: day {number} continues experiment {day.name!r}, "
                "so it needs the same arms as the day before"
            )
    names = [day.name for day in days]
    runs = [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]
    if len(set(runs)) != len(runs):
        raise SpecError(
            f"days: the days of one experiment must follow each other, got {names} "
            "(give the other days their own name)"
        )


def parse_spec(raw: dict, directory: Path) -> ExperimentSpec:
    """Check a parsed TOML document; ``directory`` is where relative paths start."""
    _unknown(raw, TOP_KEYS, "")
    name = plain_name(raw.get("name"), "name")
    seed = _int(raw.get("seed", 0), "seed", 0, LIMITS["seed"])
    world = dict(_table(raw.get("world", {}), "world"))
    world_path = world.pop("path", None)
    if world_path is not None:
        if world:
            raise SpecError(f"world.{sorted(world)[0]}: give either world.path or parameters")
        world_path = directory / world_path
        if not (world_path / TRACKS_FILE).is_file():
            raise SpecError(f"world.path: no {TRACKS_FILE} in {world_path}")
    world = _world_params(world)
    world["seed"] = _int(world.get("seed", seed), "world.seed", 0, LIMITS["seed"])
    days_raw = raw.get("days")
    if not isinstance(days_raw, list) or not days_raw:
        raise SpecError("days: give at least one [[days]] table")
    if len(days_raw) > LIMITS["days"]:
        raise SpecError(f"days: at most {LIMITS['days']} days, got {len(days_raw)}")
    days = tuple(_day(number, value, directory) for number, value in enumerate(days_raw, start=1))
    check_continued_experiments(days)
    report = _table(raw.get("report", {}), "report")
    _unknown(report, {"day", "control"}, "report.")
    report_day = _int(report.get("day", len(days)), "report.day", 1)
    if report_day > len(days):
        raise SpecError(f"report.day must be at most {len(days)}, got {report_day}")
    control = report.get("control", CONTROL)
    if control not in days[report_day - 1].arms:
        raise SpecError(f"report.control: day {report_day} has no treatment {control!r}")
    robustness = _table(raw.get("robustness", {}), "robustness")
    _unknown(robustness, {"worlds"}, "robustness.")
    service = _table(raw.get("service", {}), "service")
    _unknown(service, {"workers"}, "service.")
    return ExperimentSpec(
        name=name,
        seed=seed,
        directory=directory,
        world_path=world_path,
        world_params=world,
        days=days,
        report_day=report_day,
        control=control,
        robustness_worlds=_int(
            robustness.get("worlds", 0), "robustness.worlds", 0, LIMITS["robustness.worlds"]
        ),
        workers=_int(service.get("workers", 2), "service.workers", 1, LIMITS["service.workers"]),
        recommenders=frozenset(r for day in days for r in day.arms.values()),
    )


def check_overrides(workers: int | None, worlds: int | None) -> None:
    """The command line's ``--workers`` and ``--worlds`` within the spec keys' bounds."""
    if workers is not None:
        _int(workers, "--workers", 1, LIMITS["service.workers"])
    if worlds is not None:
        _int(worlds, "--worlds", 0, LIMITS["robustness.worlds"])


def load_spec(path: Path) -> ExperimentSpec:
    """Read and check a spec file."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise SpecError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path} is not TOML: {e}") from None
    return parse_spec(raw, Path(path).resolve().parent)
