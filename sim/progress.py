"""Progress of a simulated day: a live bar on a terminal, a few plain lines in a log file.

tqdm redraws its bar with carriage returns, which a log file keeps: a 24,000-session day
wrote thousands of overwritten updates. Where the output is not a terminal, a line is
printed at every tenth of the day instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

STEPS = 10


class LineProgress:
    """tqdm's ``update``/``n`` interface, printing one line per tenth of ``total``."""

    def __init__(self, total: int, desc: str, stream: TextIO) -> None:
        self.total, self.desc, self.stream = total, desc, stream
        self.n = 0
        self._printed = 0
        self._started = time.perf_counter()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more finished sessions; print when a new tenth is reached."""
        self.n += n
        step = self.n * STEPS // max(self.total, 1)
        if step > self._printed:
            self._printed = step
            seconds = time.perf_counter() - self._started
            share = self.n / max(self.total, 1)
            print(
                f"{self.desc}: {self.n:,}/{self.total:,} sessions ({share:.0%}) in {seconds:.0f} s",
                file=self.stream,
                flush=True,
            )

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        return None


def day_progress(total: int, desc: str, show: bool, stream: TextIO | None = None):
    """A progress counter for one day: tqdm on a terminal, ``LineProgress`` otherwise."""
    stream = stream or sys.stderr
    if show and not stream.isatty():
        return LineProgress(total, desc, stream)
    return tqdm(total=total, desc=desc, disable=not show, file=stream)
