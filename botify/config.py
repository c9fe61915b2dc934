"""Service configuration, read from ``BOTIFY_*`` environment variables.

Every setting has a local default so that ``botify serve`` works on a laptop with no
set-up; the README's configuration table lists them all.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_EXPERIMENTS = {"AB": {"C": "contextual", "T1": "anchor"}}


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _parse_experiments(raw: str) -> dict[str, dict[str, str]]:
    """Parse ``BOTIFY_EXPERIMENTS``: JSON ``{"NAME": {"C": "recommender", "T1": ...}}``."""
    experiments = json.loads(raw)
    if not isinstance(experiments, dict) or not experiments:
        raise ValueError("BOTIFY_EXPERIMENTS must be a non-empty JSON object")
    for name, arms in experiments.items():
        if not isinstance(arms, dict) or "C" not in arms:
            raise ValueError(f"experiment {name!r} needs a treatment map with a control 'C'")
        if not all(isinstance(v, str) for v in arms.values()):
            raise ValueError(f"experiment {name!r}: every treatment maps to a recommender name")
    return experiments


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
    good_time: float = 0.5
    max_fails: int = 3
    state_ttl_s: int = 30 * 24 * 3600
    toppop_n: int = 100
    log_max_bytes: int = 64 * 1024 * 1024
    redis_timeout_s: float = 0.5
    deploy_check_s: float = 1.0

    @classmethod
    def from_env(cls) -> Config:
        """Build the configuration from the process environment."""
        experiments = _parse_experiments(
            _env("BOTIFY_EXPERIMENTS", json.dumps(DEFAULT_EXPERIMENTS))
        )
        experiment = _env("BOTIFY_EXPERIMENT", next(iter(experiments)))
        if experiment not in experiments:
            raise ValueError(
                f"BOTIFY_EXPERIMENT={experiment!r} is not one of BOTIFY_EXPERIMENTS "
                f"({', '.join(experiments)})"
            )
        return cls(
            redis_url=os.environ.get("BOTIFY_REDIS_URL") or None,
            redis_cluster=_env("BOTIFY_REDIS_CLUSTER", "0").lower() in ("1", "true", "yes"),
            redis_dir=Path(_env("BOTIFY_REDIS_DIR", "data/redis")),
            data_dir=Path(_env("BOTIFY_DATA_DIR", "data/world")),
            log_dir=Path(_env("BOTIFY_LOG_DIR", "logs")),
            experiments=experiments,
            experiment=experiment,
            seed=int(_env("BOTIFY_SEED", "0")),
            good_time=float(_env("BOTIFY_GOOD_TIME", "0.5")),
            max_fails=int(_env("BOTIFY_MAX_FAILS", "3")),
            state_ttl_s=int(_env("BOTIFY_STATE_TTL_S", str(30 * 24 * 3600))),
            toppop_n=int(_env("BOTIFY_TOPPOP_N", "100")),
            log_max_bytes=int(_env("BOTIFY_LOG_MAX_BYTES", str(64 * 1024 * 1024))),
            redis_timeout_s=float(_env("BOTIFY_REDIS_TIMEOUT_S", "0.5")),
            deploy_check_s=float(_env("BOTIFY_DEPLOY_CHECK_S", "1.0")),
        )
