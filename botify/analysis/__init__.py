"""A/B analysis of botify's event logs: sessions, per-user metrics, statistics, report.

Modules, in the order the data flows through them:

- ``loading``: event-log directory → events frame (+ each event's experiment treatments).
- ``assignment``: which treatment each user is in, for one experiment.
- ``sessions``: sessionize events (SPEC §7) and compute per-user metrics.
- ``stats``: Welch and delta-method confidence intervals, Holm correction, comparisons.
- ``checks``: sample-ratio mismatch and the p99 latency guardrail.
- ``diagnostics``: repeat, same-artist and skip rates, coverage, fallbacks per treatment.
- ``pipeline``: all of the above for one experiment, as one result.
- ``plot`` and ``report``: the PNG of effects and the markdown report (``botify report``).
"""
