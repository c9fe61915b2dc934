"""The event record (SPEC §6): one dataclass that the writer writes and the reader reads.

Its fields, in order, are the keys of a logged line: the SPEC's ``message``, ``timestamp``,
``user``, ``track``, ``time``, ``latency``, ``recommendation``, ``recommender``,
``served_by``, ``model_version`` and ``experiments``, plus ``experiment`` (the experiment
served), ``request`` and ``session`` (the user's counters), ``candidates`` (the size of the
list the pick came from) and ``degraded`` (Redis was unreachable). The order is the one of
the first logs, so lines stay byte-compatible.

A field's metadata says what the reader makes of it: ``COLUMN``, the type of its column in
the events frame (fields without one are not loaded into it), and ``CHECK``, what its value
must satisfy for the event to be kept: an event that cannot be placed in a session or scored
is dropped (and counted) rather than guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields

COLUMN = "column"
CHECK = "check"
MESSAGES = ("next", "last")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Column types: exact dtypes for checked fields; "number" and "Int64" turn what is missing
# or mistyped into NaN / <NA>; "category" holds each of a few distinct strings once.
EXACT_TYPES = ("int64", "float64")


def _is_message(value: object) -> bool:
    return isinstance(value, str) and value in MESSAGES


def _is_int64(value: object) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


def _is_int64_or_none(value: object) -> bool:
    # Degraded answers have no request counter.
    return value is None or _is_int64(value)


def _is_fraction(value: object) -> bool:
    # NaN fails the comparison too.
    return type(value) in (int, float) and 0.0 <= value <= 1.0


def _loaded(column: str, check: Callable[[object], bool] | None = None):
    metadata = {COLUMN: column} if check is None else {COLUMN: column, CHECK: check}
    return field(metadata=metadata)


@dataclass(frozen=True)
class Event:
    """One answered ``/next`` or ``/last``: a line of the event log."""

    message: str = _loaded("category", _is_message)
    timestamp: int = _loaded("int64", _is_int64)  # ms since the epoch
    user: int = _loaded("int64", _is_int64)
    track: int = _loaded("int64", _is_int64)  # the track just listened to
    time: float = _loaded("float64", _is_fraction)  # the fraction of it listened
    latency: float = _loaded("number")  # seconds spent answering
    recommendation: int | None = _loaded("Int64")  # None for /last
    recommender: str = _loaded("category")  # the recommender of the user's treatment
    served_by: str | None = _loaded("category")  # the recommender or fallback that answered
    model_version: str | None = field()  # the deployed lists' version the answer came from
    experiment: str = _loaded("category")  # the experiment served
    experiments: dict[str, str] = field()  # the user's treatment in every experiment
    request: int | None = _loaded("number", _is_int64_or_none)  # the user's request counter
    session: int | None = field()  # sessions the user ended before this one
    candidates: int | None = _loaded("number")  # size of the list the pick came from
    degraded: bool = field()  # Redis was unreachable: no state, a random answer

    def to_json(self) -> str:
        """The event as one compact JSON line (without the newline), keys in field order."""
        return json.dumps({name: getattr(self, name) for name in FIELDS}, separators=(",", ":"))


FIELDS = tuple(f.name for f in fields(Event))
# The events frame's columns and their types, in field order.
COLUMNS = {f.name: f.metadata[COLUMN] for f in fields(Event) if COLUMN in f.metadata}
_CHECKS = tuple((f.name, f.metadata[CHECK]) for f in fields(Event) if CHECK in f.metadata)


def is_valid_event(event: dict) -> bool:
    """Whether a logged ``event`` has what sessions and metrics need: every ``CHECK`` of the
    schema holds (a ``next``/``last`` message, integer ``timestamp``, ``user`` and ``track``,
    a ``time`` in [0, 1], a ``request`` counter that is an integer or absent)."""
    return all(check(event.get(name)) for name, check in _CHECKS)
