"""Watching the report day while it runs: looks after every chunk, a live view, stop early.

With monitoring on, ``botify experiment run`` plays the report day in chunks of sessions
(``sim run --first-session``; a session's plan depends only on (seed, day, session index)
and each user's sessions keep their order, so the chunks are the day played at once) and,
after each chunk, computes the running effect of every treatment on session time per user
with its always-valid interval (``botify.analysis.sequential``). The live view redraws one
block in place on a terminal and prints one plain block per look when the output is a file.
With ``--stop-early`` the day stops at the first look where every comparison is decided.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

import pandas as pd

from botify.analysis.sequential import MONITOR_METRIC, running_effects
from botify.logs.reader import open_log

DEFAULT_LOOKS = 10


@dataclass(frozen=True)
class Monitoring:
    """How to watch the report day: chunk size (sessions), stop rule, error rate."""

    look_every: int | None = None  # None: a tenth of the day
    stop_early: bool = False
    alpha: float = 0.05

    def chunk(self, sessions: int) -> int:
        """Sessions per look for a day of ``sessions``."""
        return self.look_every or max(1, -(-sessions // DEFAULT_LOOKS))


@dataclass
class Look:
    """One look: how much had run, and the running effects then."""

    number: int
    sessions: int
    seconds: float
    effects: pd.DataFrame

    @property
    def all_decided(self) -> bool:
        """Every comparison's confidence sequence excludes zero."""
        return bool(len(self.effects)) and bool(self.effects["decided"].all())


@dataclass
class Watch:
    """Looks at one experiment's logs; ``n_star`` tunes the sequences (see ``sequential``)."""

    experiment: str
    control: str
    total_sessions: int
    n_star: float
    monitoring: Monitoring
    labels: dict[str, str] = field(default_factory=dict)
    looks: list[Look] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def look(self, logs, sessions: int) -> Look:
        """Read the logs so far and compute the running effects."""
        with open_log(logs) as log:
            effects = running_effects(
                log, self.experiment, self.control, alpha=self.monitoring.alpha, n_star=self.n_star
            )
        look = Look(len(self.looks) + 1, sessions, time.perf_counter() - self.started, effects)
        self.looks.append(look)
        return look

    def to_json(self) -> dict:
        """The looks for ``report.json``."""
        looks = [
            {
                "look": look.number,
                "sessions": look.sessions,
                "seconds": round(look.seconds, 1),
                "all_decided": look.all_decided,
                "effects": [
                    {key: _plain(row[key]) for key in ("treatment", "effect", "cs_lower")}
                    | {key: _plain(row[key]) for key in ("cs_upper", "n_control", "n_treatment")}
                    | {"method": str(row["method"]), "decided": bool(row["decided"])}
                    for _, row in look.effects.iterrows()
                ],
            }
            for look in self.looks
        ]
        return {
            "metric": MONITOR_METRIC,
            "alpha": self.monitoring.alpha,
            "n_star": self.n_star,
            "stop_early": self.monitoring.stop_early,
            "planned_sessions": self.total_sessions,
            "looks": looks,
        }


def _plain(value: object) -> object:
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and value != value else value


def look_lines(look: Look, watch: Watch) -> list[str]:
    """The view of one look: a header line and a line per treatment."""
    share = look.sessions / max(watch.total_sessions, 1)
    lines = [
        f"look {look.number}: {look.sessions:,}/{watch.total_sessions:,} sessions ({share:.0%}) "
        f"in {look.seconds:.0f} s; {MONITOR_METRIC} per user vs {watch.control}, always-valid "
        f"{1 - watch.monitoring.alpha:.0%} intervals"
    ]
    for _, row in look.effects.iterrows():
        name = watch.labels.get(str(row["treatment"]), str(row["treatment"]))
        if pd.isna(row["effect"]) or pd.isna(row["cs_lower"]):
            lines.append(f"  {name:<24} n/a (too few users)")
            continue
        verdict = "decided" if row["decided"] else "running"
        lines.append(
            f"  {name:<24} {row['effect']:+8.2f}%  [{row['cs_lower']:+8.2f}%, "
            f"{row['cs_upper']:+8.2f}%]  users {int(row['n_control']):,}/"
            f"{int(row['n_treatment']):,}  {row['method']}  {verdict}"
        )
    return lines


class LiveView:
    """Shows each look: redrawn in place on a terminal, appended as plain lines in a file."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self._drawn = 0

    def show(self, lines: list[str]) -> None:
        """Replace the previous look's block (terminal) or print the new one (file)."""
        if self.live and self._drawn:
            # Cursor to the start of the block's first line, then clear to the end.
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)
