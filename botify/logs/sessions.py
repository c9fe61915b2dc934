"""Sessions from events (docs/events.md), shared by training and the A/B analysis, in SQL.

Per user, events are ordered by ``(timestamp, epoch, request)`` (timestamps can tie at
millisecond resolution; the user's request counter breaks the tie, and since a Redis that
lost its data restarts the counter, its epoch comes first; logs from before the epoch have
none; degraded answers have no counter, and what still ties is ordered by message, track
and time, so that the events left tied are the same for every figure) and a ``last`` event
closes a session.
A session of L listened recommended tracks is L+1 events::

    next(first, 1.0), next(r1, t1), ..., next(r_{L-1}, t_{L-1}), last(r_L, t_L)

where ``r_i`` is the recommendation answered to the previous event. The first event carries
the user's own first track with time 1.0, which is not the outcome of a recommendation, so:

- session time = sum of ``time`` over the session's events except the first
  (the listen times of the recommended tracks);
- tracks per session = L = number of events - 1.

A session without a ``last`` (the user was still listening when the logs were cut) is open:
the analysis excludes it from its metrics and counts it (``botify.analysis.metrics``).

The work happens in the ``EventDatabase``'s DuckDB database: a window per user labels the
sessions (``sessionize``), so memory stays bounded however long the logs; only one row per
session comes out (``session_table``). The window's sort is the costly step, so the
sessionized table keeps only what sessions need; the events it came from stay reachable
as a view (``selected_events``).

Sums of floats are exact (``exact_sum``): a parallel aggregate adds in an order that depends
on the threads, and the same logs must give the same figures on any machine.
"""

from __future__ import annotations

import pandas as pd

from botify.logs.reader import EventDatabase, inline

# A user's events in session order (see the module doc).
EVENT_ORDER = "timestamp, epoch NULLS LAST, request NULLS LAST, message, track, time"


# What a sessionized table keeps of an event, besides its session labels.
SESSION_COLUMNS = ("user", "timestamp", "track", "time")
# The type of ``exact_sum``'s terms: 25 million listen fractions sum in 26 of its 38 digits.
EXACT = "DECIMAL(38, 18)"
_EXACT_BELOW = 1e9


def exact_sum(expression: str, where: str = "TRUE") -> str:
    """SQL of the sum of ``expression`` (a DOUBLE) over the rows where ``where`` holds, as a
    DOUBLE that does not depend on the order of the additions: each value rounded to 1e-18,
    then summed exactly as a decimal. (An ordered ``fsum`` is as exact but sorts each
    group's values, which costs more than the decimal sum.)

    Values of 1e9 or more and infinities, which no botify log holds but a foreign one may,
    are added as doubles after: a decimal cannot hold them (nor 1e20 in a sum)."""
    value = f"({expression})"
    # TRY_CAST: the cast is computed before the FILTER drops the values it cannot hold.
    exact = f"sum(TRY_CAST({value} AS {EXACT})) FILTER ({where} AND abs({value}) < {_EXACT_BELOW})"
    rest = f"sum({value}) FILTER ({where} AND NOT abs({value}) < {_EXACT_BELOW})"
    # NULL where no row has a value, as a sum of nothing.
    return (
        f"CASE WHEN count({value}) FILTER ({where}) > 0 "
        f"THEN coalesce({exact}::DOUBLE, 0) + coalesce({rest}, 0) END"
    )


def selected_events(table: str) -> str:
    """The view of the events (all their columns) that ``sessionize`` labelled in ``table``."""
    return f"{table}_events"


def sessionize(
    log: EventDatabase,
    table: str,
    where: str = "TRUE",
    params: list | None = None,
    columns: tuple[str, ...] = SESSION_COLUMNS,
) -> int:
    """Create (or replace) table ``table``: the events of ``log`` that satisfy the SQL
    condition ``where`` (with ``params`` for its ``?``), their ``SESSION_COLUMNS``, and
    ``session`` (the user's session number, from 0), ``position`` (0 for the session's first
    event), ``closed`` (the session ends with a ``last``) and ``previous_track`` (the
    track of the user's event before, NULL for the first); ``columns`` names the event
    columns kept (more than sessions need only where the caller needs them). The view
    ``selected_events(table)`` has those events whole. Returns their number.

    One sort per user serves every window: an event's session is the number of ``last``
    events before it, and its session is closed when a ``last`` follows it (or is it).
    Labelling session starts first and numbering sessions and positions in windows of their
    own would sort again; the sorted rows keep only the keys, since carrying every column
    the analysis reads through the sort makes it far slower on large logs. The columns are
    named rather than ``* EXCLUDE``-d, and the sessions counted without a FILTER on the
    window's aggregate, so the statement runs on Spark too.
    """
    selected = selected_events(table)
    # A view takes no parameters: they go in as literals.
    condition = inline(where, params)
    log.execute(f"CREATE OR REPLACE VIEW {selected} AS SELECT * FROM events WHERE {condition}")
    kept = ", ".join(f'"{name}"' for name in columns)
    log.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH ordered AS (
            SELECT {kept},
                row_number() OVER user_order AS rank,
                count(CASE WHEN message = 'last' THEN 1 END) OVER (
                    user_order ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS session,
                bool_or(message = 'last') OVER (
                    user_order ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS closed,
                lag(track) OVER user_order AS previous_track
            FROM {selected}
            WINDOW user_order AS (PARTITION BY "user" ORDER BY {EVENT_ORDER})
        )
        SELECT {kept}, session, closed, previous_track, rank - first_rank AS position
        FROM ordered JOIN (
            SELECT "user", session, min(rank) AS first_rank FROM ordered GROUP BY ALL
        ) USING ("user", session)
        """
    )
    return int(log.row(f"SELECT count(*) FROM {table}")[0])


def session_table(log: EventDatabase, table: str) -> pd.DataFrame:
    """One row per session of sessionized ``table`` (``sessionize``), ordered by user and
    session (index: ``session_id``, 0..n-1): ``user``, ``session``, ``closed``, ``time``,
    ``tracks`` (see module doc) and ``start`` (timestamp of its first event)."""
    sessions = log.query(
        f"""
        SELECT "user", session, bool_or(closed) AS closed,
            coalesce({exact_sum("time", "position > 0")}, 0.0) AS time,
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
