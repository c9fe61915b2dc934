"""The event record (docs/events.md): one dataclass that the writer writes and the reader reads.

Its fields, in order, are the keys of a logged line: the required ``message``, ``timestamp``,
``user``, ``track``, ``time``, ``latency``, ``recommendation``, ``recommender``,
``served_by``, ``model_version`` and ``experiments``, plus ``experiment`` (the experiment
served), ``request`` and ``session`` (the user's counters), ``candidates`` (the size of the
list the pick came from), ``degraded`` (Redis was unreachable), ``epoch`` (when the
user's counters started) and ``propensity`` (the probability of the answer's pick). The
order is the one of the first logs, so lines stay byte-compatible.

A field's metadata says what the reader makes of it: ``COLUMN``, the type of its column in
the events frame (fields without one are not loaded into it), and ``CHECK``, what its value
must satisfy for the event to be kept: an event that cannot be placed in a session or scored
is dropped (and counted) rather than guessed at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

COLUMN = "column"
CHECK = "check"
MESSAGES = ("next", "last")
# json.dumps with separators builds a new encoder on every call (1 µs of 2.6 µs per line).
_COMPACT = json.JSONEncoder(separators=(",", ":")).encode

# Column types: "int64" and "float64" for checked fields; "number" is float64 and "Int64"
# nullable, NaN / <NA> where a value is missing or not a JSON number; "category" holds each of
# a few distinct strings once.

# What a checked field's JSON value must be (the reader turns these into SQL):
# "message": "next" or "last"; "int64": an integer (not a float, not a boolean) in int64's
# range; "int64_or_null": that, or null or absent (degraded answers have no request
# counter); "fraction": a number in [0, 1] (NaN fails).
CHECKS = ("message", "int64", "int64_or_null", "fraction")


def _loaded(column: str, check: str | None = None):
    metadata = {COLUMN: column} if check is None else {COLUMN: column, CHECK: check}
    return field(metadata=metadata)


@dataclass(frozen=True)
class Event:
    """One answered ``/next`` or ``/last``: a line of the event log."""

    message: str = _loaded("category", "message")
    timestamp: int = _loaded("int64", "int64")  # ms since the epoch
    user: int = _loaded("int64", "int64")
    track: int = _loaded("int64", "int64")  # the track just listened to
    time: float = _loaded("float64", "fraction")  # the fraction of it listened
    latency: float = _loaded("number")  # seconds spent answering
    recommendation: int | None = _loaded("Int64")  # None for /last
    recommender: str = _loaded("category")  # the recommender of the user's treatment
    served_by: str | None = _loaded("category")  # the recommender or fallback that answered
    model_version: str | None = field()  # the deployed lists' version the answer came from
    experiment: str = _loaded("category")  # the experiment served
    experiments: dict[str, str] = field()  # the user's treatment in every experiment
    request: int | None = _loaded("number", "int64_or_null")  # the user's request counter
    session: int | None = field()  # sessions the user ended before this one
    candidates: int | None = _loaded("number")  # size of the list the pick came from
    degraded: bool = field()  # Redis was unreachable: no state, a random answer
    # When the user's counters started (ms): Redis losing its data restarts ``request`` and
    # ``session`` with a later epoch, so (user, epoch, request) names one request.
    epoch: int | None = field(default=None, metadata={COLUMN: "number"})
    # The probability with which the serving policy chose ``recommendation`` (exploration
    # included), for off-policy evaluation; None for /last and where unknown (plugins).
    propensity: float | None = field(default=None, metadata={COLUMN: "number"})

    def to_json(self) -> str:
        """The event as one compact JSON line (without the newline), keys in field order."""
        return _COMPACT({name: getattr(self, name) for name in FIELDS})


FIELDS = tuple(f.name for f in fields(Event))
# The events frame's columns and their types, in field order.
COLUMNS = {f.name: f.metadata[COLUMN] for f in fields(Event) if COLUMN in f.metadata}
# The fields an event must have right to be kept, and what each must be (``CHECKS``).
FIELD_CHECKS = {f.name: f.metadata[CHECK] for f in fields(Event) if CHECK in f.metadata}
