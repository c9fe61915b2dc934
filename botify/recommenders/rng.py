"""Per-request random numbers, reproducible from ``BOTIFY_SEED`` and the request
(docs/architecture.md, Reproducibility).

Seeding from (seed, user, track, request counter) instead of process-global state makes the
service's answers independent of which worker or replica serves a request, so one simulator
seed against a fresh Redis yields the same logs run after run.
"""

from __future__ import annotations

import random

import mmh3


def request_rng(seed: int, user: int, track: int, request: int) -> random.Random:
    """A generator determined by the service seed and the request's identity."""
    key = f"{seed}:{user}:{track}:{request}"
    return random.Random(mmh3.hash64(key, signed=False)[0])
