"""Listens reconstructed from event logs: who listened to which track, how long, in which session.

Each logged event carries the track the user has just listened to and the fraction listened
(SPEC §6). Sessions follow SPEC §7: per user, events in (timestamp, request) order, and a
``last`` event closes a session.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

REQUIRED_INT_FIELDS = ("timestamp", "user", "track", "request")
MESSAGES = ("next", "last")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Listens:
    """One row per listen, grouped by session and in listening order within a session.

    ``session`` numbers sessions 0..n-1 in the order of (user, first event); rows of one
    session are contiguous.
    """

    session: np.ndarray
    track: np.ndarray
    time: np.ndarray
    timestamp: np.ndarray

    def __len__(self) -> int:
        return int(self.track.size)

    @property
    def n_sessions(self) -> int:
        """Number of distinct sessions."""
        return int(np.unique(self.session).size)

    def select_sessions(self, keep: np.ndarray) -> Listens:
        """The listens of the sessions whose entry in the boolean ``keep`` (by session) is set."""
        rows = keep[self.session]
        return Listens(
            session=self.session[rows],
            track=self.track[rows],
            time=self.time[rows],
            timestamp=self.timestamp[rows],
        )

    def session_starts(self) -> np.ndarray:
        """Timestamp (ms) of each session's first listen, indexed by session number."""
        starts = np.full(int(self.session.max()) + 1 if len(self) else 0, np.iinfo(np.int64).max)
        np.minimum.at(starts, self.session, self.timestamp)
        return starts


def _is_int(value: object) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX
    )


def _is_valid(event: dict) -> bool:
    if event.get("message") not in MESSAGES:
        return False
    if not all(_is_int(event.get(field)) for field in REQUIRED_INT_FIELDS):
        return False
    time = event.get("time")
    return (
        isinstance(time, int | float)
        and not isinstance(time, bool)
        and math.isfinite(time)
        and 0.0 <= time <= 1.0
    )


def listens_from_events(events: Iterable[dict]) -> tuple[Listens, int]:
    """Build the listens of ``events`` (any order); returns them and the count of invalid events.

    An event is invalid when a field needed here is missing or of the wrong type, or ``time``
    is outside [0, 1]; such events are left out rather than guessed at.
    """
    # Typed arrays hold 8 bytes a value where lists of ints hold ~36: millions of events fit.
    users, tracks, stamps, requests = array("q"), array("q"), array("q"), array("q")
    times, closes = array("d"), array("b")
    invalid = 0
    for event in events:
        if not _is_valid(event):
            invalid += 1
            continue
        users.append(event["user"])
        tracks.append(event["track"])
        times.append(event["time"])
        stamps.append(event["timestamp"])
        requests.append(event["request"])
        closes.append(event["message"] == "last")
    user = np.frombuffer(users, dtype=np.int64)
    timestamp = np.frombuffer(stamps, dtype=np.int64)
    order = np.lexsort((np.frombuffer(requests, dtype=np.int64), timestamp, user))
    user, timestamp = user[order], timestamp[order]
    closed = np.frombuffer(closes, dtype=np.int8)[order].astype(bool)
    new_session = np.ones(user.size, dtype=bool)
    new_session[1:] = (user[1:] != user[:-1]) | closed[:-1]
    listens = Listens(
        session=np.cumsum(new_session) - 1,
        track=np.frombuffer(tracks, dtype=np.int64)[order],
        time=np.frombuffer(times, dtype=np.float64)[order],
        timestamp=timestamp,
    )
    return listens, invalid
