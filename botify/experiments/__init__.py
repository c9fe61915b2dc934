"""Experiments as code: the harness that drives a served botify with simulated users.

- ``spec``: experiment specs (TOML): world, days with arms and retraining, report, checked.
- ``robustness``: further worlds for a spec, and whether each effect holds on all of them.
- ``monitor``: watching the report day while it runs: looks, the live view, stopping early.
- ``output``: the run's output directory: marked, locked, cleared only if it is the run's own.
- ``runner``: ``botify experiment run`` (and ``make demo``): world → service → days → report.
"""
