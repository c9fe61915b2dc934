"""The gunicorn arbiter of ``botify serve``: on ``SIGHUP`` the old workers keep serving until
their replacements listen.

gunicorn's reload spawns the new workers and stops the old ones at once. A botify worker
listens only once its deployed lists are loaded (``botify.serving.worker``), which takes
seconds with large lists, so for those seconds no worker listened and every connection,
``/health`` included, was refused. Here surplus (old) workers are stopped only once as many
sockets listen on the port as there are workers, i.e. every replacement is ready (each
worker has a socket of its own, ``reuse_port``, and the arbiter none), or after
``REPLACEMENT_DEADLINE_S`` if a replacement never gets ready.

gunicorn's ``reload`` then waits for the old workers to exit, for up to ``graceful_timeout``,
reaping every 0.1 s, and its main loop (which would stop them) does not run meanwhile: the
old workers were stopped ``graceful_timeout`` (10 s) after every ``SIGHUP``, serving the old
lists all along. Here that wait also stops them as soon as their replacements listen.

A worker is forked deep inside the master's call stack and gunicorn ends it with
``sys.exit``: the ``SystemExit`` unwound the master's frames in the worker, so a worker that
exited (replaced after ``SIGHUP``, retired past its memory limit) ran ``botify serve``'s
clean-up: it removed the embedded Redis's socket, URL file and lock, and every Redis
connection opened after that failed. Here a worker's exit ends its process where it forked.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from gunicorn.arbiter import Arbiter

from botify.serving.service_process import listening_sockets

REPLACEMENT_DEADLINE_S = 60.0


class BotifyArbiter(Arbiter):
    """gunicorn's arbiter, retiring old workers only once their replacements listen."""

    _surplus_since: float | None = None
    _reloading = False

    def spawn_worker(self) -> int:
        """Fork a worker; in the worker, its end exits the process right there."""
        master = os.getpid()
        try:
            return super().spawn_worker()
        except SystemExit as done:
            if os.getpid() == master:
                raise
            _exit_worker(done.code)

    def reload(self) -> None:
        """gunicorn's reload, whose wait for the old workers retires them once ready."""
        self._reloading = True
        try:
            super().reload()
        finally:
            self._reloading = False

    def reap_workers(self) -> None:
        """Reap exited workers; within a reload, also stop the old ones once replaced."""
        super().reap_workers()
        if self._reloading:
            self.manage_workers()

    def manage_workers(self) -> None:
        """Spawn missing workers; stop surplus ones once the replacements are ready."""
        if len(self.WORKERS) > self.num_workers and not self._replacements_ready():
            return
        self._surplus_since = None
        super().manage_workers()

    def _replacements_ready(self) -> bool:
        now = time.monotonic()
        if self._surplus_since is None:
            self._surplus_since = now
        if now - self._surplus_since > REPLACEMENT_DEADLINE_S:
            self.log.warning(
                "replacement workers not listening after %.0f s: stopping the old ones anyway",
                REPLACEMENT_DEADLINE_S,
            )
            return True
        listening = listening_sockets(self.cfg.address[0][1])
        return listening is None or listening >= len(self.WORKERS)


def _exit_worker(code: object) -> None:
    """End a worker process with ``sys.exit``'s status, without unwinding the master's
    frames the fork copied (their ``finally`` clauses clean up the master's resources)."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
