"""The gunicorn arbiter of ``botify serve``: listening sockets that stay open while it serves,
and old workers that serve until their replacements are ready.

**Sockets.** Each worker accepts on a socket of its own (``SO_REUSEPORT``) and the kernel
spreads new connections evenly over them: on one shared socket whichever worker woke first
took a connection, and keep-alive clients stayed where they landed (under wrk at 16
connections one worker did up to 59% of the work; with this, 49-51%). But closing such a
socket resets every connection the kernel has queued on it, and a worker that stops
(``SIGHUP``, a crash, its memory limit) closed its own: a reload under load reset about one
connection in 25 runs of the hot-reload test, whatever the worker did before closing. So the
sockets are the arbiter's: one per worker slot, made when it starts and closed when it stops.
A worker accepts on its slot's socket; its replacement takes the same socket, and what the
kernel queued there meanwhile waits for it instead of being reset. The number of slots is
``--workers``: ``TTIN`` / ``TTOU`` (more or fewer workers) are refused with a log line,
since a slot without a worker would hold its connections until the server stops.

**Readiness.** A botify worker takes connections only once its deployed lists are loaded
(``botify.serving.worker``), which takes seconds with large lists; it then says so on a pipe
the arbiter reads. gunicorn's reload spawns the new workers and stops the old ones at once:
here surplus (old) workers are stopped only once every worker that stays is ready, or after
``REPLACEMENT_DEADLINE_S`` if a replacement never gets ready. gunicorn's ``reload`` then
waits for the old workers to exit, for up to ``graceful_timeout``, reaping every 0.1 s, and
its main loop (which would stop them) does not run meanwhile: the old workers were stopped
``graceful_timeout`` (10 s) after every ``SIGHUP``, serving the old lists all along. Here
that wait also stops them as soon as their replacements are ready.

**Exit.** A worker is forked deep inside the master's call stack and gunicorn ends it with
``sys.exit``: the ``SystemExit`` unwound the master's frames in the worker, so a worker that
exited (replaced after ``SIGHUP``, retired past its memory limit) ran ``botify serve``'s
clean-up: it removed the embedded Redis's socket, URL file and lock, and every Redis
connection opened after that failed. Here a worker's exit ends its process where it forked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

from gunicorn import sock
from gunicorn.arbiter import Arbiter

REPLACEMENT_DEADLINE_S = 60.0


class _ReusePort:
    """The server's configuration, with ``SO_REUSEPORT`` on for the slots' sockets (gunicorn's
    own ``reuse_port`` stays off: with it each worker would bind, and close, one itself)."""

    reuse_port = True

    def __init__(self, cfg) -> None:
        self._cfg = cfg

    def __getattr__(self, name: str):
        return getattr(self._cfg, name)


class BotifyArbiter(Arbiter):
    """gunicorn's arbiter with a listening socket per worker slot, retiring old workers only
    once their replacements are ready."""

    _surplus_since: float | None = None
    _reloading = False

    def start(self) -> None:
        """Make one listening socket per worker slot, then start as gunicorn does."""
        self.n_slots = self.num_workers
        self.slot_of: dict[int, int] = {}
        self.ready_pipes: dict[int, int] = {}
        self.ready: set[int] = set()
        self.LISTENERS = [
            listener
            for _ in range(self.num_workers)
            for listener in sock.create_sockets(_ReusePort(self.cfg), self.log)
        ]
        super().start()

    def assign_slot(self, worker) -> None:
        """Before a fork (``pre_fork``): the slot with the fewest workers, and a pipe on which
        the worker says it is ready."""
        serving = [list(self.slot_of.values()).count(slot) for slot in range(self.n_slots)]
        worker.slot = serving.index(min(serving))
        worker.ready_read, worker.ready_write = os.pipe()
        os.set_blocking(worker.ready_read, False)

    def spawn_worker(self) -> int:
        """Fork a worker; in the worker, its end exits the process right there."""
        master = os.getpid()
        try:
            pid = super().spawn_worker()
        except SystemExit as done:
            if os.getpid() == master:
                raise
            _exit_worker(done.code)
        worker = self.WORKERS[pid]
        os.close(worker.ready_write)
        self.slot_of[pid] = worker.slot
        self.ready_pipes[pid] = worker.ready_read
        return pid

    def reload(self) -> None:
        """gunicorn's reload, whose wait for the old workers retires them once replaced."""
        self._reloading = True
        try:
            super().reload()
        finally:
            self._reloading = False

    def reap_workers(self) -> None:
        """Reap exited workers and forget their slots and pipes; within a reload, also stop
        the old workers once replaced."""
        super().reap_workers()
        for pid in [pid for pid in self.slot_of if pid not in self.WORKERS]:
            del self.slot_of[pid]
            self.ready.discard(pid)
            pipe = self.ready_pipes.pop(pid, None)
            if pipe is not None:
                os.close(pipe)
        if self._reloading:
            self.manage_workers()

    def manage_workers(self) -> None:
        """Spawn missing workers; stop surplus ones once the replacements are ready."""
        if len(self.WORKERS) > self.num_workers and not self._replacements_ready():
            return
        self._surplus_since = None
        super().manage_workers()

    def handle_ttin(self) -> None:
        """Refuse: the number of workers is the number of slots (``--workers``)."""
        self.log.warning("botify serve keeps --workers %d workers; TTIN ignored", self.num_workers)

    def handle_ttou(self) -> None:
        """Refuse: a slot without a worker would hold its connections until the end."""
        self.log.warning("botify serve keeps --workers %d workers; TTOU ignored", self.num_workers)

    def _is_ready(self, pid: int) -> bool:
        if pid not in self.ready and pid in self.ready_pipes:
            with contextlib.suppress(BlockingIOError):
                said = os.read(self.ready_pipes[pid], 1)
                # A byte: ready. End of file: the worker closed it without one (it died).
                os.close(self.ready_pipes.pop(pid))
                if said:
                    self.ready.add(pid)
        return pid in self.ready

    def _replacements_ready(self) -> bool:
        now = time.monotonic()
        if self._surplus_since is None:
            self._surplus_since = now
        if now - self._surplus_since > REPLACEMENT_DEADLINE_S:
            self.log.warning(
                "replacement workers not ready after %.0f s: stopping the old ones anyway",
                REPLACEMENT_DEADLINE_S,
            )
            return True
        # gunicorn stops the oldest surplus workers: the youngest are the ones that stay.
        staying = sorted(self.WORKERS, key=lambda pid: self.WORKERS[pid].age)[-self.num_workers :]
        return all(self._is_ready(pid) for pid in staying)


def pre_fork(arbiter: BotifyArbiter, worker) -> None:
    """gunicorn's ``pre_fork`` hook: the worker's slot and readiness pipe."""
    arbiter.assign_slot(worker)


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
