"""A worker's memory bound: a leaking recommender (a plugin) must not grow a worker without
limit while ``/health`` says ok.

``MemoryGuard`` is one of the settings the worker's poller refreshes (once per
``BOTIFY_DEPLOY_CHECK_S``): it reads the process's resident memory, and past
``BOTIFY_WORKER_MAX_RSS_MB`` it logs it once, says it in ``/health`` and calls
``on_exceeded`` — under gunicorn the worker then stops taking connections, finishes its
requests and exits, and the arbiter starts a fresh one (``botify.serving.worker``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def resident_mb() -> float | None:
    """This process's resident memory in MiB (None where ``/proc`` does not say)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE_BYTES / 2**20
    except (OSError, ValueError, IndexError):
        return None


class MemoryGuard:
    """Compares the process's resident memory with its limit on every refresh."""

    def __init__(self, limit_mb: int, measure: Callable[[], float | None] = resident_mb) -> None:
        self.limit_mb = limit_mb
        self.measure = measure
        self.resident_mb: float | None = None
        self.exceeded = False
        # What the server does about it (set by the gunicorn worker); nothing otherwise.
        self.on_exceeded: Callable[[], None] | None = None

    def refresh(self) -> None:
        """Measure; past the limit (the first time), log and call ``on_exceeded``."""
        self.resident_mb = self.measure()
        if self.exceeded or self.resident_mb is None or self.resident_mb <= self.limit_mb:
            return
        self.exceeded = True
        log.error(
            "worker %d uses %.0f MiB, over BOTIFY_WORKER_MAX_RSS_MB=%d: it finishes its "
            "requests and is replaced",
            os.getpid(),
            self.resident_mb,
            self.limit_mb,
        )
        if self.on_exceeded is not None:
            self.on_exceeded()

    def status(self) -> str:
        """``/health``'s ``memory``: "ok", or what is over the limit."""
        if not self.exceeded:
            return "ok"
        return (
            f"{self.resident_mb:.0f} MiB resident, over BOTIFY_WORKER_MAX_RSS_MB="
            f"{self.limit_mb}: this worker is being replaced"
        )
