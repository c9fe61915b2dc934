"""Counter-based random numbers: every draw is a hash of (session key, stream, counter).

A session's draws therefore do not depend on how sessions are batched, ordered or split across
worker processes, and the vectorised engine and the Gymnasium environment draw the same numbers.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_USER_SALT = np.uint64(0xD6E8FEB86659FD93)
_ONE = np.uint64(1)


class Stream(IntEnum):
    """Independent purposes a session draws random numbers for."""

    USER = 1
    INTEREST = 2
    FIRST_TRACK = 3
    BUDGET = 4
    AGENT = 5
    ACTIVITY = 6
    VISITS = 7
    START = 8
    CHURN = 9


def mix64(values: np.ndarray | int) -> np.ndarray:
    """The splitmix64 finaliser: a bijective, well-mixing hash of 64-bit integers."""
    z = np.asarray(values, dtype=np.uint64) + _GOLDEN
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


def _day_key(seed: int, day: int) -> np.ndarray:
    return mix64(mix64(np.uint64(seed)) ^ np.uint64(day))


def session_keys(seed: int, day: int, sessions: np.ndarray) -> np.ndarray:
    """The 64-bit key of each global session index of one day of a run seeded with ``seed``."""
    return mix64(_day_key(seed, day) ^ np.asarray(sessions, dtype=np.uint64))


def user_keys(seed: int, day: int, users: np.ndarray) -> np.ndarray:
    """The 64-bit key of each user on one day of a run (day 0: the user's lifelong key).

    Salted apart from ``session_keys``, so that a user's key is no session's key."""
    salted = mix64(np.asarray(users, dtype=np.uint64)) ^ _USER_SALT
    return mix64(_day_key(seed, day) ^ salted)


def visit_keys(keys: np.ndarray, visits: np.ndarray) -> np.ndarray:
    """The session key of visit number ``visits`` of the users of ``keys`` (``user_keys``):
    a user's sessions depend on the user's own draws only, not on anyone else's visits."""
    return mix64(np.asarray(keys, dtype=np.uint64) ^ mix64(np.asarray(visits, np.uint64) + _ONE))


def uniforms(keys: np.ndarray, stream: Stream, counters: np.ndarray | int) -> np.ndarray:
    """Uniform floats in [0, 1), one per key, for draw number ``counters`` of ``stream``."""
    salt = mix64(np.uint64(int(stream) << 32) + np.asarray(counters, dtype=np.uint64))
    return (mix64(np.asarray(keys, dtype=np.uint64) ^ salt) >> np.uint64(11)) * 2.0**-53


def choices(
    keys: np.ndarray, stream: Stream, counters: np.ndarray | int, n: np.ndarray | int
) -> np.ndarray:
    """Integers uniform in ``0..n-1`` (``n`` scalar or per key) for draw ``counters``."""
    return np.minimum((uniforms(keys, stream, counters) * n).astype(np.int64), np.asarray(n) - 1)
