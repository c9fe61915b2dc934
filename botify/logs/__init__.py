"""The event log (docs/events.md), shared by the service, training and the A/B analysis:

- ``schema``: ``Event``, the record of one answered request: its fields, key order, JSON
  line, and what the reader loads and checks of it.
- ``writer``: ``EventLog``, one JSON line per answered request, per-process files, rotation.
- ``reader``: every segment of a log directory → events (``read_events``), or a DuckDB table
  of them to query (``open_log``).
- ``spark``: the same on Spark (``open_spark_log``, the spark extra): the logs read and
  checked there, the analysis's statements translated from DuckDB's dialect as they run.
- ``sessions``: events → sessions (a ``last`` closes one) and one row per session, in SQL.
"""
