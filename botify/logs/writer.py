"""Writing the JSON-lines event log: one line per answered request (docs/events.md).

Every process appends to files of its own (``events-<host>-<pid>-<start>-<seq>.jsonl``),
so gunicorn workers and replicas never interleave bytes in one file. Each line goes to the
kernel in a single ``write`` on an ``O_APPEND`` descriptor before the answer is sent, and
rotation opens the next segment instead of renaming, so no line is torn, lost or duplicated
when files rotate.

When the log cannot be written (its directory is missing or unwritable, the disk is full,
no descriptor is free) ``write`` raises ``LogUnavailable`` and leaves nothing half-written:
a partly written line is cut off again, so the line of the next request starts on a line
of its own. A segment whose file was deleted (its directory removed while serving) is
replaced by a new one, the directory re-created, so no line goes to an unlinked file. Every
call retries what failed before: the writer recovers by itself when the disk does.
``botify.logs.reader`` reads the files back.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from botify.logs.schema import Event

# /health calls the log unhealthy below this much free space: a few thousand lines.
MIN_FREE_BYTES = 1024 * 1024


class LogUnavailable(Exception):
    """The event log cannot take a line now; ``str()`` says why (for the 503 and /health)."""


class EventLog:
    """Append-only, size-rotated JSON-lines writer owned by one process at a time."""

    def __init__(self, log_dir: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.log_dir = Path(log_dir)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None
        self._size = 0
        self._seq = 0
        self._start = 0
        # Why the last write or check failed; None once one succeeds again.
        self.error: str | None = None

    def _open_segment(self) -> None:
        name = f"events-{socket.gethostname()}-{self._pid}-{self._start}-{self._seq:05d}.jsonl"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.log_dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size

    def _next_segment(self) -> None:
        # Forget the descriptor before closing it: if opening the next segment fails, a
        # later call must not close the same number again (by then it may be another
        # thread's socket).
        fd, self._fd = self._fd, None
        os.close(fd)
        self._seq += 1
        self._open_segment()

    def _ensure_open(self) -> None:
        # After a fork (gunicorn preload) the child must not share the parent's file.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._start = int(time.time() * 1000)
            self._seq = 0
            self._fd = None
        if self._fd is None:
            self._open_segment()
        elif self._size >= self.max_bytes or os.fstat(self._fd).st_nlink == 0:
            # st_nlink 0: the file (or its directory) was deleted; lines written to it
            # would be lost on close.
            self._next_segment()

    def _append(self, line: bytes) -> None:
        """Write ``line`` whole, or cut off what part of it was written and raise."""
        written = 0
        try:
            while written < len(line):
                written += os.write(self._fd, line[written:])
        except OSError:
            if written:
                try:
                    os.ftruncate(self._fd, self._size)
                except OSError:
                    # The torn tail stays in this segment, so the next line goes to a new
                    # one; the reader skips an unterminated last line.
                    fd, self._fd = self._fd, None
                    os.close(fd)
                    self._seq += 1
            raise
        self._size += len(line)

    def _failed(self, e: OSError) -> LogUnavailable:
        self.error = f"cannot write the event log in {self.log_dir}: {e.strerror or e}"
        return LogUnavailable(self.error)

    def write(self, event: Event) -> None:
        """Append one event as one line; returns once the kernel has the whole line.

        Raises ``LogUnavailable`` (with nothing of the line left in the file) when it cannot.
        """
        line = (event.to_json() + "\n").encode()
        with self._lock:
            try:
                self._ensure_open()
                self._append(line)
            except OSError as e:
                raise self._failed(e) from None
            self.error = None

    def check(self) -> str | None:
        """Why the log cannot take lines now (None when it can): its directory exists (it
        is re-created if it was deleted), a file can be created in it (an unnamed one, so no
        empty segment is left behind) and ``MIN_FREE_BYTES`` are free on its file system."""
        with self._lock:
            try:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=self.log_dir):
                    pass
                disk = os.statvfs(self.log_dir)
            except OSError as e:
                return str(self._failed(e))
            if disk.f_bavail * disk.f_frsize < MIN_FREE_BYTES:
                self.error = f"the event log's file system ({self.log_dir}) is full"
                return self.error
            self.error = None
            return None
