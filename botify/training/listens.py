"""Listens for training: who listened to which track, how long, in which session.

Each logged event carries the track the user has just listened to and the fraction listened
(SPEC §6). Sessions are the analysis's (``botify.logs.sessions.sessionize``, SPEC §7), so
offline evaluation and A/B reports agree on what a session is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def listens_from_sessions(sessionized: pd.DataFrame) -> Listens:
    """The listens of events sessionized by ``botify.logs.sessions.sessionize``."""
    return Listens(
        session=sessionized["session_id"].to_numpy(dtype=np.int64),
        track=sessionized["track"].to_numpy(dtype=np.int64),
        time=sessionized["time"].to_numpy(dtype=np.float64),
        timestamp=sessionized["timestamp"].to_numpy(dtype=np.int64),
    )
