"""Service configuration, read from ``BOTIFY_*`` environment variables.

Every setting has a local default so that ``botify serve`` works on a laptop with no
set-up; the README's configuration table lists them all. Each default is written once, as
the ``Config`` field's default: ``from_env`` falls back to it for an unset variable.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

# The naming rule of an experiment's treatments (docs/recommenders.md): the control ``C``,
# then ``T1``, ``T2``, ... in the order of the assignment's index. The configuration, the
# rollout, experiment specs and the analysis all take it from here.
CONTROL = "C"
_TREATMENT = re.compile(r"T([1-9][0-9]*)")

DEFAULT_EXPERIMENTS = {"AB": {CONTROL: "contextual", "T1": "anchor"}}
# The default exploration share (``BOTIFY_EXPLORE``; see botify.recommenders.exploration).
EXPLORE = 0.01
TRUE, FALSE = ("1", "true", "yes"), ("0", "false", "no", "")


def treatment_names(split: int) -> list[str]:
    """Treatment names for a split, in index order: ``C, T1, T2, ...``."""
    return [CONTROL] + [f"T{i}" for i in range(1, split)]


def treatment_number(name: str) -> int | None:
    """``Tk`` → ``k``, the control → 0; None for a name the rule does not give."""
    if name == CONTROL:
        return 0
    match = _TREATMENT.fullmatch(name)
    return int(match.group(1)) if match else None


def check_treatments(names: Iterable[str]) -> list[str]:
    """The names of a split in index order, if ``names`` are exactly ``C, T1, ...`` (in any
    order); otherwise ``ValueError`` saying which names were expected."""
    names = list(names)
    expected = treatment_names(len(names))
    if sorted(names) != sorted(expected):
        raise ValueError(
            f"must name the treatments {', '.join(expected)} ({CONTROL}: the control); "
            f"got {', '.join(map(str, names))}"
        )
    return expected


def _parse_experiments(raw: str) -> dict[str, dict[str, str]]:
    """Parse ``BOTIFY_EXPERIMENTS``: JSON ``{"NAME": {"C": "recommender", "T1": ...}}``
    (``check_treatments``)."""
    try:
        experiments = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"BOTIFY_EXPERIMENTS must be JSON, got {raw!r} ({e})") from None
    if not isinstance(experiments, dict) or not experiments:
        raise ValueError("BOTIFY_EXPERIMENTS must be a non-empty JSON object")
    for name, arms in experiments.items():
        if not isinstance(arms, dict):
            raise ValueError(f"BOTIFY_EXPERIMENTS: experiment {name!r} needs a treatment map")
        try:
            check_treatments(arms)
        except ValueError as e:
            raise ValueError(f"BOTIFY_EXPERIMENTS: experiment {name!r} {e}") from None
        if not all(isinstance(v, str) for v in arms.values()):
            raise ValueError(
                f"BOTIFY_EXPERIMENTS: experiment {name!r}: every treatment maps to a recommender"
            )
    return experiments


def _parse_bool(raw: str) -> bool:
    if raw.strip().lower() in TRUE:
        return True
    if raw.strip().lower() in FALSE:
        return False
    raise ValueError("must be 1/true/yes or 0/false/no")


def _number(kind: type, low: float, high: float) -> Callable[[str], object]:
    """A parser of an ``int`` or ``float`` setting that must lie in ``[low, high]``: a value
    outside (a negative poll interval, a TTL of 0, NaN) is refused at start instead of
    silently breaking the service later."""
    what = "an integer" if kind is int else "a number"
    bounds = f"[{kind(low)}, {kind(high)}]"

    def parse(raw: str) -> object:
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"must be {what}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"must be {what} in {bounds}")
        return value

    return parse


def _path(raw: str) -> Path:
    # An empty value would silently mean the working directory.
    if not raw.strip():
        raise ValueError("must be a path, not empty")
    return Path(raw)


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _redis_url(raw: str) -> str | None:
    if not raw:
        return None
    if not raw.startswith(REDIS_SCHEMES):
        raise ValueError(f"must start with {', '.join(REDIS_SCHEMES)}")
    return raw


# Field → (variable, parser of its text). BOTIFY_EXPERIMENT is read apart: its default is
# the first experiment of BOTIFY_EXPERIMENTS, whatever that is. Every parser refuses what
# the service cannot run with.
VARIABLES: dict[str, tuple[str, Callable[[str], object]]] = {
    "redis_url": ("BOTIFY_REDIS_URL", _redis_url),
    "redis_cluster": ("BOTIFY_REDIS_CLUSTER", _parse_bool),
    "redis_dir": ("BOTIFY_REDIS_DIR", _path),
    "data_dir": ("BOTIFY_DATA_DIR", _path),
    "log_dir": ("BOTIFY_LOG_DIR", _path),
    "experiments": ("BOTIFY_EXPERIMENTS", _parse_experiments),
    "seed": ("BOTIFY_SEED", _number(int, 0, 2**63 - 1)),
    # A listen's time is a fraction of the track.
    "good_time": ("BOTIFY_GOOD_TIME", _number(float, 0, 1)),
    "max_fails": ("BOTIFY_MAX_FAILS", _number(int, 1, 1000)),
    # 0 would expire a user's state on every request; Redis takes up to ~2^63 ms.
    "state_ttl_s": ("BOTIFY_STATE_TTL_S", _number(int, 1, 100 * 365 * 24 * 3600)),
    "toppop_n": ("BOTIFY_TOPPOP_N", _number(int, 1, 2**31 - 1)),
    # A share of answers: 1 would make every list-based answer random.
    "explore": ("BOTIFY_EXPLORE", _number(float, 0, 1)),
    # Below a few lines per segment, every event would start a file of its own.
    "log_max_bytes": ("BOTIFY_LOG_MAX_BYTES", _number(int, 1000, 2**62)),
    "redis_timeout_s": ("BOTIFY_REDIS_TIMEOUT_S", _number(float, 0.001, 3600)),
    # 0 or less kills the workers' polling thread: deployments would never be served.
    "deploy_check_s": ("BOTIFY_DEPLOY_CHECK_S", _number(float, 0.01, 3600)),
    "log_memory_gb": ("BOTIFY_LOG_MEMORY_GB", _number(float, 0.01, 1024 * 1024)),
    "log_threads": ("BOTIFY_LOG_THREADS", _number(int, 0, 4096)),
    "plugin_timeout_s": ("BOTIFY_PLUGIN_TIMEOUT_S", _number(float, 0.001, 60)),
    "worker_max_rss_mb": ("BOTIFY_WORKER_MAX_RSS_MB", _number(int, 64, 1024 * 1024)),
}


def _read(variable: str, parse: Callable[[str], object]) -> object:
    raw = os.environ[variable]
    try:
        return parse(raw)
    except ValueError as e:
        message = str(e)
        # Parsers that already name the variable say more than "must be ...".
        if variable in message:
            raise
        raise ValueError(f"{variable} {message}, got {raw!r}") from None


@dataclass(frozen=True)
class Config:
    """Everything the service needs to know about its environment."""

    redis_url: str | None = None
    redis_cluster: bool = False
    redis_dir: Path = Path("data/redis")
    data_dir: Path = Path("data/world")
    log_dir: Path = Path("logs")
    experiments: dict[str, dict[str, str]] = field(
        default_factory=lambda: dict(DEFAULT_EXPERIMENTS)
    )
    experiment: str = "AB"
    seed: int = 0
    # A listen at least this long is good: the anchor's rule, the report's skips and the
    # offline evaluation's pairs all use it.
    good_time: float = 0.5
    max_fails: int = 3
    state_ttl_s: int = 30 * 24 * 3600
    toppop_n: int = 100
    # The share of a list-based recommender's answers that are a random track instead
    # (``botify.recommenders.exploration``).
    explore: float = EXPLORE
    log_max_bytes: int = 64 * 1024 * 1024
    redis_timeout_s: float = 0.5
    deploy_check_s: float = 1.0
    # Reading logs (report, training): DuckDB's memory limit, beyond which it spills to a
    # temporary directory, and its threads (0: one per core).
    log_memory_gb: float = 2.0
    log_threads: int = 0
    # A plugin recommender's time budget per call; past it the request gets a fallback.
    plugin_timeout_s: float = 0.5
    # A worker whose resident memory grows past this (a leaking plugin) finishes its
    # requests and is replaced by a fresh one.
    worker_max_rss_mb: int = 2048

    @classmethod
    def from_env(cls) -> Config:
        """Build the configuration from the process environment.

        An unset variable takes the field's default; one that does not parse is a
        ``ValueError`` naming the variable.
        """
        values = {
            name: _read(variable, parse)
            for name, (variable, parse) in VARIABLES.items()
            if variable in os.environ
        }
        experiments = values.get("experiments") or _default("experiments")
        experiment = os.environ.get("BOTIFY_EXPERIMENT", next(iter(experiments)))
        if experiment not in experiments:
            raise ValueError(
                f"BOTIFY_EXPERIMENT={experiment!r} is not one of BOTIFY_EXPERIMENTS "
                f"({', '.join(experiments)})"
            )
        return cls(**values, experiment=experiment)


def _default(name: str) -> object:
    """The default of ``Config``'s field ``name``."""
    spec = next(f for f in fields(Config) if f.name == name)
    return spec.default_factory() if spec.default_factory is not MISSING else spec.default
