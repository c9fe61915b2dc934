"""A/B analysis of botify's event logs: per-user metrics, statistics, diagnostics, report.

The events come from ``botify.logs`` (``reader.open_log``, ``sessions.sessionize``), shared
with training: the event-level work is SQL in their DuckDB database, and only per-session,
per-user and per-treatment tables come out as frames. Modules, in the order the data flows
through them:

- ``assignment``: which treatment each user is in, for one experiment.
- ``metrics``: per-user metrics of sessionized events (docs/statistics.md).
- ``stats``: Welch and delta-method confidence intervals, CUPED, Holm correction, comparisons.
- ``preperiod``: the days before an experiment and each user's CUPED covariates from them.
- ``checks``: sample-ratio mismatch and the p99 latency guardrail.
- ``diagnostics``: repeat, same-artist and skip rates, coverage, fallbacks per treatment.
- ``pipeline``: all of the above for one experiment, as one result.
- ``plot`` and ``report``: the PNG of effects, the markdown and JSON report (``botify report``).
- ``sequential``: always-valid confidence sequences, to watch a running experiment.
- ``power``: users and sessions per arm for a given effect (``botify power``).
- ``days``: session time per day and arm over several days' experiments (the learning curve).
"""
