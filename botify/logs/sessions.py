"""Sessions from events (SPEC §7), shared by training and the A/B analysis, in SQL.

Per user, events are ordered by ``(timestamp, epoch, request)`` (timestamps can tie at
millisecond resolution; the user's request counter breaks the tie, and since a Redis that
lost its data restarts the counter, its epoch comes first; logs from before the epoch have
none, and what still ties keeps file order) and a ``last`` event closes a session.
A session of L listened recommended tracks is L+1 events::

    next(first, 1.0), next(r1, t1), ..., next(r_{L-1}, t_{L-1}), last(r_L, t_L)

where ``r_i`` is the recommendation answered to the previous event. The first event carries
the user's own first track with time 1.0, which is not the outcome of a recommendation, so:

- session time = sum of ``time`` over the session's events except the first
  (the listen times of the recommended tracks);
- tracks per session = L = number of events - 1.

A session without a ``last`` (the user was still listening when the logs were cut) is open:
the analysis excludes it from its metrics and counts it (``botify.analysis.metrics``).

The work happens in the ``EventLog``'s DuckDB database: a window per user labels the
sessions (``sessionize``), so memory stays bounded however long the logs; only one row per
session comes out (``session_table``). Every sum over floats is ordered (``fsum(x ORDER BY
...)``): a parallel aggregate adds in an order that depends on the threads, and the same
logs must give the same figures on any machine.
"""

from __future__ import annotations

import pandas as pd

from botify.logs.reader import EventLog

# A user's events in session order: what still ties after the counters keeps file order.
EVENT_ORDER = 'timestamp, epoch NULLS LAST, request NULLS LAST, "row"'


def sessionize(log: EventLog, table: str, where: str = "TRUE", params: list | None = None) -> int:
    """Create (or replace) table ``table``: the events of ``log`` that satisfy the SQL
    condition ``where`` (with ``params`` for its ``?``), each with ``session`` (the user's
    session number, from 0), ``position`` (0 for the session's first event) and ``closed``
    (the session ends with a ``last``). Returns its number of events."""
    log.con.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH selected AS (
            SELECT *, coalesce(lag(message) OVER (
                PARTITION BY "user" ORDER BY {EVENT_ORDER}) = 'last', true) AS starts
            FROM events WHERE {where}
        ), numbered AS (
            SELECT * EXCLUDE (starts), sum(starts::INTEGER) OVER (
                PARTITION BY "user" ORDER BY {EVENT_ORDER} ROWS UNBOUNDED PRECEDING) - 1
                AS session
            FROM selected
        )
        SELECT *,
            row_number() OVER (PARTITION BY "user", session ORDER BY {EVENT_ORDER}) - 1
                AS position,
            bool_or(message = 'last') OVER (PARTITION BY "user", session) AS closed
        FROM numbered
        """,
        params or [],
    )
    return int(log.row(f"SELECT count(*) FROM {table}")[0])


def session_table(log: EventLog, table: str) -> pd.DataFrame:
    """One row per session of sessionized ``table`` (``sessionize``), ordered by user and
    session (index: ``session_id``, 0..n-1): ``user``, ``session``, ``closed``, ``time``,
    ``tracks`` (see module doc) and ``start`` (timestamp of its first event)."""
    sessions = log.query(
        f"""
        SELECT "user", session, bool_or(closed) AS closed,
            coalesce(fsum(time ORDER BY position) FILTER (position > 0), 0.0) AS time,
            count(*) - 1 AS tracks, min(timestamp) AS start
        FROM {table} GROUP BY "user", session ORDER BY "user", session
        """
    )
    return sessions.astype(
        {
            "user": "int64",
            "session": "int64",
            "closed": "bool",
            "time": "float64",
            "tracks": "int64",
            "start": "int64",
        }  # fmt: skip
    ).rename_axis("session_id")
