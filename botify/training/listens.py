"""Listens for training: who listened to which track, how long, in which session.

Each logged event carries the track the user has just listened to and the fraction listened
(docs/events.md). Sessions are the analysis's (``botify.logs.sessions.sessionize``), so
offline evaluation and A/B reports agree on what a session is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from botify.logs.reader import EventDatabase
from botify.logs.sessions import SESSION_COLUMNS, sessionize


@dataclass(frozen=True)
class Listens:
    """One row per listen, grouped by session and in listening order within a session.

    ``session`` numbers sessions 0..n-1 in the order of (user, first event); rows of one
    session are contiguous. Read from logs, a listen also has the ``answer`` the service
    gave after it (-1 for none) and that answer's ``propensity`` (NaN where unknown), which
    off-policy evaluation needs (``botify.training.off_policy``), and its ``user``.
    """

    session: np.ndarray
    track: np.ndarray
    time: np.ndarray
    timestamp: np.ndarray
    answer: np.ndarray | None = None
    propensity: np.ndarray | None = None
    user: np.ndarray | None = None

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
            answer=None if self.answer is None else self.answer[rows],
            propensity=None if self.propensity is None else self.propensity[rows],
            user=None if self.user is None else self.user[rows],
        )

    def session_starts(self) -> np.ndarray:
        """Timestamp (ms) of each session's first listen, indexed by session number."""
        starts = np.full(int(self.session.max()) + 1 if len(self) else 0, np.iinfo(np.int64).max)
        np.minimum.at(starts, self.session, self.timestamp)
        return starts


def sessions_listens(log: EventDatabase) -> Listens:
    """The listens of every event of ``log``, sessionized by ``botify.logs.sessions``: only
    the seven columns leave DuckDB, so a week of logs fits in memory as a few arrays."""
    sessionize(log, "listen_events", columns=(*SESSION_COLUMNS, "recommendation", "propensity"))
    columns = log.execute(
        'SELECT "user", session, track, time, timestamp, recommendation, propensity '
        'FROM listen_events ORDER BY "user", session, position'
    ).fetchnumpy()
    log.execute("DROP TABLE listen_events")
    user, session = columns["user"], columns["session"]
    starts = np.ones(user.size, dtype=bool)
    starts[1:] = (user[1:] != user[:-1]) | (session[1:] != session[:-1])
    return Listens(
        session=np.cumsum(starts) - 1,
        track=np.asarray(columns["track"], dtype=np.int64),
        time=np.asarray(columns["time"], dtype=np.float64),
        timestamp=np.asarray(columns["timestamp"], dtype=np.int64),
        answer=_filled(columns["recommendation"], -1).astype(np.int64),
        propensity=_filled(columns["propensity"], np.nan).astype(np.float64),
        user=np.asarray(user, dtype=np.int64),
    )


def _filled(column: np.ndarray, missing: float) -> np.ndarray:
    # DuckDB gives a column with NULLs as a masked array.
    return np.ma.filled(np.ma.asarray(column), missing)
